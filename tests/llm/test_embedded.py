"""The real path: the embedded Qwen2.5-Coder-1.5B model, assembled from its installed part
packages, answering small structured prompts in-process. Nothing is skipped: without the model
these tests fail, because without it SynthTab's chat does not work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from synthtab.llm import (
    ChatMessage,
    EmbeddedChatModel,
    LLMSettings,
    LLMTimeout,
    LLMUnavailable,
    ModelFileError,
    choose_tool,
    get_chat_model,
    render_prompt,
    settings_from_env,
    structured,
)
from synthtab.llm.__main__ import main as smoke_check


class ForeignKeySketch(BaseModel):
    column: str
    references_table: str


class TableSketch(BaseModel):
    name: str
    columns: list[str] = Field(min_length=2, max_length=4)
    primary_key: str
    foreign_keys: list[ForeignKeySketch] = Field(max_length=2)


class SchemaSketch(BaseModel):
    tables: list[TableSketch] = Field(min_length=2, max_length=3)


def sketch_problems(sketch: SchemaSketch) -> list[str]:
    """Consistency no JSON schema can express: keys name real columns and tables."""
    problems = []
    names = {table.name for table in sketch.tables}
    for table in sketch.tables:
        if table.primary_key not in table.columns:
            problems.append(f"table {table.name}: primary key {table.primary_key} is not a column")
        for key in table.foreign_keys:
            if key.column not in table.columns:
                problems.append(f"table {table.name}: foreign key {key.column} is not a column")
            if key.references_table not in names:
                problems.append(
                    f"table {table.name}: foreign key {key.column} points to "
                    f"{key.references_table}, which is not one of the tables; remove that "
                    "foreign key"
                )
    return problems


class AddRule(BaseModel):
    """Add a business rule (a condition every row must meet) to a table."""

    table: str
    rule: str


class DropTable(BaseModel):
    """Remove a whole table from the schema."""

    table: str


class RenameColumn(BaseModel):
    """Give a column of a table a new name."""

    table: str
    old_name: str
    new_name: str


@pytest.fixture(scope="module")
def embedded() -> EmbeddedChatModel:
    model = get_chat_model(settings_from_env({}).model_copy(update={"timeout_s": 600.0}))
    assert isinstance(model, EmbeddedChatModel)
    return model


def test_the_default_model_is_the_verified_qwen_file(embedded: EmbeddedChatModel) -> None:
    assert embedded.name == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert embedded.model_path.stat().st_size == 1_117_320_768


def test_a_customers_and_orders_request_becomes_a_linked_two_table_sketch(
    embedded: EmbeddedChatModel,
) -> None:
    request = "customers and the orders they place"
    messages = [ChatMessage(role="user", content=render_prompt("schema_sketch", request=request))]
    sketch = structured(embedded, messages, SchemaSketch, check=sketch_problems, max_tokens=300)
    assert sketch_problems(sketch) == []
    by_name = {table.name.lower(): table for table in sketch.tables}
    customers = next(table for name, table in by_name.items() if "customer" in name)
    orders = next(table for name, table in by_name.items() if "order" in name)
    assert [key.references_table for key in orders.foreign_keys] == [customers.name]


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("Delete the table legacy_orders, we do not need it.", DropTable(table="legacy_orders")),
        (
            "In the employees table, every salary must be greater than 0.",
            AddRule,
        ),
    ],
)
def test_choose_tool_picks_the_obvious_tool(
    embedded: EmbeddedChatModel, instruction: str, expected: BaseModel | type[BaseModel]
) -> None:
    messages = [ChatMessage(role="user", content=instruction)]
    chosen = choose_tool(embedded, messages, [AddRule, DropTable, RenameColumn], max_tokens=120)
    if isinstance(expected, BaseModel):
        assert chosen == expected
    else:
        assert isinstance(chosen, expected)
        assert isinstance(chosen, AddRule) and chosen.table == "employees"
        assert "salary" in chosen.rule


def test_answers_are_deterministic(embedded: EmbeddedChatModel) -> None:
    messages = [ChatMessage(role="user", content="Name three fruits as a JSON list of strings.")]
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3}
    first = embedded.complete(messages, max_tokens=30, json_schema=schema)
    assert embedded.complete(messages, max_tokens=30, json_schema=schema) == first


def test_the_deadline_stops_a_long_answer(embedded: EmbeddedChatModel) -> None:
    impatient = EmbeddedChatModel(
        embedded.settings.model_copy(update={"timeout_s": 0.5}), embedded.model_path
    )
    messages = [ChatMessage(role="user", content="Count from 1 to 500, one number per line.")]
    started = time.monotonic()
    with pytest.raises(LLMTimeout, match="did not answer within 0.5 s"):
        impatient.complete(messages, max_tokens=300)
    assert time.monotonic() - started < 10  # cut at the deadline, not after 300 tokens


def test_a_prompt_longer_than_the_context_is_a_clear_error(embedded: EmbeddedChatModel) -> None:
    context = embedded.settings.context_tokens
    # two tokens a repeat: twice the context, refused before any token is evaluated
    messages = [ChatMessage(role="user", content="customer order " * context)]
    with pytest.raises(
        LLMUnavailable, match=f"cannot take this request: .*context {context} tokens"
    ):
        embedded.complete(messages, max_tokens=10)


def test_the_smoke_check_answers(capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke_check() == 0
    printed = capsys.readouterr().out
    assert "backend: embedded" in printed
    assert 'answer: {"colour":' in printed


def test_a_model_path_that_is_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("hello")
    settings = LLMSettings(backend="embedded", model_path=not_a_model)
    with pytest.raises(ModelFileError, match="could not load .*notes.gguf as a GGUF model"):
        get_chat_model(settings)
    with pytest.raises(ModelFileError, match="SYNTHTAB_LLM_MODEL_PATH points to .*missing.gguf"):
        get_chat_model(LLMSettings(backend="embedded", model_path=tmp_path / "missing.gguf"))
