"""The graph's structure, its feedback edges, and resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd

from synthtab.graphs.build import build_graph, mermaid_diagram
from synthtab.graphs.runner import prepare_run, resume_run, start_run
from synthtab.schema import GenerationRequest, Rule
from synthtab.schema.rules import compile_rule, evaluate_rule

# holds in no real data: the copula breaks it in roughly a third of the rows it samples, and no
# unique repair exists, so only the validator -> generator loop can make the output compliant
OFTEN_BROKEN = Rule(name="older_men", expression="if gender == 'Male' then age >= 40")


def test_graph_has_the_nodes_and_feedback_edges() -> None:
    graph = build_graph().get_graph()
    assert {
        "planner",
        "profiler",
        "generator",
        "validator",
        "privacy",
        "assessor",
        "reporter",
    } <= set(graph.nodes)
    edges = {(e.source, e.target, e.conditional) for e in graph.edges}
    for source in ("validator", "privacy", "assessor"):
        assert (source, "generator", True) in edges
    assert "validator" in mermaid_diagram()


def test_often_broken_rule_ends_fully_compliant_through_the_loop(
    adult_csv: Path, tmp_path: Path
) -> None:
    request = GenerationRequest(
        source=str(adult_csv), rows=2_000, rules=[OFTEN_BROKEN], compute_tstr=False
    )
    outcome = start_run(request, tmp_path / "run")
    assert outcome.status == "complete" and outcome.exit_code == 0
    data = pd.read_csv(tmp_path / "run" / "synthetic.csv")
    assert len(data) == 2_000
    assert evaluate_rule(compile_rule(OFTEN_BROKEN.expression, data.columns), data).all()
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    rounds = [i for i in report["iterations"] if i["node"] == "validator"]
    assert len(rounds) >= 2, "the first sample must have been short of compliant rows"
    assert rounds[0]["rows_rejected"] > 0
    check = next(c for c in report["validation"]["checks"] if c["name"] == "older_men")
    assert check["violations"] == 0


def test_bound_reached_is_reported_and_exit_status_says_so(adult_csv: Path, tmp_path: Path) -> None:
    impossible = Rule(name="nobody", expression="age > 200")
    request = GenerationRequest(
        source=str(adult_csv),
        rows=500,
        rules=[impossible],
        compute_tstr=False,
        max_validation_rounds=2,
    )
    outcome = start_run(request, tmp_path / "run")
    assert outcome.status == "incomplete" and outcome.exit_code == 3
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["summary"]["rows_delivered"] < 500
    assert any("fully compliant" in m for m in report["messages"])
    data = pd.read_csv(tmp_path / "run" / "synthetic.csv")
    assert (data["age"] > 200).all()  # only compliant rows were delivered (here: none)


def test_assessor_feedback_refits_and_records_each_round(adult_csv: Path, tmp_path: Path) -> None:
    request = GenerationRequest(
        source=str(adult_csv),
        rows=1_000,
        compute_tstr=False,
        quality_threshold=0.999,
        max_quality_rounds=1,
    )
    outcome = start_run(request, tmp_path / "run")
    assert outcome.exit_code == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert len(report["quality_history"]) == 2
    refits = [i for i in report["iterations"] if i["node"] == "assessor"]
    assert len(refits) == 1 and "fidelity" in refits[0]["reason"]
    assert any("no adjustment is left" in m for m in report["messages"])


def test_resume_after_kill(adult: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "adult.parquet"
    adult.to_parquet(data)
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "synthtab",
        "generate",
        str(data),
        "--rows",
        "60000",
        "--target",
        "income",
        "--out",
        str(out),
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event.get("event") == "node_finished" and event.get("node") == "generator":
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (out / "manifest.json").exists()  # an unfinished run does not look finished
    assert (out / ".synthtab" / "RUNNING").exists()

    events: list[dict] = []
    outcome = resume_run(out, events.append)
    assert outcome.exit_code == 0
    assert events[0]["event"] == "run_resumed"
    rerun = [e["node"] for e in events if e.get("event") == "node_started"]
    assert "profiler" not in rerun and "planner" not in rerun
    assert (out / "manifest.json").exists()
    assert len(pd.read_csv(out / "synthetic.csv")) == 60_000


def test_prepare_run_rejects_before_creating_anything(adult_csv: Path, tmp_path: Path) -> None:
    from synthtab.io.errors import InputError

    request = GenerationRequest(source=str(adult_csv), rules=[Rule(name="r", expression="x > 1")])
    try:
        prepare_run(request, tmp_path / "run")
    except InputError as error:
        assert "'x'" in str(error) or "x" in str(error)
    else:
        raise AssertionError("an unknown column in a rule must be rejected")
    assert not (tmp_path / "run").exists()
