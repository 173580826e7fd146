"""dp_copula's correlation release on neighbouring datasets stays within e^epsilon, empirically,
and fails to when its noise is halved. (What it shares with dp_mst, accounting, declared
domains and saving, is in tests/dp/test_marginal_models.py.)"""

from __future__ import annotations

import numpy as np

from synthtab.dp import zcdp_rho
from synthtab.dp.audit import worst_dp_excess
from synthtab.dp.mechanisms import gaussian_scale
from synthtab.models.dp_copula import release_score_products


def test_correlation_release_stays_within_the_dp_bound_and_halved_noise_does_not() -> None:
    epsilon, delta, clip = 2.0, 1e-2, 2.0
    scale = gaussian_scale(zcdp_rho(epsilon, delta), clip**2)

    def release(scores: np.ndarray, seed: int) -> float:
        return float(release_score_products(scores, scale, seed)[0, 0])

    def broken(scores: np.ndarray, seed: int) -> float:
        return float(release_score_products(scores, scale / 2.0, seed)[0, 0])

    # D' is D plus the row that moves the released products most: norm C, along one axis
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(40, 2))
    scores *= np.minimum(1.0, clip / np.linalg.norm(scores, axis=1))[:, None]
    neighbour = np.vstack((scores, [[clip, 0.0]]))
    assert worst_dp_excess(release, scores, neighbour, epsilon, delta) <= 0.0
    assert worst_dp_excess(broken, scores, neighbour, epsilon, delta) > 0.0
