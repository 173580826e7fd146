"""The graph's state. Values are plain JSON (pydantic dumps and file paths), so every checkpoint
is small, serialises without pickling, and a killed run resumes from it."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def add_timings(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """A node that runs several times accumulates its seconds."""
    total = dict(left or {})
    for node, seconds in (right or {}).items():
        total[node] = round(total.get(node, 0.0) + seconds, 4)
    return total


class RunState(TypedDict, total=False):
    run_id: str
    run_dir: str
    request: dict[str, Any]  # GenerationRequest
    input: dict[str, Any]  # file, sha256, rows, columns
    table: dict[str, Any]  # synthtab.schema.Table
    split: dict[str, Any]  # train/holdout sizes and seed
    model_choice: dict[str, Any]  # name, reason, settings
    generation_round: int
    quality_round: int
    sampling_seeds: Annotated[list[int], operator.add]
    accepted_rows: int
    candidate_path: str
    validation: dict[str, Any]  # ValidationResult
    repairs: Annotated[list[dict[str, Any]], operator.add]
    privacy: dict[str, Any]  # PrivacyReport
    exact_copies_removed: int
    near_copies_removed: int
    protection: dict[str, Any]  # privacy(pre): settings, per-round plan and report
    dp_budget: dict[str, Any]  # under --epsilon: the PrivacyAccountant's summary, every spend
    privacy_round: int  # times the privacy policy sent the run back
    privacy_policy: list[dict[str, Any]]  # what the policy did and why
    quality: dict[str, Any]  # QualityReport
    quality_history: Annotated[list[dict[str, Any]], operator.add]
    delivered_quality_round: int  # the quality round whose rows are delivered (the best)
    feedback: dict[str, Any] | None  # what the generator should change next
    next_node: str  # routing decision of the node that just ran
    iterations: Annotated[list[dict[str, Any]], operator.add]
    messages: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], add_timings]
    status: str  # complete | incomplete
    outputs: dict[str, str]
