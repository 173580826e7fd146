"""Planner: turns the caller's request into the run's plan. For a table of real data the plan is
deterministic (no LLM): rows default to the real row count (under ε to the DP model's noisy
count, which the generator sets after the fit: the exact count is not released), and the plan is
recorded."""

from __future__ import annotations

from typing import Any

from synthtab.schema import GenerationRequest

NODE = "planner"


def plan(state: dict[str, Any]) -> dict[str, Any]:
    request = GenerationRequest.model_validate(state["request"])
    if request.rows is None and request.epsilon is None:
        request = request.model_copy(update={"rows": int(state["input"]["rows"])})
    count = "the DP model's noisy row count of" if request.rows is None else f"{request.rows:,}"
    what = f"{count} synthetic rows of {state['input']['table']!r} as {request.output_format}"
    if request.target:
        what += f", utility measured on target {request.target!r}"
    return {
        "request": request.model_dump(mode="json"),
        "generation_round": 0,
        "quality_round": 0,
        "accepted_rows": 0,
        "exact_copies_removed": 0,
        "messages": [f"planner: {what}"],
    }
