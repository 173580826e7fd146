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
# smartnoise's approx_bounds does); where the budget allows, equal-width histograms inside refine
# it and exponential-mechanism quantiles trim its tails. Where it does not (small rho, few rows:
# decided from released counts only), that budget re-measures the magnitude histogram instead.

_MAGNITUDES = np.arange(-20, 64)  # |x| in [2^k, 2^(k+1)); smaller |x| share the zero bin


def _magnitude_edges() -> np.ndarray:
    positive = 2.0 ** _MAGNITUDES.astype(float)
    return np.concatenate((-positive[::-1], [0.0], positive))


_REFINE_BINS = 32
_REFINEMENTS = 2
_REFINE_MIN_SCALES = 16.0
# the bounds' rho: a sixth for the first magnitude histogram, half for the two quantiles, the
# rest for the refinements (or, where those are not worth it, a second magnitude histogram)
_FIRST_HISTOGRAM_SHARE = 1.0 / 6.0
_QUANTILE_SHARE = 0.5
# the exponential mechanism's rank error is at most (2 / epsilon) ln(n / beta) with probability
# 1 - beta (its utility guarantee over about n candidates; interval widths ignored)
_QUANTILE_FAILURE = 0.05
# a positive range whose low end is at most this share of its high end starts at 0 (mirrored
# for negative ranges): the bins below it held too few rows to clear the noise, not none
_EXTEND_TO_ZERO_RATIO = 0.25


def _occupied(noisy: np.ndarray, scale: float) -> np.ndarray:
    found = np.flatnonzero(noisy > 4.0 * scale)
    return found if found.size else np.array([int(np.argmax(noisy))])


def _contiguous_span(noisy: np.ndarray, scale: float) -> tuple[int, int]:
    """The first and last bin of the range: from the lowest to the highest bin above four noise
    scales, widened over neighbouring bins above two (the bin just past a range's end holds its
    few extreme rows, too few for four scales; a stray bin of pure noise clears two with 2.3%
    chance, and only next to the range does it count)."""
    found = _occupied(noisy, scale)
    first, last = int(found.min()), int(found.max())
    while first > 0 and noisy[first - 1] > 2.0 * scale:
        first -= 1
    while last < noisy.size - 1 and noisy[last + 1] > 2.0 * scale:
        last += 1
    return first, last


def _above_noise(noisy: np.ndarray, scale: float) -> bool:
    """Whether any bin's noisy count clears four noise scales (else the range is the loudest
    bin of pure noise, anywhere from 2^-20 to 2^63)."""
    return bool((noisy > 4.0 * scale).any())


def _magnitude_counts(values: np.ndarray) -> np.ndarray:
    edges = _magnitude_edges()
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)


def quantile_rank_error(epsilon: float, rows: float) -> float:
    """The rank error the exponential-mechanism quantile at ``epsilon`` stays within with
    probability 1 - 5% on ``rows`` values (a noisy count will do: the decision stays DP)."""
    return 2.0 / epsilon * math.log(max(rows, 2.0) / _QUANTILE_FAILURE)


def extended_to_zero(low: float, high: float) -> tuple[float, float]:
    """A positive range whose low end is at most a quarter of its high end, from 0 (mirrored for
    a negative one): the magnitude bins below its low end held too few rows to clear the noise,
    so values there are likely and the bins' own shares (zeroed where empty) sort them out.
    Post-processing of the release: free."""
    if low >= 0.0 and low < _EXTEND_TO_ZERO_RATIO * high:
        return 0.0, high
    if high <= 0.0 and -high < _EXTEND_TO_ZERO_RATIO * -low:
        return low, 0.0
    return low, high


@dataclass(frozen=True)
class CoarseRange:
    """A public range from noisy histograms: ``floor`` is its low end before ``extended_to_zero``
    (where the values start, for choosing linear or logarithmic bins)."""

    low: float
    high: float
    floor: float
    signal: bool
    rows: float  # a noisy count of the rows inside the range
    magnitude_scale: float  # the noise scale of the (pooled) magnitude histogram
    refinements: int


def magnitude_histogram(values: np.ndarray, rho: float, seed: int) -> tuple[np.ndarray, float]:
    """The values' counts over power-of-two magnitude bins with Gaussian noise (rho-zCDP: each
    row is in one bin), and the noise scale."""
    scale = gaussian_scale(rho, 1.0)
    return noisy_values(_magnitude_counts(np.asarray(values, dtype=float)), scale, seed), scale


def coarse_range(
    values: np.ndarray, first: np.ndarray, first_scale: float, rho_rest: float, seed: int
) -> CoarseRange:
    """A public range holding the values from ``first``, a released ``magnitude_histogram`` of
    noise scale ``first_scale``, and ``rho_rest`` more zCDP (each histogram has every row in one
    bin: L2 sensitivity 1). If an equal-width histogram at half of ``rho_rest`` would have its
    average bin ``_REFINE_MIN_SCALES`` noise scales high (``first``'s noisy count decides), the
    lowest to the highest magnitude bin above four noise scales is twice narrowed by 32 equal
    bins inside (dates sit far from 0, so powers of two alone leave them a range years too
    wide), each at half of ``rho_rest``; else ``rho_rest`` measures the magnitude histogram
    again and the two are pooled (their average weighted by precision), so no budget goes
    unused. Every decision reads released counts only."""
    values = np.asarray(values, dtype=float)
    noisy, scale = np.asarray(first, dtype=float), first_scale
    total = float(noisy[noisy > 2.0 * scale].sum())  # as in dp_bounds: a few bins' noise
    refine_scale = gaussian_scale(rho_rest / _REFINEMENTS, 1.0) if rho_rest > 0 else math.inf
    # a bin of a thinly spread column sinks under the threshold although it holds values,
    # and the range would lose them: refine only where an average bin stands far above the noise
    refine = total / _REFINE_BINS >= _REFINE_MIN_SCALES * refine_scale
    if not refine and rho_rest > 0:
        again, again_scale = magnitude_histogram(values, rho_rest, seed + 1 + _REFINEMENTS)
        weights = np.array([scale**-2.0, again_scale**-2.0])
        noisy = (weights[0] * noisy + weights[1] * again) / weights.sum()
        scale = float(weights.sum() ** -0.5)
    (first_bin, last_bin), signal = _contiguous_span(noisy, scale), _above_noise(noisy, scale)
    padded = np.concatenate(([-(2.0**64)], _magnitude_edges(), [2.0**64]))
    found_low, found_high = float(padded[first_bin]), float(padded[last_bin + 1])
    # the rows in the range, from released counts: the noise of a few bins, not of all 169
    rows = float(noisy[first_bin : last_bin + 1].sum())
    low, high = extended_to_zero(found_low, found_high)
    floor = abs(found_high) if high == 0.0 and found_high < 0.0 else abs(found_low)
    rounds = _REFINEMENTS if refine else 0
    for round_ in range(rounds):
        grid = np.linspace(low, high, _REFINE_BINS + 1)
        inside = np.clip(np.searchsorted(grid, values, side="right") - 1, 0, _REFINE_BINS - 1)
        counts = np.bincount(inside, minlength=_REFINE_BINS)
        refined = noisy_values(counts, refine_scale, seed + 1 + round_)
        first_bin, last_bin = _contiguous_span(refined, refine_scale)
        low, high = float(grid[first_bin]), float(grid[last_bin + 1])
        floor = max(floor, abs(low)) if low >= 0.0 else floor
    return CoarseRange(low, high, floor, signal, max(rows, 0.0), scale, rounds)


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
    # where the values start (the low end before a positive range was extended to 0): a range
    # many times wider than this is binned on a log scale
    floor: float = 0.0
    quantiles: bool = True  # False: the rank error would have been too large; not run
    refinements: int = 0
    rows: float = 0.0  # a noisy count of the values (released: free to use)


def dp_bounds(
    values: np.ndarray, rho: float, resolution: float, seed: int, tail: float = 0.005
) -> BoundsRelease:
    """(low, high) of ``values`` (no nulls), rho-zCDP in all: ``coarse_range`` on half of rho,
    then the ``tail`` and 1 - ``tail`` quantiles, a quarter of rho each, where their expected
    rank error (``quantile_rank_error`` at the coarse histogram's noisy row count) is at most
    ``tail`` of the rows; else the coarse range gets all of rho.

    Values are jittered by up to half their ``resolution`` (1 for integers) first: tied values
    leave the exponential mechanism only zero-width intervals to choose, which it cannot; the
    jitter is per row and independent of the data, so neighbouring datasets stay neighbours.
    Bounds are then rounded to the resolution, back onto values the source can hold.
    """
    rho_first = rho * _FIRST_HISTOGRAM_SHARE
    first, first_scale = magnitude_histogram(values, rho_first, seed)
    # a noisy row count (post-processing): the bins above two noise scales, as the sum of all
    # 169 would carry 13 scales of noise
    rows = float(first[first > 2.0 * first_scale].sum())
    rho_quantiles = rho * _QUANTILE_SHARE
    # two quantiles, each epsilon-DP, so each epsilon^2 / 8-zCDP: they share rho_quantiles
    epsilon_each = math.sqrt(8.0 * rho_quantiles / 2.0)
    use_quantiles = quantile_rank_error(epsilon_each, rows) <= tail * rows
    rho_rest = rho - rho_first - (rho_quantiles if use_quantiles else 0.0)
    found = coarse_range(values, first, first_scale, rho_rest, seed)
    # widened by the jitter, so jittered values do not pile up (tie) at the range's edges
    coarse = (found.low - resolution / 2.0, found.high + resolution / 2.0)
    low, high = found.low, found.high
    if use_quantiles:
        rng = np.random.default_rng([seed, 7])
        jittered = np.asarray(values, dtype=float) + resolution * (rng.random(len(values)) - 0.5)
        # seeds apart from the histograms' (seed .. seed + 3): independent noise per release
        low = dp_quantile(jittered, tail, epsilon_each, coarse, seed + 11)
        high = dp_quantile(jittered, 1.0 - tail, epsilon_each, coarse, seed + 12)
        low, high = min(low, high), max(low, high)
    if resolution > 0:  # 0: a float column without a known precision keeps every digit
        # a jittered value within half a resolution of v rounds back to v
        low = round(low / resolution) * resolution
        high = round(high / resolution) * resolution
    return BoundsRelease(
        low=float(low),
        high=float(high),
        coarse=coarse,
        signal=found.signal,
        floor=found.floor,
        quantiles=use_quantiles,
        refinements=found.refinements,
        rows=found.rows,
    )


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
