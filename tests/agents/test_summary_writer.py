"""The LLM-written report summary: facts in, every number and verdict checked, template fallback.

A scripted chat model stands in for the LLM here; tests/end_to_end/test_llm_report.py runs the
embedded model for real."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from synthtab.agents import summary_writer
from synthtab.agents.summary_writer import (
    SummaryDraft,
    invented_numbers,
    is_quoted,
    report_facts,
    summarize,
    summary_problems,
    write_summary,
)
from synthtab.llm import LLMUnavailable
from synthtab.tools.summary import summarize_report

from ..llm.fakes import ScriptedChatModel


def report(*, tstr_ratio: float = 0.852, violating: int = 0, risk: str = "low") -> dict[str, Any]:
    return {
        "summary": {"rows_real": 2000, "rows_delivered": 500},
        "quality": {
            "overall_score": 0.958658,
            "column_shape_score": 0.96549,
            "pair_trend_score": 0.95182,
            "holdout_reference": {
                "overall_score": 0.9451,
                "column_scores": {"age": 0.97, "col_2": 0.99},
            },
            "columns": [
                {"column": "age", "metric": "ks", "score": 0.9},
                {"column": "col_2", "metric": "tvd", "score": 0.985},
            ],
            "utility": {
                "status": "ok",
                "ratio": tstr_ratio,
                "primary_metric": "roc_auc",
                "target": "income",
            },
            "detection": {"auc": 0.66286, "holdout_auc": 0.5411, "score": 0.67428},
        },
        "validation": {
            "rows": 500,
            "violating_rows": violating,
            "checks": [
                {"name": f"check_{i}", "violations": violating if i == 0 else 0} for i in range(39)
            ],
        },
        "privacy": {"risk": risk, "dcr_share": 0.48, "exact_copy_rate": 0.0},
        "quality_history": [],
    }


def answer(**sentences: str) -> str:
    base = {
        "fidelity": "Overall fidelity is 0.959, close to the holdout's 0.945, and meets the 0.80 "
        "threshold.",
        "utility": "The TSTR ratio of 0.852 falls short of the 0.90 threshold.",
        "checks": "All 500 rows pass the 39 constraint checks.",
        "privacy": "Privacy risk is low, with a DCR share of 0.480.",
    }
    return json.dumps({**base, **sentences})


def test_the_facts_carry_the_reports_rounding_and_the_scorecards_verdicts() -> None:
    facts = report_facts(report())
    values = {f.name: f.value for f in facts.facts}
    assert values["overall fidelity"] == "0.959"
    assert values["real rows"] == "2,000"
    assert values["weak column age: score (holdout score)"] == "0.900 (0.970)"
    verdicts = {c.key: c.passed for c in facts.checks}
    assert verdicts == {
        "overall_score": True,
        "column_shape_score": True,
        "pair_trend_score": True,
        "tstr_ratio": False,  # 0.852 < 0.90
        "detection_score": True,
        "constraints": True,
    }
    assert facts.privacy_risk == "low"


def test_a_number_is_quoted_exactly_rounded_or_as_a_percentage() -> None:
    allowed = [Decimal("0.959"), Decimal("0.80"), Decimal("2000")]
    assert is_quoted(Decimal("0.959"), allowed)
    assert is_quoted(Decimal("0.8"), allowed)  # the same number
    assert is_quoted(Decimal("0.96"), allowed)  # the fact rounded to 2 decimals
    assert not is_quoted(Decimal("1"), allowed)  # rounded too far to be the same figure
    assert not is_quoted(Decimal("0.9591"), allowed)  # more precision than the report has
    assert not is_quoted(Decimal("0.958"), allowed)
    facts = report_facts(report())
    text = "Fidelity is 95.9% and 96%, 2,000 real rows; col_2 is fine; 0.97 for age; 0.91 made up."
    assert invented_numbers(text, facts) == ["0.91"]


def test_a_good_summary_is_kept_and_its_prompt_lists_the_facts() -> None:
    model = ScriptedChatModel([answer()])
    written = write_summary(report(), model)
    assert written.source == "llm" and written.rejections == []
    assert written.text.startswith("Overall fidelity is 0.959")
    assert written.text.endswith("DCR share of 0.480.")
    prompt = model.asked[0][-1].content
    assert "- overall fidelity: 0.959" in prompt
    assert "- TSTR ratio 0.852 falls short of its 0.90 threshold: FAIL" in prompt


def test_an_invented_number_is_rejected_and_the_template_used() -> None:
    invented = answer(fidelity="Overall fidelity is 0.975, which meets the 0.80 threshold.")
    model = ScriptedChatModel([invented, invented])
    written = write_summary(report(), model)
    assert written.source == "template"
    assert written.text == summarize_report(report())
    invented_in = [r for r in written.rejections if "the number 0.975 is not among" in r]
    assert [r.split(":")[0][-9:] for r in invented_in] == ["attempt 1", "attempt 2"]
    # the retry told the model what was wrong
    assert "0.975" in model.asked[1][-1].content


def test_a_failed_check_called_passed_is_rejected() -> None:
    wrong = answer(utility="The TSTR ratio is 0.852, which passes the 0.90 threshold.")
    written = write_summary(report(), ScriptedChatModel([wrong, wrong]))
    assert written.source == "template"
    assert any("says TSTR ratio passes, but it fails" in r for r in written.rejections)


def test_a_wrong_threshold_and_a_wrong_risk_level_are_rejected() -> None:
    facts = report_facts(report())
    problems = summary_problems(
        "The TSTR ratio 0.852 is below the threshold of 0.80. Privacy risk is high.", facts
    )
    assert len(problems) == 2
    assert "threshold for TSTR ratio is 0.90" in problems[0]
    assert "calls the privacy risk high, but the report rates it low" in problems[1]
    # negations turn a verdict word around; a clause without a topic speaks of the last one
    assert not summary_problems(
        "The TSTR ratio of 0.852 does not meet the 90% threshold. No rows fail any check. "
        "Overall fidelity is 0.959, which meets the threshold.",
        facts,
    )


def test_a_retry_that_passes_is_kept_with_the_first_attempts_problem_recorded() -> None:
    wrong = answer(checks="Some of the 500 rows fail the constraint checks.")
    written = write_summary(report(), ScriptedChatModel([wrong, answer()]))
    assert written.source == "llm"
    assert len(written.rejections) == 1 and "constraint checks fails" in written.rejections[0]


def test_an_answer_that_never_parses_falls_back_with_the_reason() -> None:
    written = write_summary(report(), ScriptedChatModel(["Sure! Here it is.", '{"fidelity": 1}']))
    assert written.source == "template"
    assert "attempt 1" in written.rejections[0] and "no JSON" in written.rejections[0]


def test_a_cut_off_or_wordless_sentence_is_rejected() -> None:
    facts = report_facts(report())
    draft = SummaryDraft.model_validate_json(answer(privacy="low", checks="All 500 rows pass the"))
    problems = summary_writer.draft_problems(draft, facts)
    assert problems[:2] == [
        "the checks sentence is cut off: write a shorter one",
        "the privacy value is not a sentence: write a plain sentence",
    ]


def test_no_llm_available_means_the_template_and_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable() -> None:
        raise LLMUnavailable("llama-cpp-python is not installed")

    monkeypatch.setattr(summary_writer, "get_chat_model", unavailable)
    written = summarize(report(), use_llm=True)
    assert written.source == "template" and written.text == summarize_report(report())
    assert written.rejections == ["no LLM available: llama-cpp-python is not installed"]
    # not asked for: the template, no LLM, nothing to explain
    plain = summarize(report(), use_llm=False)
    assert plain.source == "template" and plain.rejections == [] and plain.model is None


def test_a_number_under_another_metrics_name_is_rejected() -> None:
    facts = report_facts(report())
    # 0.674 is the detection score; the AUC is 0.663
    problems = summary_problems("The detection AUC is 0.674, the DCR share 0.480.", facts)
    assert problems == [
        '"The detection AUC is 0.674" gives AUC as 0.674, but the report\'s AUC is 0.663 / 0.541'
    ]


@pytest.mark.parametrize("variant", [{}, {"tstr_ratio": 0.95, "violating": 3, "risk": "high"}])
def test_the_template_passes_the_same_verification(variant: dict[str, Any]) -> None:
    body = report(**variant)
    assert summary_problems(summarize_report(body), report_facts(body)) == []
