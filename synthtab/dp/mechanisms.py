"""DP primitives on diffprivlib's mechanisms: noisy counts, quantiles for bounds, category sets.

diffprivlib parametrises its Gaussian mechanisms by (epsilon, delta); SynthTab accounts Gaussian
noise in zCDP (see ``synthtab.dp.accountant``), so the two Gaussian classes below are
diffprivlib's samplers at a scale set by the caller: rho = sensitivity^2 / (2 scale^2).

Every function takes a seed and is deterministic given it (same seed, same bytes).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
from scipy.special import ndtri


@cache
def _diffprivlib(module: str) -> ModuleType:
    """A diffprivlib submodule. diffprivlib 0.6.6's package ``__init__`` imports its ML models,
    which fail on scikit-learn >= 1.8 (``sklearn.tree._tree.DOUBLE`` is gone); the mechanisms and
    tools do not need them, so when that import fails the package is loaded as a bare shell and
    only the submodules asked for are imported."""
    try:
        importlib.import_module("diffprivlib")
    except ImportError:
        spec = importlib.util.find_spec("diffprivlib")
        if spec is None:
            raise ImportError("diffprivlib is not installed: pip install diffprivlib") from None
        sys.modules["diffprivlib"] = importlib.util.module_from_spec(spec)
    return importlib.import_module(f"diffprivlib.{module}")


def _mechanisms() -> Any:
    return _diffprivlib("mechanisms")


def _random_state(seed: int) -> np.random.RandomState:
    # diffprivlib draws from a RandomState (through check_random_state)
    return np.random.RandomState(np.random.SeedSequence(seed).generate_state(1)[0])


def gaussian_scale(rho: float, sensitivity: float) -> float:
    """The noise scale of a rho-zCDP Gaussian measurement of L2 sensitivity ``sensitivity``."""
    if rho <= 0.0:
        raise ValueError(f"rho must be positive, not {rho}")
    return sensitivity / math.sqrt(2.0 * rho)


def noisy_values(values: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """Values plus Gaussian noise of ``scale``: for a vector of L2 sensitivity D,
    rho = D^2 / (2 scale^2)-zCDP. Counts get this continuous Gaussian too (the same rho).

    The noise is drawn as diffprivlib's Gaussian mechanism draws it (the mean of two standard
    normals times sqrt 2, from a seeded RandomState) but for the whole vector at once:
    diffprivlib's ``randomise`` checks its arguments on every call, ~200 us a value, and a
    two-way marginal has thousands of cells.
    """
    shape = np.shape(values)
    random_state = _random_state(seed)
    size = int(np.prod(shape))
    standard = (
        random_state.standard_normal(size) + random_state.standard_normal(size)
    ) / math.sqrt(2.0)
    return np.asarray(values, dtype=float) + scale * standard.reshape(shape)


def laplace_counts(counts: np.ndarray, epsilon: float, seed: int) -> np.ndarray:
    """A histogram under epsilon-DP (sensitivity 1: one row is in one cell): Laplace noise."""
    mechanism = _mechanisms().Laplace(
        epsilon=epsilon, sensitivity=1.0, random_state=_random_state(seed)
    )
    flat = np.asarray(counts, dtype=float).ravel()
    noisy = np.fromiter((mechanism.randomise(float(c)) for c in flat), float, flat.size)
    return noisy.reshape(np.shape(counts))


def exponential_choice(utility: np.ndarray, epsilon: float, sensitivity: float, seed: int) -> int:
    """The index chosen by the exponential mechanism (epsilon-DP, epsilon^2/8-zCDP)."""
    utility = np.asarray(utility, dtype=float)
    if utility.size == 1:
        return 0
    # diffprivlib's candidates must be distinct; indices are, and utility is relative anyway
    mechanism = _mechanisms().Exponential(
        epsilon=epsilon,
        sensitivity=sensitivity,
        utility=list(utility - utility.max()),
        random_state=_random_state(seed),
    )
    return int(mechanism.randomise())


# ---------------------------------------------------------------------------------------------
# bounds: a noisy histogram over power-of-two magnitudes gives a coarse public range (as
# smartnoise's approx_bounds does), then exponential-mechanism quantiles inside it refine it

_MAGNITUDES = np.arange(-20, 64)  # |x| in [2^k, 2^(k+1)); smaller |x| share the zero bin


def _magnitude_edges() -> np.ndarray:
    positive = 2.0 ** _MAGNITUDES.astype(float)
    return np.concatenate((-positive[::-1], [0.0], positive))


_REFINE_BINS = 32
_REFINEMENTS = 2
_REFINE_MIN_SCALES = 16.0


def _occupied(noisy: np.ndarray, scale: float) -> np.ndarray:
    found = np.flatnonzero(noisy > 4.0 * scale)
    return found if found.size else np.array([int(np.argmax(noisy))])


def _above_noise(noisy: np.ndarray, scale: float) -> bool:
    """Whether any bin's noisy count clears four noise scales (else the range is the loudest
    bin of pure noise, anywhere from 2^-20 to 2^63)."""
    return bool((noisy > 4.0 * scale).any())


def coarse_range(values: np.ndarray, scale: float, seed: int) -> tuple[float, float, bool]:
    """A public range holding the values: the lowest to the highest power-of-two bin whose noisy
    count exceeds four noise scales, then twice narrowed the same way with 32 equal bins inside
    (dates sit far from 0, so powers of two alone leave them a range years too wide).

    Three histograms, each row in one bin of each: rho = 3 / (2 scale^2)-zCDP in all; the
    thresholds are post-processing of histograms over public bins, so they cost nothing more.
    The third value says whether the first histogram had a bin above the noise at all.
    """
    values = np.asarray(values, dtype=float)
    edges = _magnitude_edges()
    index = np.searchsorted(edges, values, side="right")
    noisy = noisy_values(np.bincount(index, minlength=edges.size + 1), scale, seed)
    found, signal = _occupied(noisy, scale), _above_noise(noisy, scale)
    padded = np.concatenate(([-(2.0**64)], edges, [2.0**64]))
    low, high = float(padded[found.min()]), float(padded[found.max() + 1])
    total = float(noisy.sum())
    for round_ in range(_REFINEMENTS):
        # a bin of a thinly spread column sinks under the threshold although it holds values,
        # and the range would lose them: refine only where an average bin stands far above the
        # noise (a missed bin narrows the range and cuts real values; the quantiles that follow
        # narrow it anyway, with a known error). The decision reads released counts only.
        if total / _REFINE_BINS < _REFINE_MIN_SCALES * scale:
            break
        grid = np.linspace(low, high, _REFINE_BINS + 1)
        inside = np.clip(np.searchsorted(grid, values, side="right") - 1, 0, _REFINE_BINS - 1)
        counts = np.bincount(inside, minlength=_REFINE_BINS)
        found = _occupied(noisy_values(counts, scale, seed + 1 + round_), scale)
        low, high = float(grid[found.min()]), float(grid[found.max() + 1])
    return low, high, signal


def dp_quantile(
    values: np.ndarray, quantile: float, epsilon: float, bounds: tuple[float, float], seed: int
) -> float:
    """The ``quantile`` of ``values`` under epsilon-DP within public ``bounds`` (epsilon^2 / 8-
    zCDP): the exponential mechanism over the intervals between sorted values, each weighted by
    its width, utility minus the distance of its rank to the quantile's (Smith 2011), as
    diffprivlib's ``tools.quantile`` does, but on utilities shifted to a maximum of 0 (diffprivlib
    exponentiates them unshifted, and they underflow to 0 / 0 at large n * epsilon)."""
    low, high = bounds
    ordered = np.sort(np.clip(np.asarray(values, dtype=float), low, high))
    edges = np.concatenate(([low], ordered, [high]))
    widths = np.diff(edges)
    utility = -np.abs(np.arange(widths.size) - quantile * ordered.size)
    usable = widths > 0
    if not usable.any():
        return float(low)
    # the width enters as a log-weight, so the choice is among intervals, with probability
    # proportional to width * exp(epsilon * utility / 2)
    scores = utility[usable] + 2.0 / epsilon * np.log(widths[usable])
    chosen = exponential_choice(scores, epsilon, 1.0, seed)
    start = edges[:-1][usable][chosen]
    rng = np.random.default_rng([seed, 11])
    return float(start + widths[usable][chosen] * rng.random())


@dataclass(frozen=True)
class BoundsRelease:
    low: float
    high: float
    coarse: tuple[float, float]
    # False: no magnitude bin stood above the noise, so the range is a guess (too few rows
    # for the budget); declare the column's bounds to avoid it
    signal: bool = True


def dp_bounds(
    values: np.ndarray,
    coarse_scale: float,
    quantile_epsilon: float,
    resolution: float,
    seed: int,
    tail: float = 0.005,
) -> BoundsRelease:
    """(low, high) of ``values`` (no nulls): ``coarse_range`` (rho = 3 / (2 coarse_scale^2)),
    then the ``tail`` and 1 - ``tail`` quantiles at ``quantile_epsilon`` / 2 each.

    Values are jittered by up to half their ``resolution`` (1 for integers) first: tied values
    leave the exponential mechanism only zero-width intervals to choose, which it cannot; the
    jitter is per row and independent of the data, so neighbouring datasets stay neighbours.
    Bounds are then rounded to the resolution, back onto values the source can hold.
    """
    found_low, found_high, signal = coarse_range(values, coarse_scale, seed)
    # widened by the jitter, so jittered values do not pile up (tie) at the range's edges
    coarse = (found_low - resolution / 2.0, found_high + resolution / 2.0)
    rng = np.random.default_rng([seed, 7])
    jittered = np.asarray(values, dtype=float) + resolution * (rng.random(len(values)) - 0.5)
    low = dp_quantile(jittered, tail, quantile_epsilon / 2.0, coarse, seed + 1)
    high = dp_quantile(jittered, 1.0 - tail, quantile_epsilon / 2.0, coarse, seed + 2)
    low, high = min(low, high), max(low, high)
    if resolution > 0:  # 0: a float column without a known precision keeps every digit
        # a jittered value within half a resolution of v rounds back to v
        low = round(low / resolution) * resolution
        high = round(high / resolution) * resolution
    return BoundsRelease(low=float(low), high=float(high), coarse=coarse, signal=signal)


# ---------------------------------------------------------------------------------------------
# category sets: Gaussian noisy counts of the values seen, kept above a threshold


@dataclass(frozen=True)
class CategoryRelease:
    values: list[Any]  # the released categories, most frequent first
    noisy_counts: list[float]
    threshold: float


def category_threshold(scale: float, delta: float) -> float:
    """The count a category's noisy count must exceed: a category only one row has is released
    with probability at most ``delta`` (1 + scale * z_{1 - delta})."""
    return 1.0 + scale * float(-ndtri(delta))


def dp_category_set(values: Any, scale: float, delta: float, seed: int) -> CategoryRelease:
    """The categories of ``values`` (nulls left out) whose discrete-Gaussian noisy count exceeds
    ``category_threshold``. For one column: rho = 1 / (2 scale^2)-zCDP plus delta (the chance
    that a category present in one row only shows up)."""
    import pandas as pd

    counts = pd.Series(values).dropna().value_counts(sort=False)
    noisy = noisy_values(counts.to_numpy(), scale, seed)
    threshold = category_threshold(scale, delta)
    kept = noisy > threshold
    order = np.argsort(-noisy[kept], kind="stable")
    released = [counts.index[kept][i] for i in order]
    return CategoryRelease(
        values=[v.item() if isinstance(v, np.generic) else v for v in released],
        noisy_counts=[float(c) for c in noisy[kept][order]],
        threshold=threshold,
    )
