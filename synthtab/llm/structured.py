"""Answers as validated pydantic objects, and tool choice, on top of any ChatModel.

The backend constrains decoding to the JSON schema where it can; this module still parses
defensively (code fences, leading prose), validates with pydantic (llama.cpp drops
``minimum``/``maximum``), runs the caller's own checks, and sends every problem back to the
model for a bounded number of attempts. Nothing the model says is ever executed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, Field, ValidationError, create_model

from synthtab.llm.errors import LLMOutputError
from synthtab.llm.messages import ChatMessage, ChatModel, assistant, user, with_system_note
from synthtab.llm.prompts import render_prompt

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text``, ignoring code fences and prose around it.

    Raises ``ValueError`` with a message meant for the model when there is none.
    """
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1), text] if fenced else [text]
    decoder = json.JSONDecoder()
    first_error: json.JSONDecodeError | None = None
    failed_candidate, failed_start = "", 0
    for candidate in candidates:
        for start, char in enumerate(candidate):
            if char not in "{[":
                continue
            try:
                value, _ = decoder.raw_decode(candidate, start)
                return value
            except json.JSONDecodeError as error:
                if first_error is None:
                    first_error, failed_candidate, failed_start = error, candidate, start
                break  # the first opening bracket is the answer's start; a later one is inside it
    if first_error is None:
        raise ValueError("the answer contains no JSON object")
    if _ends_inside_json(failed_candidate, failed_start):
        raise ValueError("the JSON stops before it is complete (the answer may be too long)")
    raise ValueError(f"the answer is not valid JSON: {first_error.msg} at char {first_error.pos}")


def _ends_inside_json(text: str, start: int) -> bool:
    """Whether the text ends with a string or a bracket still open: the answer was cut off."""
    depth, in_string, escaped = 0, False, False
    for char in text[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return False
    return depth > 0 or in_string


def validation_problems(error: ValidationError) -> list[str]:
    """pydantic's errors as short lines the model can act on: ``tables.0.name: Field required``."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "the answer"
        problems.append(f"{where}: {item['msg']}")
    return problems


def structured(
    model: ChatModel,
    messages: Sequence[ChatMessage],
    output: type[T],
    *,
    check: Callable[[T], list[str]] | None = None,
    max_attempts: int = 3,
    max_tokens: int = 1024,
    schema_in_prompt: bool = False,
) -> T:
    """The model's answer as an ``output`` instance that validates and passes ``check``.

    ``check`` returns problems in words (empty when the answer is fine): ranges, rules, anything
    pydantic cannot see. ``schema_in_prompt`` also shows the model the JSON schema (field
    descriptions help it choose what to write; costs prompt tokens). Raises ``LLMOutputError``
    with every attempt's problems when ``max_attempts`` answers were all unusable.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    json_schema = output.model_json_schema()
    conversation = list(messages)
    if schema_in_prompt:
        compact = json.dumps(json_schema, separators=(",", ":"))
        conversation = with_system_note(conversation, render_prompt("json_reply", schema=compact))
    attempts: list[list[str]] = []
    for _ in range(max_attempts):
        answer = model.complete(conversation, max_tokens=max_tokens, json_schema=json_schema)
        value, problems = _parse(answer, output)
        if value is not None and check is not None:
            problems = list(check(value))
        if value is not None and not problems:
            return value
        attempts.append(problems)
        conversation = [
            *conversation,
            assistant(answer),
            user(render_prompt("fix_output", problems=problems)),
        ]
    raise LLMOutputError(
        f"{model.name} gave no usable {output.__name__} in {max_attempts} attempts", attempts
    )


def _parse(answer: str, output: type[T]) -> tuple[T | None, list[str]]:
    try:
        data = extract_json(answer)
    except ValueError as error:
        return None, [str(error)]
    try:
        return output.model_validate(data), []
    except ValidationError as error:
        return None, validation_problems(error)


def tool_name(tool: type[BaseModel]) -> str:
    """A tool's name: its model title if set, else its class name in snake_case."""
    title = tool.model_config.get("title")
    if title:
        return str(title)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", tool.__name__).lower()


def tool_description(tool: type[BaseModel]) -> str:
    # The class's own docstring only: inspect.getdoc would inherit BaseModel's.
    doc = tool.__dict__.get("__doc__") or ""
    first_paragraph = doc.strip().split("\n\n")[0]
    return " ".join(first_paragraph.split()) or f"fields: {', '.join(tool.model_fields)}"


def choose_tool(
    model: ChatModel,
    messages: Sequence[ChatMessage],
    tools: Sequence[type[BaseModel]],
    *,
    max_attempts: int = 3,
    max_tokens: int = 512,
) -> BaseModel:
    """The arguments of the tool the model picks for the conversation, as that tool's model.

    Structured output over a union discriminated by the tool's name, rather than the API's
    tool_choice="auto", which small local models do not follow.
    """
    if not tools:
        raise ValueError("choose_tool needs at least one tool")
    names = [tool_name(tool) for tool in tools]
    if len(set(names)) != len(names):
        raise ValueError(f"tool names must be unique, got {names}")
    calls = [
        create_model(
            f"use_{name}",
            tool=(Literal[name], Field(description=tool_description(tool))),  # type: ignore[valid-type]
            arguments=(tool, ...),
        )
        for name, tool in zip(names, tools, strict=True)
    ]
    call_type: Any = (
        calls[0]
        if len(calls) == 1  # a discriminator needs a union of two or more
        else Annotated[Union[tuple(calls)], Field(discriminator="tool")]  # noqa: UP007
    )
    choice_model = create_model("ToolChoice", call=(call_type, ...))
    listing = [
        {"name": name, "description": tool_description(tool)}
        for name, tool in zip(names, tools, strict=True)
    ]
    prompted = with_system_note(messages, render_prompt("choose_tool", tools=listing))
    choice = structured(
        model, prompted, choice_model, max_attempts=max_attempts, max_tokens=max_tokens
    )
    chosen: BaseModel = choice.call.arguments  # type: ignore[attr-defined]
    return chosen
