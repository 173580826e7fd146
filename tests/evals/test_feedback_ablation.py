"""The feedback ablation's table: each round's adjustment, model and score, and the round
delivered, in the README's format."""

from __future__ import annotations

from synthtab.evals.harness import CaseResult, feedback_table, round_steps


def test_rounds_name_the_adjustment_the_model_and_where_a_restart_began() -> None:
    history = [
        {"quality_round": 0, "overall": 0.9731, "model_choice": {"name": "gaussian_copula"}},
        {
            "quality_round": 1,
            "overall": 0.9895,
            "model_choice": {"name": "argn"},
            "from_round": 0,
            "applied": [{"tool": "switch_model"}],
        },
        {
            "quality_round": 2,
            "overall": 0.9812,
            "model_choice": {"name": "argn"},
            "from_round": 0,  # a restart from round 0, not built on round 1
            "applied": [{"tool": "train_longer"}],
        },
    ]
    assert round_steps(history) == [
        "gaussian_copula 0.973",
        "switch_model argn 0.990",
        "train_longer (from 0) argn 0.981",
    ]
    on = CaseResult(
        dataset="adult",
        variant="feedback on",
        target="income",
        rows_requested=100,
        exit_code=0,
        status="complete",
        wall_seconds=12.34,
        peak_memory_mb=1036.0,
        fidelity=0.9895,
        round_steps=round_steps(history),
        delivered_round=1,
    )
    header, rule, row = feedback_table([on]).splitlines()
    assert header.count("|") == rule.count("|") == row.count("|") == 10
    assert row.startswith("| adult | on | 12.3 | 1,036 | 0.990 (–) |")
    assert row.endswith("train_longer (from 0) argn 0.981 → round 1 |")
