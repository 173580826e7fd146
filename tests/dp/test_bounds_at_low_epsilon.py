"""DP bounds on a small budget: the quantile step is skipped where its rank error would swamp the
tail (its budget then re-measures the magnitude histogram), a positive range starts at 0, the
bins a column gets follow the noise its marginal will have, and every new release stays within
e^epsilon on neighbouring datasets (and fails to with its noise halved)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthtab.dp import zcdp_rho
from synthtab.dp.audit import worst_dp_excess
from synthtab.dp.domain import _edges, bins_for, fit_domains, split_domain_budget
from synthtab.dp.mechanisms import (
    coarse_range,
    dp_bounds,
    extended_to_zero,
    magnitude_histogram,
    quantile_rank_error,
)
from synthtab.models.registry import get_model
from synthtab.schema import Column, SemanticType, StorageType, Table


def tenure_like(n: int = 7000) -> np.ndarray:
    """Months 0..72, many short and many long (telco_churn's tenure)."""
    rng = np.random.default_rng(3)
    short = rng.integers(0, 12, n // 3)
    long = rng.integers(60, 73, n // 4)
    rest = rng.integers(0, 73, n - short.size - long.size)
    return np.concatenate((short, long, rest)).astype(float)


def test_a_small_budget_skips_the_quantiles_and_keeps_the_whole_range() -> None:
    # per-column rho of telco_churn's bounds at epsilon 0.5 (3.2e-5): before, the quantiles at
    # epsilon ~0.006 each cut tenure to 21-47
    release = dp_bounds(tenure_like(), rho=3.2e-5, resolution=1.0, seed=0)
    assert not release.quantiles and release.refinements == 0
    assert release.low == 0.0 and release.high >= 72.0
    assert release.signal
    assert release.rows == pytest.approx(7000, rel=0.2)  # a noisy count, not the true one


def test_a_large_budget_runs_the_quantiles_and_refines() -> None:
    release = dp_bounds(tenure_like(100_000), rho=1.0, resolution=1.0, seed=0)
    assert release.quantiles and release.refinements == 2
    assert 0.0 <= release.low <= 2.0 and 70.0 <= release.high <= 73.0


def test_the_quantile_decision_follows_the_rank_error() -> None:
    assert quantile_rank_error(0.006, 7000) > 0.005 * 7000  # skipped
    assert quantile_rank_error(1.0, 100_000) < 0.005 * 100_000  # run


def test_a_positive_range_starts_at_zero_only_when_far_below_its_top() -> None:
    assert extended_to_zero(16.0, 128.0) == (0.0, 128.0)
    assert extended_to_zero(16.0, 64.0) == (16.0, 64.0)  # ages 16-64: no
    assert extended_to_zero(-128.0, -8.0) == (-128.0, 0.0)
    assert extended_to_zero(-4.0, 60.0) == (-4.0, 60.0)


def test_a_range_extended_to_zero_stays_linear_where_its_values_start_high() -> None:
    # monthly charges 18-119 found as [16, 128), extended to [0, 128), cents: linear bins;
    # declared [0, 128) alone (no floor) would be binned on a log scale
    _, log_scale = _edges(0.0, 128.0, 0.01, 32, floor=16.0)
    assert not log_scale
    assert _edges(0.0, 128.0, 0.01, 32)[1]


def test_bins_follow_the_marginal_noise() -> None:
    assert bins_for(7000, marginal_scale=50.0, max_bins=64) == 35
    assert bins_for(7000, marginal_scale=500.0, max_bins=64) == 8  # the floor
    assert bins_for(7000, marginal_scale=1.0, max_bins=64) == 64
    assert bins_for(7000, marginal_scale=None, max_bins=64) == 64


def test_low_epsilon_domains_cover_the_true_range_of_a_telco_like_table() -> None:
    n = 7000
    rng = np.random.default_rng(0)
    tenure = tenure_like(n)
    data = pd.DataFrame(
        {
            "tenure": tenure.astype(np.int64),
            "charges": np.round(tenure * rng.uniform(18, 118, n) + 18.8, 2),
            "contract": pd.Series(rng.choice(["m", "1y", "2y"], n), dtype="string"),
        }
    )
    table = Table(
        name="t",
        columns=[
            Column(name="tenure", storage=StorageType.integer, semantic=SemanticType.numeric),
            Column(name="charges", storage=StorageType.float, semantic=SemanticType.numeric),
            Column(name="contract", storage=StorageType.string, semantic=SemanticType.categorical),
        ],
    )
    split = split_domain_budget(table, 0.5, 1e-6, 0.1)
    domains = fit_domains(data, table, split.budget, 64, seed=0, marginal_scale=60.0)
    tenure_domain, charges_domain = domains[0], domains[1]
    assert tenure_domain.low == 0 and tenure_domain.high >= 72
    assert charges_domain.low == 0 and charges_domain.high >= 0.9 * data["charges"].max()
    # fewer bins than 64: about 7,000 rows over 4 x 60 per bin
    assert 8 <= tenure_domain.values < 64
    bounds_parts = [p for p in split.budget.parts if "(bounds)" in p["mechanism"]]
    assert all("quantiles skipped" in p["mechanism"] for p in bounds_parts)
    assert sum(p["rho"] for p in split.budget.parts) == pytest.approx(split.rho_domains)


@pytest.mark.parametrize("model", ["dp_mst", "dp_copula"])
def test_the_models_still_spend_exactly_their_block(model: str) -> None:
    data = pd.DataFrame({"x": tenure_like(3000), "y": tenure_like(3000)[::-1]})
    numeric = SemanticType.numeric
    table = Table(
        name="t",
        columns=[
            Column(name="x", storage=StorageType.float, semantic=numeric),
            Column(name="y", storage=StorageType.float, semantic=numeric),
        ],
    )
    spent = get_model(model, epsilon=0.5).fit(data, table, seed=0).privacy_spent()
    assert spent["epsilon"] <= 0.5
    assert sum(p["rho"] for p in spent["parts"]) == pytest.approx(spent["rho"])


# ---- the empirical neighbouring-dataset check on the new releases -------------------------------

EPSILON, DELTA = 2.0, 1e-2


def _pooled_rows(values: np.ndarray, rho: float, seed: int) -> float:
    """The noisy row count from the pooled magnitude histograms (no refinement at this size)."""
    first, scale = magnitude_histogram(values, rho / 6.0, seed)
    return coarse_range(values, first, scale, rho * 5.0 / 6.0, seed).rows


def test_the_pooled_magnitude_histogram_stays_within_the_dp_bound() -> None:
    rho = zcdp_rho(EPSILON, DELTA)
    # every value in one magnitude bin, so the count is (nearly always) that bin's alone
    values = np.full(60, 5.0)
    neighbour = np.concatenate((values, [5.0]))

    def release(rows: np.ndarray, seed: int) -> float:
        return _pooled_rows(rows, rho, seed)

    def broken(rows: np.ndarray, seed: int) -> float:
        return _pooled_rows(rows, 4.0 * rho, seed)  # half the noise for the same accounting

    assert worst_dp_excess(release, values, neighbour, EPSILON, DELTA) <= 0.0
    assert worst_dp_excess(broken, values, neighbour, EPSILON, DELTA) > 0.0


def test_dp_bounds_stay_within_the_dp_bound_when_an_outlier_joins() -> None:
    rho = zcdp_rho(EPSILON, DELTA)
    values = np.repeat([3.0, 5.0, 6.0], [30, 30, 20])
    neighbour = np.concatenate((values, [100.0]))  # one far value: the high end's worst case

    def release(rows: np.ndarray, seed: int) -> float:
        return dp_bounds(rows, rho, 1.0, seed).high

    assert worst_dp_excess(release, values, neighbour, EPSILON, DELTA, draws=1500) <= 0.0
