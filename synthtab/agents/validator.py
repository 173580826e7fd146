"""Validator: every delivered row obeys every constraint and rule. Rows with a unique fix are
repaired; the rest are rejected and the generator is asked for more, a bounded number of times.

Where the model can condition, the rejected rows go back with the request for more: the
generator redraws only the columns of the checks each row broke, given the row's other values
(see ``generator.sample_candidate``); other models resample whole rows."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.models.registry import model_capabilities
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.conditions import SEED_ROW, held_cells, undelivered_seed_rows
from synthtab.tools.constraints import repair_table, validate_table, violated_columns
from synthtab.tools.identifiers import make_identifiers_unique

NODE = "validator"


def rejected_paths(paths: RunPaths, generation_round: int) -> dict[str, str]:
    """Where a round's rejected rows and their columns to redraw are kept for the generator:
    named like the round's candidate, so they are removed with it when the run ends."""
    stem = paths.candidate(generation_round).with_suffix("")
    return {"rows": f"{stem}_rejected.parquet", "columns": f"{stem}_rejected_redraw.parquet"}


def can_redraw_columns(state: dict[str, Any]) -> bool:
    """Whether the run's model fixes given columns when it samples (declared in the registry)."""
    name = (state.get("model_choice") or {}).get("name")
    return name is not None and model_capabilities(name).conditioning


def accepted_pool(paths: RunPaths, accepted_rows: int) -> pd.DataFrame | None:
    if accepted_rows == 0 or not paths.accepted.exists():
        return None
    return pd.read_parquet(paths.accepted)


def _undelivered_seed_rows(pool: pd.DataFrame, seed_rows: int) -> str:
    """Which seed rows have no row yet, for the message."""
    if SEED_ROW not in pool.columns:
        return ""
    missing = undelivered_seed_rows(pool, seed_rows)
    shown = ", ".join(str(i) for i in missing[:10])
    return f" (no row for the seed table's rows {shown}{', ...' if len(missing) > 10 else ''})"


def validate(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    rows_wanted = request.rows or 0
    generation_round = state["generation_round"]

    candidate = pd.read_parquet(state["candidate_path"])
    seed_filled = (
        pd.read_parquet(paths.seed_snapshot).notna() if request.seed_table is not None else None
    )
    fixed_columns = [*request.conditions, *request.rebalance]
    # the candidates' held cells guard their repairs; the pool's (accepted rows too) guard ids
    repaired, actions = repair_table(
        candidate, table, held_cells(candidate, fixed_columns, seed_filled)
    )
    previous = accepted_pool(paths, state.get("accepted_rows", 0))
    pool = repaired if previous is None else pd.concat([previous, repaired], ignore_index=True)
    pool = make_identifiers_unique(pool, table, held_cells(pool, fixed_columns, seed_filled))
    # rows already accepted stay accepted; only the new candidates can be rejected
    involved = violated_columns(pool, table)
    rejected = involved.any(axis=1)
    first_new = 0 if previous is None else len(previous)
    rejected.iloc[:first_new] = False
    kept_new = int((~rejected.iloc[first_new:]).sum())
    rejected_rows = pool[rejected].reset_index(drop=True)
    redraw_columns = involved[rejected].reset_index(drop=True)
    pool = pool[~rejected].reset_index(drop=True)
    if SEED_ROW in pool.columns:
        # one row per seed row: the one accepted first
        pool = pool[~pool[SEED_ROW].duplicated()].reset_index(drop=True)
    pool = pool.iloc[:rows_wanted]
    pool.to_parquet(paths.accepted)
    result = validate_table(pool, table)
    acceptance_rate = kept_new / max(len(candidate), 1)
    emit_progress(
        NODE,
        f"{kept_new:,} of {len(candidate):,} new rows compliant; {len(pool):,}/{rows_wanted:,} rows",
    )

    short = rows_wanted - len(pool)
    update: dict[str, Any] = {
        "accepted_rows": len(pool),
        "validation": result.model_dump(mode="json"),
        "repairs": [a.model_dump(mode="json") | {"iteration": generation_round} for a in actions],
        "iterations": [
            {
                "iteration": generation_round,
                "node": NODE,
                "action": "repair and reject",
                "rows_repaired": sum(a.rows_repaired for a in actions),
                "rows_rejected": len(candidate) - kept_new,
                "rows_accepted": len(pool),
                "reason": f"{short:,} rows still needed" if short > 0 else "enough compliant rows",
            }
        ],
        "timings": {NODE: time.perf_counter() - started},
    }
    if short > 0 and generation_round < request.max_validation_rounds:
        update["next_node"] = "generator"
        update["feedback"] = {
            "action": "refill",
            "rows_needed": short,
            "acceptance_rate": acceptance_rate,
            "reason": (
                f"validator: {len(candidate) - kept_new:,} of {len(candidate):,} sampled rows "
                f"violated a constraint or rule; {short:,} more compliant rows needed"
            ),
        }
        if len(rejected_rows) and can_redraw_columns(state):
            redraw = rejected_paths(paths, generation_round)
            rejected_rows.to_parquet(redraw["rows"])
            redraw_columns.to_parquet(redraw["columns"])
            update["feedback"]["redraw"] = redraw
    else:
        update["next_node"] = "privacy"
        if short > 0:
            update["messages"] = [
                f"validator: only {len(pool):,} of {rows_wanted:,} rows are fully compliant after "
                f"{generation_round} rounds; violating rows were not delivered"
                + _undelivered_seed_rows(pool, rows_wanted)
            ]
    return update
