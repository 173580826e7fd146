"""dp_copula: it never spends more than asked, accounts every part, keeps the dependence it is
meant to keep, and, empirically, its correlation release on neighbouring datasets stays within
e^epsilon (and fails to when its noise is halved)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from synthtab.dp import zcdp_epsilon, zcdp_rho
from synthtab.dp.mechanisms import gaussian_scale
from synthtab.models.dp_copula import release_score_products
from synthtab.models.registry import get_model, load_model
from synthtab.schema import Column, SemanticType, StorageType, Table


def _table() -> tuple[pd.DataFrame, Table]:
    rng = np.random.default_rng(0)
    n = 6000
    age = rng.integers(18, 80, n)
    income = np.round(age * 800 + rng.normal(0, 6000, n)).clip(0)
    segment = np.where(age > 55, "senior", np.where(rng.random(n) < 0.6, "basic", "plus"))
    data = pd.DataFrame({"age": age, "segment": segment, "income": income})
    table = Table(
        name="people",
        columns=[
            Column(name="age", storage=StorageType.integer, semantic=SemanticType.numeric),
            Column(name="segment", storage=StorageType.string, semantic=SemanticType.categorical),
            Column(name="income", storage=StorageType.float, semantic=SemanticType.numeric),
        ],
    )
    return data, table


@pytest.mark.parametrize("epsilon", [0.5, 3.0])
def test_spends_at_most_epsilon_and_keeps_the_correlation(epsilon: float, tmp_path) -> None:
    data, table = _table()
    model = get_model("dp_copula", epsilon=epsilon, delta=1e-6).fit(data, table, seed=0)
    spent = model.privacy_spent()
    assert spent["epsilon"] <= epsilon
    assert spent["delta"] <= 1e-6 * (1 + 1e-12)
    assert sum(p["rho"] for p in spent["parts"]) == pytest.approx(spent["rho"])
    assert zcdp_epsilon(spent["rho"], 1e-6 * 0.75) <= epsilon * (1 + 1e-9)
    touched = " ".join(p["touched"] for p in spent["parts"])
    for name in table.column_names:  # bounds / categories were released with DP, not read
        assert name in touched
    synthetic = model.sample(6000, seed=1)
    real_corr = data["age"].corr(data["income"])
    assert synthetic["age"].corr(synthetic["income"]) == pytest.approx(real_corr, abs=0.1)
    seniors = synthetic.loc[synthetic["segment"] == "senior", "age"]
    assert seniors.mean() > synthetic["age"].mean() + 5
    model.save(tmp_path / "m.zip")
    again = load_model("dp_copula", tmp_path / "m.zip").sample(50, seed=3)
    pd.testing.assert_frame_equal(again, model.sample(50, seed=3))


def test_declared_domains_cost_nothing_and_bound_the_rows() -> None:
    data, table = _table()
    declared = table.model_copy(
        update={
            "columns": [
                table.columns[0].model_copy(update={"minimum": 18, "maximum": 79}),
                table.columns[1].model_copy(update={"allowed_values": ["basic", "plus", "senior"]}),
                table.columns[2].model_copy(update={"minimum": 0, "maximum": 100_000}),
            ]
        }
    )
    model = get_model("dp_copula", epsilon=1.0).fit(data, declared, seed=0)
    mechanisms = [p["mechanism"] for p in model.privacy_spent()["parts"]]
    assert not any("bounds" in m or "category set" in m for m in mechanisms)
    synthetic = model.sample(3000, seed=1)
    assert synthetic["age"].between(18, 79).all()
    assert synthetic["income"].between(0, 100_000).all()
    assert set(synthetic["segment"].dropna()) <= {"basic", "plus", "senior"}


def _worst_excess(
    release: Callable[[np.ndarray, int], float], epsilon: float, delta: float, draws: int = 3000
) -> float:
    """max over S = {x < t} and {x >= t} of P[M(D) in S] - e^eps P[M(D') in S] - delta, less
    three standard errors of sampling slack, both ways round; > 0 is a violation. D' is D plus
    the row that moves the released products most: norm C, along one axis."""
    clip = 2.0
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(40, 2))
    scores *= np.minimum(1.0, clip / np.linalg.norm(scores, axis=1))[:, None]
    neighbour = np.vstack((scores, [[clip, 0.0]]))
    first = np.array([release(scores, seed) for seed in range(draws)])
    second = np.array([release(neighbour, 100_000 + seed) for seed in range(draws)])
    thresholds = np.quantile(np.concatenate((first, second)), np.linspace(0.01, 0.99, 99))
    worst = -np.inf
    for a, b in ((first, second), (second, first)):
        for t in thresholds:
            for p_a, p_b in (((a < t).mean(), (b < t).mean()), ((a >= t).mean(), (b >= t).mean())):
                slack = 3 * (
                    math.sqrt(p_a * (1 - p_a) / draws)
                    + math.exp(epsilon) * math.sqrt(p_b * (1 - p_b) / draws)
                )
                worst = max(worst, p_a - math.exp(epsilon) * p_b - delta - slack)
    return worst


def test_correlation_release_stays_within_the_dp_bound_and_halved_noise_does_not() -> None:
    epsilon, delta, clip = 2.0, 1e-2, 2.0
    scale = gaussian_scale(zcdp_rho(epsilon, delta), clip**2)

    def release(scores: np.ndarray, seed: int) -> float:
        return float(release_score_products(scores, scale, seed)[0, 0])

    def broken(scores: np.ndarray, seed: int) -> float:
        return float(release_score_products(scores, scale / 2.0, seed)[0, 0])

    assert _worst_excess(release, epsilon, delta) <= 0.0
    assert _worst_excess(broken, epsilon, delta) > 0.0
