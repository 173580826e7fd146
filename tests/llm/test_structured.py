"""structured() and choose_tool() over a scripted model: parsing, validation feedback, checks,
bounded attempts."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from synthtab.llm import (
    ChatMessage,
    ChatModel,
    LLMOutputError,
    choose_tool,
    extract_json,
    structured,
    tool_name,
    with_system_note,
)

from .fakes import ScriptedChatModel


class Person(BaseModel):
    name: str
    age: int = Field(ge=0, le=120)


class AddRule(BaseModel):
    """Add a business rule to a table."""

    table: str
    rule: str


class DropTable(BaseModel):
    """Remove a table from the schema."""

    table: str


ASK = [ChatMessage(role="user", content="Invent a person.")]


def test_scripted_model_satisfies_the_protocol() -> None:
    assert isinstance(ScriptedChatModel([]), ChatModel)


def test_plain_json_answer_parses_in_one_call_with_the_output_schema() -> None:
    model = ScriptedChatModel(['{"name": "Ada", "age": 36}'])
    person = structured(model, ASK, Person, max_tokens=77)
    assert person == Person(name="Ada", age=36)
    assert len(model.calls) == 1
    assert model.calls[0].json_schema == Person.model_json_schema()
    assert model.calls[0].max_tokens == 77
    assert model.calls[0].messages == ASK


@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"name": "Ada", "age": 36}\n```',
        'Sure! Here is the person:\n{"name": "Ada", "age": 36}\nHope that helps.',
        'Here:\n```\n{"name": "Ada", "age": 36}\n```',
    ],
)
def test_code_fences_and_prose_around_the_json_are_stripped(answer: str) -> None:
    assert structured(ScriptedChatModel([answer]), ASK, Person) == Person(name="Ada", age=36)


def test_extract_json_keeps_braces_inside_strings() -> None:
    assert extract_json('note {"rule": "a {b} c", "n": [1, {"x": 2}]} end') == {
        "rule": "a {b} c",
        "n": [1, {"x": 2}],
    }


def test_extract_json_reports_a_truncated_answer() -> None:
    with pytest.raises(ValueError, match="stops before it is complete"):
        extract_json('{"name": "Ada", "ag')


def test_validation_errors_are_sent_back_and_the_retry_succeeds() -> None:
    model = ScriptedChatModel(['{"name": "Ada", "age": 300}', '{"name": "Ada", "age": 36}'])
    assert structured(model, ASK, Person) == Person(name="Ada", age=36)
    assert len(model.calls) == 2
    retry = model.calls[1].messages
    assert retry[: len(ASK)] == ASK
    assert retry[-2] == ChatMessage(role="assistant", content='{"name": "Ada", "age": 300}')
    assert retry[-1].role == "user"
    assert "age: Input should be less than or equal to 120" in retry[-1].content


def test_unparseable_answer_is_fed_back() -> None:
    model = ScriptedChatModel(["I cannot do that.", '{"name": "Bo", "age": 5}'])
    assert structured(model, ASK, Person).name == "Bo"
    assert "contains no JSON object" in model.calls[1].messages[-1].content


def test_check_problems_are_fed_back_until_the_check_passes() -> None:
    def adult_only(person: Person) -> list[str]:
        return [] if person.age >= 18 else [f"age {person.age} is under 18; pick an adult"]

    model = ScriptedChatModel(['{"name": "Bo", "age": 5}', '{"name": "Bo", "age": 40}'])
    assert structured(model, ASK, Person, check=adult_only).age == 40
    assert "age 5 is under 18; pick an adult" in model.calls[1].messages[-1].content


def test_attempts_are_bounded_and_every_problem_is_reported() -> None:
    model = ScriptedChatModel(['{"name": "A"}', '{"name": "A", "age": -1}', "nothing"])
    with pytest.raises(LLMOutputError) as raised:
        structured(model, ASK, Person, max_attempts=3)
    assert len(model.calls) == 3
    attempts = raised.value.attempts
    assert attempts[0] == ["age: Field required"]
    assert attempts[1] == ["age: Input should be greater than or equal to 0"]
    assert attempts[2] == ["the answer contains no JSON object"]
    assert "scripted gave no usable Person in 3 attempts" in str(raised.value)
    assert "attempt 2: age: Input should be greater than or equal to 0" in str(raised.value)


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        structured(ScriptedChatModel([]), ASK, Person, max_attempts=0)


def test_schema_in_prompt_joins_the_existing_system_message() -> None:
    messages = [ChatMessage(role="system", content="Be brief."), *ASK]
    model = ScriptedChatModel(['{"name": "Ada", "age": 36}'])
    structured(model, messages, Person, schema_in_prompt=True)
    sent = model.calls[0].messages
    assert [message.role for message in sent] == ["system", "user"]
    assert sent[0].content.startswith("Be brief.")
    assert '"maximum":120' in sent[0].content


def test_with_system_note_creates_a_system_message_once() -> None:
    once = with_system_note(ASK, "note")
    assert [m.role for m in once] == ["system", "user"]
    assert with_system_note(once, "note") == once


def test_choose_tool_returns_the_chosen_tools_arguments() -> None:
    answer = '{"call": {"tool": "drop_table", "arguments": {"table": "legacy_orders"}}}'
    model = ScriptedChatModel([answer])
    chosen = choose_tool(model, [ChatMessage(role="user", content="drop it")], [AddRule, DropTable])
    assert chosen == DropTable(table="legacy_orders")
    system_note = model.calls[0].messages[0].content
    assert "- add_rule: Add a business rule to a table." in system_note
    assert "- drop_table: Remove a table from the schema." in system_note
    schema = model.calls[0].json_schema
    assert schema is not None and "discriminator" in schema["properties"]["call"]


def test_choose_tool_retries_an_unknown_tool() -> None:
    model = ScriptedChatModel(
        [
            '{"call": {"tool": "format_disk", "arguments": {}}}',
            '{"call": {"tool": "add_rule", "arguments": {"table": "t", "rule": "a > 0"}}}',
        ]
    )
    chosen = choose_tool(model, ASK, [AddRule, DropTable])
    assert chosen == AddRule(table="t", rule="a > 0")
    assert "format_disk" in model.calls[1].messages[-1].content


def test_choose_tool_with_a_single_tool() -> None:
    model = ScriptedChatModel(['{"call": {"tool": "drop_table", "arguments": {"table": "x"}}}'])
    assert choose_tool(model, ASK, [DropTable]) == DropTable(table="x")


def test_choose_tool_rejects_duplicate_or_missing_tools() -> None:
    with pytest.raises(ValueError, match="at least one tool"):
        choose_tool(ScriptedChatModel([]), ASK, [])
    with pytest.raises(ValueError, match="unique"):
        choose_tool(ScriptedChatModel([]), ASK, [DropTable, DropTable])


def test_tool_name_is_snake_case_or_the_title() -> None:
    class RenameColumn(BaseModel):
        model_config = {"title": "rename"}

    assert tool_name(AddRule) == "add_rule"
    assert tool_name(RenameColumn) == "rename"
