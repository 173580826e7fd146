"""The real LLM in the report and the feedback loop: the embedded Qwen2.5-Coder-1.5B model, no
fakes. What the model writes varies with the machine's arithmetic; what may not vary is that the
report says where its summary and its feedback came from, and that a kept LLM text quotes only
the report's own numbers and verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthtab.agents import assessor
from synthtab.agents.summary_writer import invented_numbers, report_facts, summary_problems
from synthtab.app import main
from synthtab.graphs.runner import start_run
from synthtab.io.readers import demo_dataset_path
from synthtab.schema import GenerationRequest
from synthtab.tools.summary import summarize_report

SUMMARY_FIELDS = ("plain_summary", "summary_source", "summary_model", "summary_rejections")


def test_generate_with_llm_summary_records_its_source(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(
        ["generate", "--demo", "--rows", "500", "--llm-summary", "--quiet", "--out", str(out)]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert all(key in report for key in SUMMARY_FIELDS)
    assert report["summary_model"]  # the model was reached: either source is its verdict
    facts = report_facts(report)
    text = report["plain_summary"]
    if report["summary_source"] == "llm":
        assert invented_numbers(text, facts) == []  # every number is the report's
        assert summary_problems(text, facts) == []  # and every verdict and label
        assert text != summarize_report(report)
    else:
        assert report["summary_source"] == "template"
        assert report["summary_rejections"], "a template after asking the LLM must say why"
        assert text == summarize_report(report)
    assert text[:40] in (out / "report.html").read_text().replace("&#x27;", "'")


def test_llm_feedback_below_threshold_records_who_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the LLM may switch to the neural model: a short training budget keeps the test quick
    monkeypatch.setattr(assessor, "SWITCH_TRAINING_SECONDS", 10.0)
    request = GenerationRequest(
        source=str(demo_dataset_path()),
        rows=500,
        target="income",
        compute_tstr=False,
        privacy_attacks=False,
        quality_threshold=0.999,  # the first pass is below it: feedback must run
        max_quality_rounds=1,
        llm_feedback=True,
    )
    out = tmp_path / "run"
    assert start_run(request, out).exit_code == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["quality_history"]
    assert first["chosen_by"] in {"llm", "policy"} and first["adjustments"]
    refits = [
        i
        for i in report["iterations"]
        if i["node"] == "assessor" and str(i["action"]).startswith("refit")
    ]
    assert len(refits) == 1 and refits[0]["chosen_by"] == first["chosen_by"]
    assert second["model_choice"] != first["model_choice"]  # the adjustment was applied
    if first["chosen_by"] == "llm":
        assert refits[0]["llm_reason"]
        tools = {t for t, _ in assessor.TOOLS.items()}
        assert {a["tool"] for a in first["adjustments"]} <= tools
    else:
        assert any("the policy chose instead" in m for m in report["messages"])


def test_evaluate_with_llm_summary_and_no_model_uses_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = pd.read_csv(demo_dataset_path())
    demo.iloc[:600].to_csv(tmp_path / "real.csv", index=False)
    demo.iloc[600:1200].to_csv(tmp_path / "synthetic.csv", index=False)
    monkeypatch.setenv("SYNTHTAB_LLM_MODEL_PATH", str(tmp_path / "missing.gguf"))
    monkeypatch.delenv("SYNTHTAB_LLM_BASE_URL", raising=False)
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            str(tmp_path / "real.csv"),
            str(tmp_path / "synthetic.csv"),
            "--out",
            str(out),
            "--llm-summary",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["summary_source"] == "template"
    assert report["plain_summary"] == summarize_report(report)
    (reason,) = report["summary_rejections"]
    assert reason.startswith("no LLM available") and "missing.gguf" in reason
