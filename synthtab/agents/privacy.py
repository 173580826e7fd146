"""Privacy (post): synthetic rows identical to a training row are removed and counted, and the
distance-to-closest-record share against a real holdout goes into the report."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.privacy import assess_privacy, exact_copies

NODE = "privacy"


def protect(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    generation_round = state["generation_round"]
    rows_wanted = request.rows or 0

    pool = pd.read_parquet(paths.accepted) if state.get("accepted_rows", 0) else None
    if pool is None:
        pool = pd.read_parquet(paths.candidate(generation_round)).iloc[0:0]
    train = pd.read_parquet(paths.train)
    removed_now = 0
    if request.remove_exact_copies and len(pool):
        copies = exact_copies(pool, train, table)
        removed_now = int(copies.sum())
        if removed_now:
            pool = pool[~copies.to_numpy()].reset_index(drop=True)
            pool.to_parquet(paths.accepted)
    removed_total = state.get("exact_copies_removed", 0) + removed_now
    short = rows_wanted - len(pool)
    update: dict[str, Any] = {
        "accepted_rows": len(pool),
        "exact_copies_removed": removed_total,
        "timings": {NODE: time.perf_counter() - started},
    }
    if removed_now:
        emit_progress(NODE, f"removed {removed_now:,} synthetic rows identical to a training row")
        update["iterations"] = [
            {
                "iteration": generation_round,
                "node": NODE,
                "action": "remove exact copies",
                "rows_removed": removed_now,
                "reason": "synthetic rows identical to a training row are never delivered",
            }
        ]
    if short > 0 and removed_now and generation_round < request.max_validation_rounds:
        update["next_node"] = "generator"
        update["feedback"] = {
            "action": "refill",
            "rows_needed": short,
            "acceptance_rate": None,
            "reason": f"privacy: {removed_now:,} exact copies of training rows removed",
        }
        return update

    holdout = pd.read_parquet(paths.holdout)
    emit_progress(NODE, "measuring distance to closest record against the holdout")
    report = assess_privacy(
        train=train,
        holdout=holdout,
        synthetic=pool,
        table=table,
        seed=request.seed,
        exact_copies_removed=removed_total,
    )
    update["privacy"] = report.model_dump(mode="json")
    update["next_node"] = "assessor"
    update["timings"] = {NODE: time.perf_counter() - started}
    return update
