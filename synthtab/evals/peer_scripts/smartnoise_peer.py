"""Fit smartnoise-synth's MST or AIM at one (epsilon, delta) and sample from it.

Runs inside the smartnoise virtual environment (never imports synthtab):

    python smartnoise_peer.py SYNTH TRAIN.parquet ROWS OUT.parquet TIMINGS.json SEED \
        EPSILON DELTA COLUMNS.json

SYNTH is mst or aim. COLUMNS.json: {"categorical": [...], "continuous": [...],
"bounds": {column: [low, high]}, "preprocessor_share": 0.1, "aim_rounds_per_column": int | null}.
Categorical columns are label-encoded by smartnoise from the rows it is given (its transformer
reads the category sets off the data without spending budget); continuous columns are binned (10
bins, smartnoise's default) between the given bounds (public: no budget spent), or, for a
column without them, between bounds smartnoise estimates with ``preprocessor_eps`` = share x
epsilon, subtracted from the synthesizer's epsilon. Nulls are modelled (``nullable=True``) where
the training rows have any.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer


def _restore_types(synthetic: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Back to the training rows' dtypes: bin midpoints of an integer column are rounded (the
    post-processing any user of smartnoise does before handing the table on)."""
    restored = {}
    for name in train.columns:
        column = synthetic[name]
        dtype = train[name].dtype
        if pd.api.types.is_integer_dtype(dtype):
            numbers = pd.to_numeric(column, errors="coerce").round()
            restored[name] = numbers.astype("Int64" if numbers.isna().any() else dtype)
        elif pd.api.types.is_float_dtype(dtype):
            restored[name] = pd.to_numeric(column, errors="coerce").astype(dtype)
        else:
            restored[name] = column.astype(object).where(column.notna(), None)
    return pd.DataFrame(restored)


def main(argv: list[str]) -> int:
    kind, train_path, rows, out_path, timings_path, seed, epsilon, delta, columns_path = argv
    np.random.seed(int(seed))
    spec = json.loads(Path(columns_path).read_text())
    train = pd.read_parquet(train_path)
    # smartnoise's transformers expect plain Python values: strings as objects, NA as None
    frame = train.astype(object).where(train.notna(), None)
    categorical, continuous = spec["categorical"], spec["continuous"]
    frame = frame[[*categorical, *continuous]]
    epsilon_value = float(epsilon)
    options: dict[str, object] = {"epsilon": epsilon_value, "delta": float(delta)}
    nullable = bool(train.isna().any().any())
    if kind == "aim" and spec.get("aim_rounds_per_column"):
        # AIM measures every encoded column's 1-way marginal first, out of the rounds' budget:
        # rounds must exceed the encoded width (a nullable continuous column encodes as two)
        width = len(categorical) + len(continuous) * (2 if nullable else 1)
        options["rounds"] = int(spec["aim_rounds_per_column"]) * width
    bounds: dict[str, list[float]] = spec.get("bounds") or {}
    # smartnoise's documented way to pass known bounds: a transformer constraint per column
    constraints = {
        name: BinTransformer(bins=10, lower=low, upper=high, nullable=nullable)
        for name, (low, high) in bounds.items()
    }
    needs_budget = any(name not in bounds for name in continuous)
    started = time.perf_counter()
    synthesizer = Synthesizer.create(kind, **options)
    synthesizer.fit(
        frame,
        transformer=constraints or None,
        categorical_columns=categorical,
        continuous_columns=continuous,
        preprocessor_eps=float(spec["preprocessor_share"]) * epsilon_value if needs_budget else 0.0,
        nullable=nullable,
    )
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(int(rows))
    sampled = time.perf_counter()
    if not isinstance(synthetic, pd.DataFrame):
        synthetic = pd.DataFrame(synthetic, columns=frame.columns)
    # mbi emits rows grouped by value; shuffled so any row prefix is a fair sample
    synthetic = synthetic.sample(frac=1.0, random_state=int(seed)).reset_index(drop=True)
    _restore_types(synthetic[list(frame.columns)], train[list(frame.columns)]).to_parquet(
        out_path, index=False
    )
    timings: dict[str, float | int | None] = {
        "rounds": options.get("rounds"),  # type: ignore[dict-item]
        "fit_seconds": fitted - started,
        "sample_seconds": sampled - fitted,
        # what smartnoise itself says it had left for the model after the bounds
        "model_epsilon": float(synthesizer.epsilon),
    }
    Path(timings_path).write_text(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
