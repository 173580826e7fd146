"""Vocabularies for text and category columns that neither the proposal nor a template fills:
one LLM call per batch of columns, so 10,000 rows cost the same few calls as 10 rows.

The values are examples to draw from, never constraints; they are cleaned (trimmed, de-duplicated,
length-capped) in Python before use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field

from synthtab.agents.progress import emit_progress
from synthtab.llm import ChatMessage, ChatModel, LLMOutputError, render_prompt, structured
from synthtab.schema import Column, Schema, SemanticType
from synthtab.schema.chat_request import ChatRequest

NODE = "vocabulary"
BATCH = 8
MAX_VALUE_LENGTH = 120
MIN_VALUES = 3


MAX_VALUES = 20
# bounds the constrained decoder enforces: a small model that starts repeating itself stops at
# them instead of running past its token limit (a movie-title list once did, three times over)
VALUE_CHARACTERS = 60
TOKENS_PER_COLUMN = 320


class ColumnValues(BaseModel):
    key: str
    values: list[Annotated[str, Field(max_length=VALUE_CHARACTERS)]] = Field(
        default_factory=list, max_length=MAX_VALUES
    )


class VocabularyAnswer(BaseModel):
    columns: list[ColumnValues] = Field(max_length=BATCH)


def needs_vocabulary(column: Column) -> bool:
    if column.semantic not in {SemanticType.text, SemanticType.categorical}:
        return False
    return not (column.allowed_values or column.examples or column.fake)


def clean_values(values: Sequence[str]) -> list[str]:
    cleaned = []
    for value in values:
        text = " ".join(str(value).split())[:MAX_VALUE_LENGTH]
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


def _ask(llm: ChatModel, purpose: str, items: list[dict[str, str]]) -> dict[str, list[str]]:
    prompt = render_prompt("fill_vocabulary", purpose=purpose, columns=items)
    answer = structured(
        llm,
        [ChatMessage(role="user", content=prompt)],
        VocabularyAnswer,
        max_tokens=100 + TOKENS_PER_COLUMN * len(items),
        max_attempts=2,
    )
    return {c.key: clean_values(c.values) for c in answer.columns}


def fill_vocabularies(state: dict[str, Any], llm: ChatModel) -> dict[str, Any]:
    chat = ChatRequest.model_validate(state["chat"])
    schema = Schema.model_validate(state["schema"])
    wanted = [
        {
            "key": f"{t.name}.{c.name}",
            "table": t.name,
            "column": c.name,
            "description": c.description or "",
        }
        for t in schema.tables
        for c in t.columns
        if needs_vocabulary(c)
    ]
    found: dict[str, list[str]] = {}
    notes: list[str] = []
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        emit_progress(NODE, f"asking {llm.name} for values of {len(batch)} column(s)")
        try:
            found.update(_ask(llm, chat.text, batch))
        except LLMOutputError as error:
            notes.append(f"no vocabulary for {[i['key'] for i in batch]}: {error}")
    tables = []
    filled = 0
    for table in schema.tables:
        columns = []
        for column in table.columns:
            values = found.get(f"{table.name}.{column.name}", [])
            if needs_vocabulary(column) and len(values) >= MIN_VALUES:
                column = column.model_copy(
                    update={
                        "examples": values,
                        "evidence": [*column.evidence, f"examples written by {llm.name}"],
                    }
                )
                filled += 1
            columns.append(column)
        tables.append(table.model_copy(update={"columns": columns}))
    missing = [i["key"] for i in wanted if len(found.get(i["key"], [])) < MIN_VALUES]
    if missing:
        notes.append(f"columns left to the default generator (no usable LLM values): {missing}")
    return {
        "schema": Schema(tables=tables).model_dump(mode="json", exclude_none=True),
        "llm_calls": state.get("llm_calls", 0) + (len(wanted) + BATCH - 1) // BATCH,
        "messages": [f"vocabulary: {filled} of {len(wanted)} column(s) filled by the LLM", *notes],
    }
