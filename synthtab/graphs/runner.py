"""Starting and resuming runs: everything the CLI, the SDK and the API share.

A run is checked before any work starts (the file reads, the target is a column, every rule
parses and names known columns), then the graph runs with a SQLite checkpointer in the run
directory, so a killed run resumes where it stopped."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from synthtab.agents.workspace import WORK_DIR_NAME, RunPaths
from synthtab.graphs.build import build_graph
from synthtab.io.errors import InputError
from synthtab.io.readers import file_sha256, read_table
from synthtab.io.writers import EXCEL_MAX_DATA_ROWS, to_json_safe, write_json
from synthtab.models.registry import get_model
from synthtab.schema import GenerationRequest, Table
from synthtab.schema.rules import RuleError, compile_rule
from synthtab.tools.conditions import check_seed_columns

EventSink = Callable[[dict[str, Any]], None]
CancelCheck = Callable[[], bool]
GraphFactory = Callable[[SqliteSaver], CompiledStateGraph]
OUTPUT_NAMES = ("schema.json", "report.json", "report.html", "manifest.json")
EXIT_OK = 0
EXIT_INCOMPLETE = 3


class RunOutcome(BaseModel):
    run_id: str
    run_dir: str
    status: str
    exit_code: int
    messages: list[str]
    outputs: dict[str, str]


class RunFailed(Exception):
    """The graph stopped on an error; the run directory keeps its checkpoint for ``resume``."""


def _ignore(_: dict[str, Any]) -> None:
    return None


def snapshot_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns parquet cannot store as they are (mixed Python objects) become text."""
    out = df.copy()
    for name in out.columns:
        if out[name].dtype == object:
            kinds = {type(v) for v in out[name].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str, bytes}):
                out[name] = out[name].map(lambda v: v if pd.isna(v) else str(v)).astype("string")
    return out


def _setting_problems(error: ValueError) -> str:
    """A model's refusal of its settings, one clause per problem, without pydantic's links."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
    return str(error)


def check_request(df: pd.DataFrame, request: GenerationRequest, source: Path) -> None:
    """Everything that can be said wrong about a request before any work starts."""
    if df.shape[1] == 0:
        raise InputError(message="the file has no columns", file=str(source))
    if len(df) == 0:
        raise InputError(message="the file has a header but no data rows", file=str(source))
    columns = [str(c) for c in df.columns]
    if request.target is not None and request.target not in columns:
        raise InputError(
            message=f"--target {request.target!r} is not a column; columns are {columns}",
            file=str(source),
            column=request.target,
        )
    if request.target is not None and df[request.target].isna().all():
        raise InputError(
            message="the target column is empty (all values null)",
            file=str(source),
            column=request.target,
        )
    for flag, names in (("--condition", request.conditions), ("--rebalance", request.rebalance)):
        for name in names:
            if name not in columns:
                raise InputError(
                    message=f"{flag} {name!r} is not a column; columns are {columns}",
                    file=str(source),
                    column=name,
                )
    if request.model_settings:
        try:
            get_model(request.model, **request.model_settings)
        except ValueError as error:  # pydantic's ValidationError is one
            allowed = ", ".join(sorted(get_model(request.model).settings()))
            raise InputError(
                message=f"--model-setting: {request.model} refuses {_setting_problems(error)}; "
                f"its settings are {allowed}"
            ) from error
    rows = request.rows or len(df)
    if request.output_format == "xlsx" and rows > EXCEL_MAX_DATA_ROWS:
        raise InputError(
            message=f"--rows {rows:,} does not fit in one Excel sheet "
            f"({EXCEL_MAX_DATA_ROWS:,} rows at most); choose csv or parquet"
        )
    rules = list(request.rules)
    if request.declaration is not None:
        for table in request.declaration.tables:
            rules.extend(table.rules)
            for column in table.columns:
                if column.name not in columns:
                    raise InputError(
                        message=f"the schema declares column {column.name!r}, which the data "
                        f"does not have; columns are {columns}",
                        column=column.name,
                    )
    for rule in rules:
        try:
            compile_rule(rule.expression, columns, name=rule.name)
        except RuleError as error:
            raise InputError(message=f"rule {rule.name!r} is invalid:\n{error}") from error


def _files_in_manifest(manifest: Path) -> set[str]:
    """Outputs an earlier run listed (a chat run writes one file per table)."""
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8")).get("outputs_sha256", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in listed if isinstance(name, str) and "/" not in name}


def prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(message="--out names a file, not a directory", file=str(out_dir))
    if not out_dir.exists():
        return
    entries = {p.name for p in out_dir.iterdir()}
    ours = {WORK_DIR_NAME, *OUTPUT_NAMES} | {n for n in entries if n.startswith("synthetic.")}
    ours |= _files_in_manifest(out_dir / "manifest.json")
    foreign = sorted(entries - ours)
    if foreign:
        raise InputError(
            message=f"the output directory holds files SynthTab did not write ({', '.join(foreign[:5])}); "
            "choose an empty or new directory",
            file=str(out_dir),
        )
    if entries and not overwrite:
        raise InputError(
            message="the output directory already holds a run; pass --overwrite to replace it, "
            "or `synthtab resume` to continue an unfinished one",
            file=str(out_dir),
        )
    for name in entries:
        target = out_dir / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def read_seed_table(
    request: GenerationRequest, columns: list[str]
) -> tuple[pd.DataFrame | None, GenerationRequest]:
    """The --seed-table's rows, checked against the input's columns and the other flags, and the
    request with its row count set to theirs."""
    if request.seed_table is None:
        return None, request
    file = request.seed_table
    seeds = read_table(Path(file))
    seeds.columns = [str(c) for c in seeds.columns]
    check_seed_columns(seeds, columns, file)
    for flag, names in (("--condition", request.conditions), ("--rebalance", request.rebalance)):
        both = [name for name in names if name in seeds.columns]
        if both:
            raise InputError(
                message=f"--seed-table: column {both[0]!r} is both in the seed table and given "
                f"{flag}; keep one",
                file=file,
                column=both[0],
            )
    if request.rows is not None and request.rows != len(seeds):
        raise InputError(
            message=f"--rows {request.rows:,}: a seed table makes one row per seed row, and it "
            f"has {len(seeds):,}; leave --rows out",
            file=file,
        )
    return seeds, request.model_copy(update={"rows": len(seeds)})


def prepare_run(request: GenerationRequest, out_dir: Path, overwrite: bool = False) -> RunPaths:
    """Validate the request against its data and lay out a new run directory."""
    source = Path(request.source)
    df = read_table(source)
    df.columns = [str(c) for c in df.columns]
    seeds, request = read_seed_table(request, [str(c) for c in df.columns])
    check_request(df, request, source)
    prepare_out_dir(out_dir, overwrite)
    paths = RunPaths(run_dir=out_dir)
    paths.work_dir.mkdir(parents=True, exist_ok=True)
    paths.running_marker.write_text("", encoding="utf-8")
    snapshot_frame(df).to_parquet(paths.input_snapshot)
    if seeds is not None:
        snapshot_frame(seeds).to_parquet(paths.seed_snapshot)
    run = {
        "run_id": uuid.uuid4().hex[:12],
        "request": request.model_dump(mode="json"),
        "input": {
            "file": str(source),
            "table": request.table_name or source.stem.split(".")[0],
            "sha256": file_sha256(source),
            "rows": int(len(df)),
            "columns": int(df.shape[1]),
        },
    }
    if seeds is not None and request.seed_table is not None:
        run["input"]["seed_table"] = {
            "file": request.seed_table,
            "sha256": file_sha256(Path(request.seed_table)),
            "rows": int(len(seeds)),
            "columns": [str(c) for c in seeds.columns],
        }
    write_json(run, paths.request)
    return paths


@contextmanager
def _checkpointer(paths: RunPaths) -> Iterator[SqliteSaver]:
    connection = sqlite3.connect(paths.checkpoint, check_same_thread=False)
    try:
        yield SqliteSaver(connection)
    finally:
        connection.close()


def _remove_real_rows(paths: RunPaths) -> None:
    """A run that will not go on: the work files holding real rows go, and its running mark."""
    for path in paths.sensitive_work_files():
        path.unlink(missing_ok=True)
    paths.running_marker.unlink(missing_ok=True)


def _finish(paths: RunPaths, state: dict[str, Any]) -> RunOutcome:
    _remove_real_rows(paths)
    paths.error.unlink(missing_ok=True)
    status = state.get("status", "incomplete")
    return RunOutcome(
        run_id=state["run_id"],
        run_dir=str(paths.run_dir),
        status=status,
        exit_code=EXIT_OK if status == "complete" else EXIT_INCOMPLETE,
        messages=state.get("messages", []),
        outputs=state.get("outputs", {}),
    )


def _never_cancelled() -> bool:
    return False


def _stopped(paths: RunPaths, run_id: str, status: str, messages: list[str]) -> RunOutcome:
    """A run that stopped before the reporter: cancelled (real rows removed) or waiting."""
    if status == "cancelled":
        _remove_real_rows(paths)
    return RunOutcome(
        run_id=run_id,
        run_dir=str(paths.run_dir),
        status=status,
        exit_code=EXIT_INCOMPLETE,
        messages=messages,
        outputs={},
    )


def execute(
    paths: RunPaths,
    events: EventSink = _ignore,
    *,
    should_cancel: CancelCheck = _never_cancelled,
    answer: Any = None,
    graph_factory: GraphFactory = build_graph,
) -> RunOutcome:
    """Run the graph from its last checkpoint (or from the start) to the end.

    ``should_cancel`` is polled after every node; when it says yes the run stops with status
    ``cancelled``. A node that calls LangGraph's ``interrupt`` stops the run with status
    ``waiting``; calling again with ``answer`` resumes it (``Command(resume=answer)``)."""
    run = json.loads(paths.request.read_text(encoding="utf-8"))
    config = {"configurable": {"thread_id": run["run_id"]}, "recursion_limit": 200}
    cancelled = False
    with _checkpointer(paths) as saver:
        graph = graph_factory(saver)
        snapshot = graph.get_state(config)
        resuming = bool(snapshot.values)
        # a task that finished before the kill has its writes saved but no checkpoint after it:
        # it is listed in tasks, not in next, and the stream below applies its writes and goes on
        if resuming and not snapshot.next and not snapshot.tasks:
            return _finish(paths, dict(snapshot.values))
        graph_input: Any = None if resuming else {**run, "run_dir": str(paths.run_dir)}
        if answer is not None:
            if not snapshot.interrupts:
                raise InputError(message="the run is not waiting for an answer")
            graph_input = Command(resume=answer)
        events(
            {
                "event": "run_resumed" if resuming else "run_started",
                "run_id": run["run_id"],
                "run_dir": str(paths.run_dir),
                "next": list(snapshot.next),
            }
        )
        try:
            for mode, chunk in graph.stream(
                graph_input, config, stream_mode=["tasks", "custom"], durability="sync"
            ):
                if mode == "custom":
                    events(chunk)
                elif "result" in chunk or "error" in chunk:
                    events(
                        {
                            "event": "node_finished",
                            "node": chunk["name"],
                            "error": str(chunk["error"]) if chunk.get("error") else None,
                        }
                    )
                    if should_cancel():
                        cancelled = True
                        break
                else:
                    events({"event": "node_started", "node": chunk["name"]})
        except InputError:
            # the input itself has to change, so nothing can resume this run: its copies of the
            # real rows go, as when a run is cancelled
            _remove_real_rows(paths)
            raise
        except Exception as error:
            write_json({"error": type(error).__name__, "message": str(error)}, paths.error)
            raise RunFailed(f"{type(error).__name__}: {error}") from error
        final = graph.get_state(config)
    if cancelled:
        events({"event": "run_cancelled", "run_dir": str(paths.run_dir)})
        return _stopped(paths, run["run_id"], "cancelled", ["the run was cancelled"])
    if final.interrupts:
        questions = [to_json_safe(item.value) for item in final.interrupts]
        events({"event": "waiting_for_answer", "questions": questions})
        return _stopped(paths, run["run_id"], "waiting", ["the run waits for an answer"])
    state = dict(final.values)
    outcome = _finish(paths, state)
    events({"event": "run_finished", "status": outcome.status, "run_dir": outcome.run_dir})
    return outcome


def start_run(
    request: GenerationRequest, out_dir: Path, events: EventSink = _ignore, overwrite: bool = False
) -> RunOutcome:
    return execute(prepare_run(request, out_dir, overwrite), events)


def resume_run(
    run_dir: Path,
    events: EventSink = _ignore,
    *,
    should_cancel: CancelCheck = _never_cancelled,
    answer: Any = None,
    graph_factory: GraphFactory = build_graph,
) -> RunOutcome:
    paths = RunPaths(run_dir=run_dir)
    if not paths.request.exists():
        raise InputError(
            message="not a SynthTab run directory (no .synthtab/request.json)", file=str(run_dir)
        )
    if paths.manifest.exists() and not paths.running_marker.exists():
        raise InputError(
            message="this run has already finished; nothing to resume", file=str(run_dir)
        )
    if not paths.input_snapshot.exists():
        raise InputError(
            message="the run's input snapshot is gone; start a new run", file=str(run_dir)
        )
    return execute(
        paths, events, should_cancel=should_cancel, answer=answer, graph_factory=graph_factory
    )


def table_of(run_dir: Path) -> Table:
    return Table.model_validate(json.loads((run_dir / "schema.json").read_text())["tables"][0])
