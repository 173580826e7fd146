"""Assessor: measures fidelity and utility of what will be delivered, against a real holdout, and
below the threshold sends the generator a concrete adjustment, a bounded number of times."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.fidelity import assess_quality

NODE = "assessor"


def next_adjustment(
    model_choice: dict[str, Any], quality: dict[str, Any], quality_round: int
) -> dict[str, Any] | None:
    """The deterministic feedback policy: the adjustments a model offers, in order, for the
    weakest part of the report. None when nothing is left to try."""
    settings = model_choice.get("settings", {})
    if model_choice.get("name") == "gaussian_copula":
        ladder = [
            (
                {"max_fit_rows": 1_000_000, "max_knots": 10_000},
                "fit the correlations on every training row and keep 5x more quantile knots",
            ),
        ]
        for change, why in ladder[quality_round:]:
            if any(settings.get(k) != v for k, v in change.items()):
                return {"settings": {**settings, **change}, "why": why}
    return None


def assess(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    pool = pd.read_parquet(paths.accepted)
    train = pd.read_parquet(paths.train)
    holdout = pd.read_parquet(paths.holdout)
    emit_progress(NODE, f"measuring fidelity{' and TSTR' if request.target else ''}")
    report = assess_quality(
        real_train=train,
        real_holdout=holdout,
        synthetic=pool,
        table=table,
        target=request.target if request.compute_tstr else None,
        seed=request.seed,
    )
    quality = report.model_dump(mode="json")
    score = float(report.overall_score)
    quality_round = state.get("quality_round", 0)
    update: dict[str, Any] = {
        "quality": quality,
        "quality_history": [
            {
                "quality_round": quality_round,
                "generation_round": state["generation_round"],
                "overall": score,
                "model_choice": state.get("model_choice", {}),
            }
        ],
        "timings": {NODE: time.perf_counter() - started},
        "next_node": "reporter",
    }
    if score >= request.quality_threshold:
        return update
    adjustment = None
    if quality_round < request.max_quality_rounds:
        adjustment = next_adjustment(state.get("model_choice", {}), quality, quality_round)
    if adjustment is None:
        update["messages"] = [
            f"assessor: overall fidelity {score:.3f} is below the threshold "
            f"{request.quality_threshold:.2f} and no adjustment is left to try"
        ]
        return update
    reason = (
        f"assessor: overall fidelity {score:.3f} < {request.quality_threshold:.2f}; "
        f"{adjustment['why']}"
    )
    update["quality_round"] = quality_round + 1
    update["next_node"] = "generator"
    update["feedback"] = {
        "action": "refit",
        "model_choice": {"settings": adjustment["settings"]},
        "reason": reason,
    }
    update["iterations"] = [
        {
            "iteration": state["generation_round"],
            "node": NODE,
            "action": "refit with adjusted settings",
            "overall_fidelity": round(score, 4),
            "reason": reason,
        }
    ]
    return update
