"""Each node's own logic, without the graph around it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthtab.agents.assessor import find_weak_spots, next_adjustment
from synthtab.agents.generator import rows_to_sample, sampling_seed
from synthtab.agents.profiler import MAX_HOLDOUT_ROWS, rows_before_split, split_holdout
from synthtab.schema import Column, SemanticType, StorageType, Table


def test_rows_to_sample_oversamples_by_the_observed_acceptance() -> None:
    assert rows_to_sample(1_000, None) == 1_000
    assert rows_to_sample(1_000, 1.0) == 1_000
    assert rows_to_sample(1_000, 0.5) == 2_210
    # a rule that rejects nearly everything is capped, not an explosion
    assert rows_to_sample(1_000, 0.0001) == 22_010
    assert rows_to_sample(1_000, 0.0) == 22_010


def test_sampling_seeds_are_reproducible_and_distinct_per_round() -> None:
    assert sampling_seed(7, 1) == sampling_seed(7, 1)
    assert len({sampling_seed(7, r) for r in range(1, 20)}) == 19
    assert sampling_seed(7, 1) != sampling_seed(8, 1)


def test_copula_adjustment_ladder_ends() -> None:
    # pairs weaker than columns: training the copula longer does not move them, so switch to
    # the neural model first, then train that one longer
    quality = {
        "overall_score": 0.9,
        "column_shape_score": 0.98,
        "pair_trend_score": 0.85,
        "holdout_reference": {"column_shape_score": 0.99, "pair_trend_score": 0.99},
        "columns": [],
    }
    choice = {"name": "gaussian_copula", "settings": {"max_fit_rows": 50_000, "max_knots": 2_000}}
    first = next_adjustment(choice, find_weak_spots(quality))
    assert first is not None and first["model_choice"]["name"] == "argn"
    assert [a["tool"] for a in first["adjustments"]] == ["switch_model"]
    second = next_adjustment(first["model_choice"], find_weak_spots(quality))
    assert second is not None and second["model_choice"]["name"] == "argn"
    assert [a["tool"] for a in second["adjustments"]] == ["train_longer"]
    assert (
        second["model_choice"]["settings"]["max_training_seconds"]
        > (first["model_choice"]["settings"]["max_training_seconds"])
    )
    # columns weaker than pairs: the copula fits on more rows first, then switches
    columns_weak = {**quality, "column_shape_score": 0.85, "pair_trend_score": 0.98}
    longer = next_adjustment(choice, find_weak_spots(columns_weak))
    assert longer is not None and longer["model_choice"]["settings"]["max_fit_rows"] > 50_000
    switched = next_adjustment(longer["model_choice"], find_weak_spots(columns_weak))
    assert switched is not None and switched["model_choice"]["name"] == "argn"
    assert next_adjustment(choice, {}) is None  # nothing weak, nothing to change


def test_holdout_split_is_stratified_seeded_and_disjoint() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": np.arange(1_000), "y": rng.choice(["a", "b"], 1_000, p=[0.95, 0.05])})
    table = Table(
        name="t",
        columns=[
            Column(name="x", storage=StorageType.integer, semantic=SemanticType.numeric),
            Column(name="y", storage=StorageType.string, semantic=SemanticType.categorical),
        ],
    )
    train, holdout = split_holdout(df, table, "y", 0.2, seed=3)
    assert len(train) + len(holdout) == 1_000 and len(holdout) == 200
    assert set(train["x"]).isdisjoint(holdout["x"])
    share = (df["y"] == "b").mean()
    assert abs((holdout["y"] == "b").mean() - share) < 0.01
    again, _ = split_holdout(df, table, "y", 0.2, seed=3)
    pd.testing.assert_frame_equal(train, again)
    # the table's count back from the training count, as a DP run estimates it from a noisy one
    assert rows_before_split(len(train), 0.2) == 1_000
    big = 10 * MAX_HOLDOUT_ROWS  # the holdout stops growing at its cap
    assert rows_before_split(big - MAX_HOLDOUT_ROWS, 0.2) == big
