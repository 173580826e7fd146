"""The chat graph end to end with a scripted LLM: it asks before it writes, resumes with the
answer, sends an unmeetable schema back to the planner, and writes every format asked for."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from synthtab.graphs.chat import build_chat_graph, prepare_chat, run_chat
from synthtab.schema.chat_request import ChatRequest

if TYPE_CHECKING:
    from ..conftest import ScriptedLLM


class NoTemplates:
    def nearest(self, request_text: str, k: int = 3) -> list[Any]:
        return []


def _proposal(amount_rule: str = "amount >= 1") -> dict[str, Any]:
    return {
        "tables": [
            {
                "name": "customers",
                "columns": [
                    {"name": "customer_id", "type": "id"},
                    {"name": "full_name", "type": "person_name"},
                    {"name": "segment", "type": "text"},
                ],
            },
            {
                "name": "orders",
                "columns": [
                    {"name": "order_id", "type": "id"},
                    {"name": "customer_id", "type": "id", "references": "customers.customer_id"},
                    {"name": "amount", "type": "money", "min": 1, "max": 100},
                    {"name": "ordered_on", "type": "date"},
                    {"name": "shipped_on", "type": "date"},
                ],
                "rules": [amount_rule, "shipped_on >= ordered_on"],
            },
        ],
        "questions": ["Should an order hold several products?"],
    }


VOCABULARY = {
    "columns": [{"key": "customers.segment", "values": ["retail", "wholesale", "online"]}]
}


def _events() -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []
    return seen, seen.append


def test_the_run_waits_for_the_user_then_writes_the_dataset(
    tmp_path: Path, scripted_llm: type[ScriptedLLM]
) -> None:
    llm = scripted_llm([_proposal(), VOCABULARY])
    text = "customers and orders: 30 customers, 120 orders, as csv, sql and excel"
    paths = prepare_chat(ChatRequest(text=text), tmp_path / "out")
    seen, sink = _events()
    waiting = run_chat(paths, llm, sink, template_search=NoTemplates)
    assert waiting.status == "waiting" and waiting.exit_code == 3
    question = next(e for e in seen if e["event"] == "waiting_for_answer")["questions"][0]
    assert question["questions"] == ["Should an order hold several products?"]
    assert any(line.startswith("orders (120 rows)") for line in question["proposal"])
    assert not (tmp_path / "out" / "manifest.json").exists()

    done = run_chat(paths, llm, answer="yes", template_search=NoTemplates)
    assert done.status == "complete" and done.exit_code == 0
    out = tmp_path / "out"
    customers, orders = pd.read_csv(out / "customers.csv"), pd.read_csv(out / "orders.csv")
    assert (len(customers), len(orders)) == (30, 120)
    assert set(orders["customer_id"]) <= set(customers["customer_id"])
    assert set(customers["segment"]) <= {"retail", "wholesale", "online"}
    assert (orders["shipped_on"] >= orders["ordered_on"]).all()
    assert pd.ExcelFile(out / "dataset.xlsx").sheet_names == ["customers", "orders"]
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.executescript((out / "dataset.sql").read_text())
    assert connection.execute('SELECT COUNT(*) FROM "orders"').fetchone() == (120,)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert {"customers.csv", "orders.csv", "dataset.sql", "dataset.xlsx"} <= set(
        manifest["outputs_sha256"]
    )
    report = json.loads((out / "report.json").read_text())
    assert report["dataset_check"]["ok"] is True and report["llm_calls"] == 2


def test_an_answer_goes_back_to_the_planner_with_it(
    tmp_path: Path, scripted_llm: type[ScriptedLLM]
) -> None:
    llm = scripted_llm([_proposal(), _proposal()])
    paths = prepare_chat(ChatRequest(text="customers and orders"), tmp_path / "out")
    run_chat(paths, llm, template_search=NoTemplates)
    again = run_chat(paths, llm, answer="one product per order", template_search=NoTemplates)
    assert again.status == "waiting"
    assert "one product per order" in llm.asked[1][1].content


def test_a_rule_the_generator_cannot_meet_goes_back_to_the_planner(
    tmp_path: Path, scripted_llm: type[ScriptedLLM]
) -> None:
    llm = scripted_llm([_proposal(amount_rule="amount > 500"), VOCABULARY, _proposal(), VOCABULARY])
    chat = ChatRequest(text="customers and orders", assume_yes=True, formats=["csv"])
    outcome = run_chat(prepare_chat(chat, tmp_path / "out"), llm, template_search=NoTemplates)
    assert outcome.status == "complete"
    assert any("back to the planner" in m for m in outcome.messages)
    assert "table 'orders'" in llm.asked[2][-1].content


def test_declining_writes_nothing(tmp_path: Path, scripted_llm: type[ScriptedLLM]) -> None:
    llm = scripted_llm([_proposal()])
    paths = prepare_chat(ChatRequest(text="customers and orders"), tmp_path / "out")
    run_chat(paths, llm, template_search=NoTemplates)
    outcome = run_chat(paths, llm, answer="no", template_search=NoTemplates)
    assert outcome.status == "cancelled" and outcome.exit_code == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".synthtab"]


def test_the_graph_draws_without_an_llm() -> None:
    nodes = set(build_chat_graph().get_graph().nodes)
    assert {
        "retriever",
        "planner",
        "confirm",
        "vocabulary",
        "generator",
        "validator",
        "reporter",
    } <= nodes


def test_vocabulary_answers_are_bounded_for_the_constrained_decoder() -> None:
    from synthtab.agents.vocabulary import MAX_VALUES, VALUE_CHARACTERS, VocabularyAnswer

    schema = VocabularyAnswer.model_json_schema()
    values = schema["$defs"]["ColumnValues"]["properties"]["values"]
    assert values["maxItems"] == MAX_VALUES and values["items"]["maxLength"] == VALUE_CHARACTERS
    assert schema["properties"]["columns"]["maxItems"] == 8
