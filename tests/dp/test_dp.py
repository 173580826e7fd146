"""The DP accountant and primitives: composition adds up, overspending is refused, the zCDP
conversion is consistent, and, empirically, a release on neighbouring datasets stays within
e^epsilon (and fails to when its noise is halved)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from synthtab.dp import PrivacyAccountant, PrivacyBudgetExceeded, zcdp_epsilon, zcdp_rho
from synthtab.dp.audit import worst_dp_excess
from synthtab.dp.coded import release_one_way
from synthtab.dp.mechanisms import dp_bounds, dp_category_set, gaussian_scale, noisy_values


def test_sequential_composition_adds_up_and_refuses_overspending() -> None:
    accountant = PrivacyAccountant(epsilon=1.0, delta=1e-5)
    accountant.spend("Laplace", "column a", 0.25)
    accountant.spend("Gaussian block", "columns a, b", 0.5, 4e-6, rho=0.01)
    assert accountant.spent_epsilon == pytest.approx(0.75)
    assert accountant.spent_delta == pytest.approx(4e-6)
    assert [s.step for s in accountant.spends] == [1, 2]
    with pytest.raises(PrivacyBudgetExceeded) as refused:
        accountant.spend("exponential", "column c", 0.3)
    assert (
        "0.3" in str(refused.value) and "0.75" in str(refused.value) and "1" in str(refused.value)
    )
    assert refused.value.spent_epsilon == pytest.approx(0.75)
    assert len(accountant.spends) == 2  # nothing was spent
    with pytest.raises(PrivacyBudgetExceeded):
        accountant.spend("Gaussian", "column d", 0.1, delta=1e-5)  # delta runs out first
    accountant.spend("exponential", "column c", 0.25)  # exactly the rest is fine
    assert accountant.remaining_epsilon == pytest.approx(0.0)
    again = PrivacyAccountant.from_summary(accountant.summary())
    assert again.spent_epsilon == pytest.approx(1.0) and len(again.spends) == 3


def test_zcdp_conversion_round_trips_and_beats_the_simple_bound() -> None:
    for epsilon in (0.1, 1.0, 10.0):
        rho = zcdp_rho(epsilon, 1e-6)
        assert zcdp_epsilon(rho, 1e-6) <= epsilon * (1 + 1e-9)
        assert zcdp_epsilon(rho * 1.01, 1e-6) > epsilon  # the largest such rho
        simple = rho + 2 * math.sqrt(rho * math.log(1e6))
        assert zcdp_epsilon(rho, 1e-6) < simple


def test_released_marginal_stays_within_the_dp_bound_and_halved_noise_does_not() -> None:
    epsilon, delta = 2.0, 1e-2
    scale = gaussian_scale(zcdp_rho(epsilon, delta), 1.0)

    codes = np.repeat([0, 1, 2], [5, 7, 9])
    neighbour = np.concatenate((codes, [0]))  # one more row, in cell 0

    def release(rows: np.ndarray, seed: int) -> float:
        return float(release_one_way(rows, 3, scale, seed)[0])

    def broken(rows: np.ndarray, seed: int) -> float:
        return float(release_one_way(rows, 3, scale / 2.0, seed)[0])

    assert worst_dp_excess(release, codes, neighbour, epsilon, delta) <= 0.0
    assert worst_dp_excess(broken, codes, neighbour, epsilon, delta) > 0.0


def test_noise_is_seeded_and_has_the_asked_scale() -> None:
    first = noisy_values(np.zeros(20_000), 3.0, seed=4)
    np.testing.assert_array_equal(first, noisy_values(np.zeros(20_000), 3.0, seed=4))
    assert first.std() == pytest.approx(3.0, rel=0.03)


def test_dp_bounds_find_the_range_of_ages_and_dates() -> None:
    rng = np.random.default_rng(0)
    ages = rng.integers(18, 80, 20_000).astype(float)
    release = dp_bounds(ages, rho=0.1, resolution=1.0, seed=1)
    assert release.quantiles  # 20,000 rows: the rank error is well inside the tail
    assert 16 <= release.low <= 20 and 77 <= release.high <= 82
    days = 86_400e9
    stamps = (1.5e18 + days * rng.integers(0, 2000, 20_000)).astype(float)
    release = dp_bounds(stamps, rho=0.1, resolution=days, seed=1)
    assert 1.5e18 - 30 * days <= release.low <= 1.5e18 + 30 * days
    assert 1.5e18 + 1970 * days <= release.high <= 1.5e18 + 2030 * days
    assert release.signal


def test_dp_bounds_say_when_the_rows_are_too_few_for_the_noise() -> None:
    ages = np.random.default_rng(0).integers(18, 80, 200).astype(float)
    # 200 rows spread over a few power-of-two bins, pooled noise of scale 71: nothing stands out
    release = dp_bounds(ages, rho=1e-4, resolution=1.0, seed=1)
    assert not release.signal
    assert dp_bounds(ages, rho=0.1, resolution=1.0, seed=1).signal


def test_category_set_keeps_frequent_values_and_drops_a_one_row_value() -> None:
    values = pd.Series(["a"] * 500 + ["b"] * 200 + ["rare"], dtype="string")
    release = dp_category_set(values, scale=5.0, delta=1e-6, seed=0)
    assert release.values == ["a", "b"]
    assert release.threshold > 20
