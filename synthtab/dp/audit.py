"""An empirical check of a DP release on one pair of neighbouring datasets: how far the release's
output distribution on one exceeds e^epsilon times the other's (plus delta), over many seeds.

It cannot prove privacy (one pair, threshold sets only); it catches a release whose noise is
too small for its accounting, which is what the tests use it for.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# a release of a scalar statistic: (the dataset, a seed) -> the released value
Release = Callable[[np.ndarray, int], float]


def worst_dp_excess(
    release: Release,
    dataset: np.ndarray,
    neighbour: np.ndarray,
    epsilon: float,
    delta: float,
    draws: int = 3000,
) -> float:
    """max over S = {x < t} and {x >= t} of P[M(D) in S] - e^eps P[M(D') in S] - delta, both
    ways round, each less three standard errors of sampling slack: > 0 is a violation that the
    sampling error does not explain. ``draws`` seeds per dataset (distinct seeds for each)."""
    first = np.array([release(dataset, seed) for seed in range(draws)])
    second = np.array([release(neighbour, 100_000 + seed) for seed in range(draws)])
    thresholds = np.quantile(np.concatenate((first, second)), np.linspace(0.01, 0.99, 99))
    worst = -math.inf
    for a, b in ((first, second), (second, first)):
        for t in thresholds:
            for p_a, p_b in (((a < t).mean(), (b < t).mean()), ((a >= t).mean(), (b >= t).mean())):
                slack = 3 * (
                    math.sqrt(p_a * (1 - p_a) / draws)
                    + math.exp(epsilon) * math.sqrt(p_b * (1 - p_b) / draws)
                )
                worst = max(worst, p_a - math.exp(epsilon) * p_b - delta - slack)
    return worst
