"""The chat planner's branches, pinned with a scripted stand-in for the LLM (the real model runs
in tests/end_to_end/test_chat_cli.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from synthtab.agents.schema_planner import (
    MAX_UNSTATED_ROWS,
    VAGUE_QUESTION,
    PlanningFailed,
    _answer_text,
    plan_schema,
    propose_schema,
    request_is_vague,
)
from synthtab.llm import ChatMessage

if TYPE_CHECKING:
    from ..conftest import ScriptedLLM


def _proposal(
    reference: str = "customers.customer_id", rules: list[str] | None = None
) -> dict[str, Any]:
    return {
        "tables": [
            {
                "name": "customers",
                "rows": 10,
                "columns": [
                    {"name": "customer_id", "type": "id"},
                    {"name": "email", "type": "email"},
                ],
            },
            {
                "name": "orders",
                "columns": [
                    {"name": "order_id", "type": "id"},
                    {"name": "customer_id", "type": "id", "references": reference},
                    {"name": "amount", "type": "money", "min": 1, "max": 100},
                ],
                "rules": rules or [],
            },
        ],
        "questions": [],
    }


def _ask() -> list[ChatMessage]:
    return [ChatMessage(role="user", content="customers and orders")]


def test_a_proposal_with_problems_is_sent_back_with_them(scripted_llm: type[ScriptedLLM]) -> None:
    llm = scripted_llm([_proposal(reference="customers.email"), _proposal()])
    proposal, notes, calls = propose_schema(llm, _ask(), attempts=3)
    assert calls == 2 and notes == []
    assert [t.name for t in proposal.tables] == ["customers", "orders"]
    feedback = llm.asked[1][-1].content
    assert "reference the primary key customers.customer_id instead" in feedback


def test_a_rule_that_stays_wrong_is_dropped_and_reported(scripted_llm: type[ScriptedLLM]) -> None:
    llm = scripted_llm([_proposal(rules=["total > 0", "amount >= 1"])] * 2)
    proposal, notes, calls = propose_schema(llm, _ask(), attempts=2)
    assert calls == 2
    assert proposal.tables[1].rules == ["amount >= 1"]
    assert len(notes) == 1 and "total > 0" in notes[0]


def test_a_structural_problem_that_stays_fails_the_plan(scripted_llm: type[ScriptedLLM]) -> None:
    llm = scripted_llm([_proposal(reference="customers.email")] * 2)
    with pytest.raises(PlanningFailed, match="no valid schema in 2 attempts"):
        propose_schema(llm, _ask(), attempts=2)


def test_a_vague_request_gets_a_question_not_a_guess(scripted_llm: type[ScriptedLLM]) -> None:
    assert request_is_vague("I need some data please")
    assert not request_is_vague("patients and their hospital visits")
    llm = scripted_llm([])
    update = plan_schema({"chat": {"text": "I need some test data"}}, llm=llm)
    assert update["questions"] == [VAGUE_QUESTION] and update["schema"] is None
    assert llm.asked == []
    with pytest.raises(PlanningFailed, match="does not say what the data is about"):
        plan_schema({"chat": {"text": "some data", "assume_yes": True}}, llm=llm)


def test_counts_in_the_request_win_over_the_llm(scripted_llm: type[ScriptedLLM]) -> None:
    llm = scripted_llm([_proposal()])
    state = {"chat": {"text": "customers and their orders: 25 customers and 400 orders"}}
    update = plan_schema(state, llm=llm)
    tables = {t["name"]: t["row_count"] for t in update["schema"]["tables"]}
    assert tables == {"customers": 25, "orders": 400}
    assert "customers=25" in llm.asked[0][-1].content


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("", (True, None)),
        ("yes", (True, None)),
        ("no", (False, None)),
        ("one sale holds several products", (False, "one sale holds several products")),
        ({"accept": True}, (True, None)),
        ({"answer": "add a returns table"}, (False, "add a returns table")),
    ],
)
def test_answers_accept_decline_or_say_more(answer: Any, expected: tuple[bool, str | None]) -> None:
    assert _answer_text(answer) == expected


def _template(name: str) -> dict[str, Any]:
    from synthtab.tools.templates import load_templates

    template = next(t for t in load_templates() if t.name == name)
    return {
        "name": template.name,
        "distance": 0.2,
        "schema": template.schema_.model_dump(mode="json"),
    }


def test_no_table_proposed_asks_or_with_yes_uses_the_nearest_template(
    scripted_llm: type[ScriptedLLM],
) -> None:
    empty = {"tables": [], "questions": ["What does the shop sell?"]}
    state = {
        "chat": {"text": "test data for a small online shop"},
        "templates": [_template("ecommerce_orders")],
    }
    update = plan_schema(state, llm=scripted_llm([empty]))
    assert update["schema"] is None and update["questions"] == ["What does the shop sell?"]

    state["chat"]["assume_yes"] = True
    update = plan_schema(state, llm=scripted_llm([empty]))
    tables = [t["name"] for t in update["schema"]["tables"]]
    assert {"customers", "orders", "order_items"} <= set(tables)
    assert any("nearest template 'ecommerce_orders'" in m for m in update["messages"])


def test_a_named_table_the_llm_left_out_is_added_from_its_template(
    scripted_llm: type[ScriptedLLM],
) -> None:
    left_out = {
        "tables": [
            {"name": "policies", "template_table": "insurance_claims.policies"},
            {"name": "claims", "template_table": "insurance_claims.claims"},
        ]
    }
    state = {
        "chat": {"text": "insurance policies and claims for 150 policyholders", "assume_yes": True},
        "templates": [_template("insurance_claims")],
    }
    llm = scripted_llm([left_out])
    update = plan_schema(state, llm=llm)
    tables = {t["name"]: t for t in update["schema"]["tables"]}
    assert set(tables) == {"policyholders", "policies", "claims"}
    assert tables["policyholders"]["row_count"] == 150
    policy_keys = {fk["ref_table"] for fk in tables["policies"]["foreign_keys"]}
    assert "policyholders" in policy_keys
    assert len(llm.asked) == 1
    assert any("'policyholders'" in m and "left it out" in m for m in update["messages"])


def _readings_only() -> dict[str, Any]:
    return {
        "tables": [
            {
                "name": "readings",
                "columns": [
                    {"name": "reading_id", "type": "id"},
                    {"name": "kwh", "type": "decimal", "min": 0, "max": 5},
                ],
            }
        ]
    }


def test_a_named_table_without_a_template_is_written_in_a_call_of_its_own(
    scripted_llm: type[ScriptedLLM],
) -> None:
    households = {
        "name": "households",
        "columns": [
            {"name": "household_id", "type": "id"},
            {"name": "city", "type": "city"},
        ],
    }
    text = "hourly consumption readings of 25 households"
    llm = scripted_llm([_readings_only(), households])
    proposal, notes, calls = propose_schema(
        llm, [ChatMessage(role="user", content=text)], 2, None, [("households",)], text
    )
    assert calls == 2
    assert [t.name for t in proposal.tables] == ["readings", "households"]
    assert notes == ["table 'households' was written in an LLM call of its own"]
    focused = llm.asked[1][-1].content
    assert 'table named "households"' in focused and "household_id" in focused
    assert "readings (key reading_id)" in focused


def test_a_named_table_nobody_writes_is_reported_not_failed(
    scripted_llm: type[ScriptedLLM],
) -> None:
    no_columns = {"name": "households", "columns": []}
    text = "hourly consumption readings of 25 households"
    llm = scripted_llm([_readings_only(), no_columns, _readings_only(), no_columns])
    proposal, notes, calls = propose_schema(
        llm, [ChatMessage(role="user", content=text)], 2, None, [("households",)], text
    )
    assert calls == 4 and [t.name for t in proposal.tables] == ["readings"]
    assert "add a table named 'households'" in llm.asked[2][-1].content
    assert notes == [
        "no table for what the request names: the request asks for 'households' but no table "
        "holds them; add a table named 'households' (copy a listed table that fits, or give its "
        "columns)"
    ]


def test_made_up_row_counts_are_capped_stated_ones_are_kept(
    scripted_llm: type[ScriptedLLM],
) -> None:
    huge = _proposal()
    huge["tables"][0]["rows"] = 1_000_000
    update = plan_schema({"chat": {"text": "customers and orders"}}, llm=scripted_llm([huge]))
    rows = {t["name"]: t["row_count"] for t in update["schema"]["tables"]}
    assert rows["customers"] == MAX_UNSTATED_ROWS
    assert any("1,000,000 rows" in m for m in update["messages"])

    stated = {"chat": {"text": "customers and orders, 1,000,000 customers"}}
    update = plan_schema(stated, llm=scripted_llm([huge]))
    rows = {t["name"]: t["row_count"] for t in update["schema"]["tables"]}
    assert rows["customers"] == 1_000_000


def test_n_rows_of_a_one_table_request_size_that_table(scripted_llm: type[ScriptedLLM]) -> None:
    one = {"tables": [_proposal()["tables"][0]]}
    state = {"chat": {"text": "one table of customers with their email; 1000 rows"}}
    update = plan_schema(state, llm=scripted_llm([one]))
    assert [(t["name"], t["row_count"]) for t in update["schema"]["tables"]] == [
        ("customers", 1000)
    ]


def test_a_schema_answer_that_never_parses_is_built_table_by_table(
    scripted_llm: type[ScriptedLLM],
) -> None:
    cut_off = '{"tables": [{"name": "policies", "columns": [{"name": "policy_id", "type": "id"}'
    adjusters = {
        "name": "adjusters",
        "columns": [
            {"name": "adjuster_id", "type": "id"},
            {"name": "full_name", "type": "person_name"},
            {"name": "region", "type": "category", "values": ["north", "south", "east"]},
        ],
    }
    state = {
        "chat": {"text": "policyholders, policies and adjusters", "assume_yes": True},
        "templates": [_template("insurance_claims")],
    }
    llm = scripted_llm([cut_off, cut_off, adjusters])
    update = plan_schema(state, llm=llm)
    tables = [t["name"] for t in update["schema"]["tables"]]
    assert tables == ["policyholders", "policies", "adjusters"]
    assert "table by table" in " ".join(update["messages"])
    focused = llm.asked[2][-1].content
    assert 'table named "adjusters"' in focused and "policies (key policy_id)" in focused
    assert update["llm_calls"] == 3
