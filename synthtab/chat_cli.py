"""``synthtab chat``: describe the data you need; confirm or answer; get the files."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from synthtab.agents.workspace import RunPaths
from synthtab.graphs.chat import default_template_search, prepare_chat, run_chat
from synthtab.graphs.runner import RunFailed, RunOutcome
from synthtab.io.dataset_writers import parse_formats
from synthtab.io.errors import InputError
from synthtab.schema.chat_request import DATASET_FORMATS, ChatRequest
from synthtab.schema.request import explain_request_error

EXIT_INPUT_ERROR = 1
EXIT_NOT_FINISHED = 3
EXIT_RUN_FAILED = 4
ACCEPT_HINT = "Enter accepts; or type an answer / a change; 'no' cancels"
# the chat command's option for each ChatRequest field, so an invalid value is reported by the
# name the user typed
CHAT_FLAGS = {
    "text": "the request",
    "formats": "--format",
    "seed": "--seed",
    "database_url": "--db",
}


def add_chat_parser(commands: Any) -> None:
    chat = commands.add_parser(
        "chat", help="describe the data you need in plain language; get a schema and the data"
    )
    chat.add_argument("request", nargs="*", help="what you need (omit to be asked)")
    chat.add_argument("--out", help="folder to write the dataset into")
    chat.add_argument(
        "--format",
        help=f"comma-separated: {', '.join(DATASET_FORMATS)} (default: as the request says, else csv)",
    )
    chat.add_argument("--yes", action="store_true", help="accept the proposal without questions")
    chat.add_argument("--seed", type=int, default=0)
    chat.add_argument("--db", help="also load the tables into this SQLAlchemy database URL")
    chat.add_argument(
        "--overwrite", action="store_true", help="replace an earlier dataset in --out"
    )
    chat.add_argument(
        "--resume", metavar="DIR", help="continue a chat run that waits for an answer"
    )
    chat.add_argument("--answer", help="with --resume: the answer ('yes' accepts the proposal)")
    output = chat.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")
    output.add_argument("--json", action="store_true", help="print events as JSON lines")


class _Events:
    """Prints progress and keeps the question a waiting run asks."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.waiting: dict[str, Any] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "waiting_for_answer":
            questions = event.get("questions") or [{}]
            self.waiting = questions[0] if isinstance(questions[0], dict) else {}
        if self.args.json:
            print(json.dumps(event, default=str), flush=True)
        elif not self.args.quiet and event.get("event") == "progress":
            print(f"  · {event['node']:<10} {event['message']}", file=sys.stderr, flush=True)


def _show_proposal(waiting: dict[str, Any]) -> None:
    lines = waiting.get("proposal") or []
    if lines:
        print("Proposed dataset:", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
    for question in waiting.get("questions") or []:
        print(f"? {question}", file=sys.stderr)


def _request_text(args: argparse.Namespace, ask: Callable[[str], str]) -> str:
    text = " ".join(args.request).strip()
    if text:
        return text
    if not sys.stdin.isatty():
        raise InputError(message='say what data you need: synthtab chat "customers and orders"')
    return ask("What data do you need? ").strip()


def _finish(outcome: RunOutcome, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps({"event": "outcome", **outcome.model_dump()}), flush=True)
    elif not args.quiet or outcome.exit_code:
        print(f"{outcome.status.upper()}: {outcome.run_dir}", file=sys.stderr)
        for name in outcome.outputs:
            print(f"  {name}", file=sys.stderr)
        if outcome.status != "complete":
            for message in outcome.messages[-3:]:
                print(f"  ! {message}", file=sys.stderr)
    return outcome.exit_code


def _one_index() -> Callable[[], Any]:
    """The template index is built once per command, however many times the user answers."""
    built: list[Any] = []

    def search() -> Any:
        if not built:
            built.append(default_template_search())
        return built[0]

    return search


def run_chat_cli(args: argparse.Namespace, ask: Callable[[str], str] = input) -> int:
    from synthtab.llm import LLMUnavailable, get_chat_model

    events = _Events(args)
    try:
        if args.resume:
            paths = RunPaths(run_dir=Path(args.resume))
            answer: Any = args.answer if args.answer is not None else "yes"
        else:
            if not args.out:
                raise InputError(message="give --out DIR, the folder to write the dataset into")
            chat = ChatRequest(
                text=_request_text(args, ask),
                formats=parse_formats(args.format) if args.format else None,
                seed=args.seed,
                assume_yes=args.yes,
                database_url=args.db,
            )
            paths = prepare_chat(chat, Path(args.out), overwrite=args.overwrite)
            answer = None
        llm = get_chat_model()
        search = _one_index()
        interactive = sys.stdin.isatty() and not args.json
        while True:
            events.waiting = None
            outcome = run_chat(paths, llm, events, answer=answer, template_search=search)
            if outcome.status != "waiting" or events.waiting is None:
                return _finish(outcome, args)
            if args.json:
                return EXIT_NOT_FINISHED
            _show_proposal(events.waiting)
            if not interactive:
                print(
                    f"the run waits for an answer: synthtab chat --resume {paths.run_dir} "
                    "--answer 'yes' (or your answer)",
                    file=sys.stderr,
                )
                return EXIT_NOT_FINISHED
            answer = ask(f"{ACCEPT_HINT}: ")
    except LLMUnavailable as error:
        print(f"error: no LLM available: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except ValidationError as error:
        print(f"error: invalid request: {explain_request_error(error, ChatRequest, CHAT_FLAGS)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_INPUT_ERROR
    except RunFailed as error:
        print(f"error: the chat run failed: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
