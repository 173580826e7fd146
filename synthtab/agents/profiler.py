"""Profiler: infers the table's schema from the real data, merges what the user declared, and
splits a holdout off that no model ever fits on."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.dp.accountant import PrivacyAccountant
from synthtab.dp.schema_release import strip_inferred
from synthtab.schema import GenerationRequest, SemanticType, Table, TableDeclaration
from synthtab.schema.infer import infer_table
from synthtab.tools.constraints import validate_rules_against_columns

NODE = "profiler"
MIN_HOLDOUT_ROWS = 1
MAX_HOLDOUT_ROWS = 20_000


def build_table(df: pd.DataFrame, request: GenerationRequest, name: str) -> Table:
    """Inferred schema + declaration + rules; raises RuleError/ValueError on a bad declaration."""
    declaration: TableDeclaration | None = None
    if request.declaration is not None:
        declaration = request.declaration.tables[0]
    table = infer_table(df, name, declaration)
    if request.rules:
        declared = {r.name for r in table.rules}
        extra = [r for r in request.rules if r.name not in declared]
        table = table.model_copy(update={"rules": [*table.rules, *extra]})
    validate_rules_against_columns(table)
    return table


def rows_before_split(train_rows: float, fraction: float) -> int:
    """The table's row count that ``split_holdout`` leaves ``train_rows`` of for training
    (an estimate from a noisy training count stays an estimate: post-processing)."""
    total = train_rows / (1.0 - fraction)
    if total * fraction > MAX_HOLDOUT_ROWS:
        total = train_rows + MAX_HOLDOUT_ROWS
    return max(int(round(total)), 1)


def split_holdout(
    df: pd.DataFrame, table: Table, target: str | None, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split, stratified on a categorical target so rare classes reach both sides."""
    rng = np.random.default_rng(seed)
    n_holdout = int(round(len(df) * fraction))
    n_holdout = max(MIN_HOLDOUT_ROWS, min(MAX_HOLDOUT_ROWS, n_holdout))
    if len(df) < 2 or n_holdout >= len(df):
        return df.reset_index(drop=True), df.iloc[0:0].reset_index(drop=True)
    stratify = target is not None and table.column(target).semantic in {
        SemanticType.categorical,
        SemanticType.boolean,
    }
    if stratify:
        keys = df[target].astype("string").fillna("<null>")
        chosen: list[np.ndarray] = []
        share = n_holdout / len(df)
        for _, positions in sorted(keys.groupby(keys, sort=True).indices.items()):
            take = int(round(len(positions) * share))
            take = min(take, len(positions) - 1) if len(positions) > 1 else 0
            chosen.append(rng.choice(positions, size=take, replace=False))
        holdout_positions = np.sort(np.concatenate(chosen)) if chosen else np.array([], int)
    else:
        holdout_positions = np.sort(rng.choice(len(df), size=n_holdout, replace=False))
    mask = np.zeros(len(df), dtype=bool)
    mask[holdout_positions] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def profile(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    paths = RunPaths(run_dir=state["run_dir"])
    df = pd.read_parquet(paths.input_snapshot)
    name = state["input"]["table"]
    emit_progress(NODE, f"inferring the schema of {len(df):,} rows x {df.shape[1]} columns")
    table = build_table(df, request, name)
    train, holdout = split_holdout(
        df, table, request.target, request.holdout_fraction, request.seed
    )
    privacy_update: dict[str, Any] = {}
    if request.epsilon is not None:
        table, privacy_update = _private_schema(table, request, request.epsilon)
    train.to_parquet(paths.train)
    holdout.to_parquet(paths.holdout)
    found = [c.name for c in table.constraints]
    messages = [
        f"schema: {len(table.columns)} columns, {len(table.constraints)} constraints found in the "
        f"data ({', '.join(found[:6])}{'...' if len(found) > 6 else ''}), {len(table.rules)} rules"
    ]
    return {
        "table": table.model_dump(mode="json"),
        "split": {"train_rows": len(train), "holdout_rows": len(holdout), "seed": request.seed},
        "messages": [*messages, *privacy_update.pop("messages", [])],
        **privacy_update,
        "timings": {NODE: time.perf_counter() - started},
    }


def _private_schema(
    table: Table, request: GenerationRequest, epsilon: float
) -> tuple[Table, dict[str, Any]]:
    """Under --epsilon: the schema without what inference read off the rows (declared fields
    kept); the DP model releases the bounds and category sets inside its zCDP block (see
    synthtab.dp.schema_release). The run's accountant starts here, as the state's
    ``dp_budget``."""
    accountant = PrivacyAccountant(epsilon, request.delta)
    declaration = request.declaration.tables[0] if request.declaration is not None else None
    stripped, dropped = strip_inferred(table, declaration)
    message = (
        f"differential privacy (epsilon {epsilon:g}): dropped from the inferred schema, to be "
        "released by the DP model or declared: "
        + ("; ".join(dropped[:8]) + ("..." if len(dropped) > 8 else "") or "nothing")
    )
    return stripped, {
        "dp_budget": {**accountant.summary(), "schema_dropped": dropped},
        "messages": [message],
    }
