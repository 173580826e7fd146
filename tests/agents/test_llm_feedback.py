"""The assessor's feedback chosen by an LLM through tool calls, checked, the policy behind it.

A scripted chat model stands in for the LLM; tests/end_to_end/test_llm_report.py runs the real
embedded model through the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synthtab.agents import feedback_chooser
from synthtab.agents.assessor import (
    FeedbackThresholds,
    Lessons,
    applicable_adjustments,
    apply_adjustments,
    choose_adjustments,
    find_weak_spots,
    next_adjustment,
)
from synthtab.agents.feedback_chooser import choose_feedback, llm_feedback
from synthtab.llm import LLMUnavailable

from ..llm.fakes import ScriptedChatModel


def call(tool: str, **arguments: Any) -> str:
    return json.dumps({"call": {"tool": tool, "arguments": {"reason": "r", **arguments}}})


def quality(*, shapes: float = 0.98, pairs: float = 0.85) -> dict[str, Any]:
    """Weak pair trends and one categorical column spread wider than the real one."""
    plot = {"kind": "categories", "labels": ["a", "(other)"], "real": [0.9, 0.1]}
    return {
        "overall_score": (shapes + pairs) / 2,
        "column_shape_score": shapes,
        "pair_trend_score": pairs,
        "target": None,
        "holdout_reference": {
            "overall_score": 0.99,
            "column_shape_score": 0.99,
            "pair_trend_score": 0.99,
            "column_scores": {"colour": 0.99},
        },
        "columns": [
            {
                "column": "colour",
                "metric": "tvd",
                "score": 0.8,
                "plot": {**plot, "synthetic": [0.5, 0.5]},
            }
        ],
        "utility": None,
        "detection": {"auc": 0.9},
    }


COPULA = {"name": "gaussian_copula", "settings": {}}
ARGN = {"name": "argn", "settings": {"temperature": 1.0}}


def test_only_applicable_tools_are_offered() -> None:
    offered = [a.tool for a in applicable_adjustments(quality(), COPULA)]
    assert offered[0] == "switch_model" and "adjust_temperature" not in offered
    assert "adjust_temperature" in [a.tool for a in applicable_adjustments(quality(), ARGN)]


def test_a_valid_choice_is_applied_and_recorded() -> None:
    model = ScriptedChatModel([call("train_longer", reason="pair trends trail the holdout")])
    choice = llm_feedback(model, quality(), COPULA)
    assert choice.chosen_by == "llm" and choice.llm_rejection is None
    assert choice.llm_reason == "pair trends trail the holdout"
    assert [a.tool for a in choice.adjustments] == ["train_longer"]
    assert choice.adjustments[0].settings == {"max_fit_rows": 1_000_000, "max_knots": 10_000}
    # the policy would have switched model first: the LLM's choice is the one used
    assert choose_adjustments(quality(), COPULA)[0].tool == "switch_model"
    system, prompt = (m.content for m in model.asked[0])
    assert "pair trends trail the holdout by 0.140" in prompt and "- switch_model:" in system


def test_a_tool_that_does_not_apply_falls_back_to_the_policy() -> None:
    # the copula has no temperature: the tool is not offered, and an answer naming it is refused
    wrong = call("adjust_temperature", temperature=0.8)
    model = ScriptedChatModel([wrong, wrong])
    choice = llm_feedback(model, quality(), COPULA)
    assert choice.chosen_by == "policy" and len(model.asked) == 2
    assert choice.adjustments == choose_adjustments(quality(), COPULA)
    assert choice.llm_rejection is not None and "gave no usable choice" in choice.llm_rejection


def test_a_temperature_against_the_weak_spots_falls_back_to_the_policy() -> None:
    # categories spread wider than the real ones call for a lower temperature, not a higher one
    choice = llm_feedback(
        ScriptedChatModel([call("adjust_temperature", temperature=1.3)]), quality(), ARGN
    )
    assert choice.chosen_by == "policy"
    assert "call for a lower temperature than 1" in (choice.llm_rejection or "")
    too_far = llm_feedback(
        ScriptedChatModel([call("adjust_temperature", temperature=0.1)]), quality(), ARGN
    )
    assert too_far.chosen_by == "policy" and "outside one round's range" in (
        too_far.llm_rejection or ""
    )


def test_a_valid_temperature_is_applied_and_the_model_accepts_it() -> None:
    choice = llm_feedback(
        ScriptedChatModel([call("adjust_temperature", temperature=0.7)]), quality(), ARGN
    )
    assert choice.chosen_by == "llm"
    assert choice.adjustments[0].settings == {"temperature": 0.7}
    assert apply_adjustments(ARGN, choice.adjustments)["settings"]["temperature"] == 0.7


def test_next_adjustment_records_who_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedChatModel([call("switch_model", model="argn", reason="weak pair trends")])
    monkeypatch.setattr(feedback_chooser, "get_chat_model", lambda: model)
    chosen = next_adjustment(dict(COPULA), quality(), use_llm=True)
    assert chosen is not None
    assert chosen["chosen_by"] == "llm" and chosen["llm_reason"] == "weak pair trends"
    assert chosen["model_choice"]["name"] == "argn"
    policy = next_adjustment(dict(COPULA), quality())
    assert policy is not None and policy["chosen_by"] == "policy" and policy["llm_reason"] is None


def test_no_llm_available_means_the_policy_and_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable() -> None:
        raise LLMUnavailable("no model file")

    monkeypatch.setattr(feedback_chooser, "get_chat_model", unavailable)
    choice = choose_feedback(quality(), COPULA, use_llm=True)
    assert (
        choice.chosen_by == "policy" and choice.llm_rejection == "no LLM available: no model file"
    )
    assert choice.adjustments == choose_adjustments(quality(), COPULA)


def test_the_llm_is_offered_only_what_earlier_rounds_did_not_rule_out() -> None:
    """A switch that made a round worse is not offered again; the LLM naming it is refused
    and the policy's next choice, which respects the same lessons, is used."""
    lessons = Lessons(made_worse=["switch_model on gaussian_copula"])
    spots = find_weak_spots(quality(), FeedbackThresholds(fidelity=0.95))
    offered = [a.tool for a in applicable_adjustments(spots, COPULA, lessons)]
    assert "switch_model" not in offered and offered
    model = ScriptedChatModel([call("switch_model", model="argn")] * 2)
    choice = llm_feedback(model, spots, COPULA, lessons)
    assert choice.chosen_by == "policy" and len(model.asked) == 2
    assert [a.tool for a in choice.adjustments] == offered[:1]
    # the prompt names the failing metric against its threshold and offers only allowed tools
    prompt = model.asked[0][-1].content
    assert "below threshold: overall fidelity 0.915 < 0.95" in prompt
    assert f"tools offered ({', '.join(offered)})" in prompt
