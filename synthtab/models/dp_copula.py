"""A differentially private Gaussian copula for larger budgets: noisy marginals and a noisy
correlation matrix.

1. Domains: each column becomes a few ordered codes (``synthtab.dp.domain``): declared bounds and
   categories are free; missing ones are released with DP from this model's budget.
2. Every column's 1-way marginal is measured with Gaussian noise (as dp_mst does); the denoised
   shares give each code an interval of the unit scale, its piece of the column's CDF.
3. Each row becomes a vector of normal scores (a uniform draw inside its code's interval, through
   the normal quantile) clipped to L2 norm C, so one row changes the sum of outer products
   ``Z^T Z`` by at most C^2 (Frobenius, hence also on its upper triangle): the upper triangle is
   released with Gaussian noise of that sensitivity.
4. Post-processing, free: the noisy sum becomes a correlation (divided by its noisy diagonal),
   is corrected for the ties of discrete codes (Mehler's formula, as the non-private copula does,
   from the released marginals alone) and made a valid correlation matrix (``regularised``).

Sampling draws latents from that normal, maps each through its column's noisy CDF to a code and
decodes the code to a value inside its bin at the source's precision.

Accounting: the whole fit is one zCDP block (rho from the model's (epsilon, delta) by the
Canonne-Kamath-Steinke conversion) split over domains, marginals and the correlation;
``privacy_spent()`` lists each part.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.special import ndtr, ndtri

from synthtab.dp.coded import (
    MarginalDPModel,
    MarginalDPSettings,
    MarginalRelease,
    block_summary,
    code_table,
    decode_table,
    fitted_state,
    release_marginals,
)
from synthtab.dp.domain import learned_columns
from synthtab.dp.mechanisms import gaussian_scale, noisy_values
from synthtab.models.copula import (
    hermite_profile,
    latent_correlation,
    psd_root,
    regularised,
)
from synthtab.schema import Table

# scores are drawn at most this far into a CDF's tails: |z| <= 4.75
_UNIFORM_EPS = 1e-6


class DPCopulaSettings(MarginalDPSettings):
    """What a user may tune; recorded in the run manifest."""

    epsilon: float = Field(default=3.0, gt=0.0, description="this model's privacy budget")
    max_bins: int = Field(default=64, ge=2, le=1024, description="bins per numeric column")
    marginal_share: float = Field(
        default=0.6,
        gt=0.0,
        lt=1.0,
        description="share of the rest for the 1-way marginals; the correlation gets the rest",
    )
    clip_norm: float | None = Field(
        default=None,
        gt=0.0,
        description="L2 norm each row's score vector is clipped to (default sqrt(d + "
        "2 sqrt(2d)): the mean plus two standard deviations of a chi-square with d degrees)",
    )
    eigenvalue_floor: float = Field(default=1e-3, gt=0.0, lt=1.0)


def default_clip_norm(dimensions: int) -> float:
    """sqrt(d + 2 sqrt(2d)): most rows of d independent standard scores are not clipped."""
    return math.sqrt(dimensions + 2.0 * math.sqrt(2.0 * dimensions))


def code_intervals(shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each code's [low, high] piece of the unit interval: the CDF of the released shares."""
    cumulative = np.clip(np.cumsum(shares), 0.0, 1.0)
    cumulative[-1] = 1.0
    return np.concatenate(([0.0], cumulative[:-1])), cumulative


def clipped_scores(
    codes: np.ndarray, intervals: list[tuple[np.ndarray, np.ndarray]], clip: float, seed: int
) -> np.ndarray:
    """Normal scores of every row (a uniform draw inside its code's interval), each row's vector
    scaled down to L2 norm ``clip`` where longer. The draws are per row and independent of the
    data, so neighbouring datasets still differ in one row's vector only."""
    rng = np.random.default_rng([seed, 23])
    z = np.empty(codes.shape, dtype=float)
    for j, (low, high) in enumerate(intervals):
        a, b = low[codes[:, j]], high[codes[:, j]]
        u = a + (b - a) * rng.random(codes.shape[0])
        z[:, j] = ndtri(np.clip(u, _UNIFORM_EPS, 1.0 - _UNIFORM_EPS))
    norms = np.linalg.norm(z, axis=1)
    return z * np.minimum(1.0, clip / np.maximum(norms, 1e-300))[:, None]


def release_score_products(z: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """``Z^T Z`` with Gaussian noise of ``scale`` on its upper triangle (diagonal included),
    mirrored: one row of norm <= C moves the triangle by at most C^2 in L2."""
    d = z.shape[1]
    upper = np.triu_indices(d)
    products = (z.T @ z)[upper]
    noisy = np.zeros((d, d))
    noisy[upper] = noisy_values(products, scale, seed)
    return noisy + np.triu(noisy, 1).T


def correlation_from_products(products: np.ndarray) -> np.ndarray:
    """A correlation from a noisy ``Z^T Z``: divided by its (noisy) diagonal, clipped to
    [-1, 1]. Post-processing of the release."""
    diagonal = np.sqrt(np.maximum(np.diag(products), 1.0))
    corr = np.clip(products / np.outer(diagonal, diagonal), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return corr


class DPCopulaSynthesizer(MarginalDPModel):
    """Gaussian copula over DP marginals and a DP correlation; see the module docstring."""

    name: ClassVar[str] = "dp_copula"
    settings_class: ClassVar[type[MarginalDPSettings]] = DPCopulaSettings
    file_format: ClassVar[str] = "synthtab.dp_copula"
    _settings: DPCopulaSettings

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        settings = self._settings
        share = settings.marginal_share if learned_columns(table) > 1 else 1.0
        coded, split = code_table(data, table, settings, seed, share)
        parts = list(split.budget.parts)
        d = coded.width
        rho_left = split.rho - split.rho_domains
        shares: list[np.ndarray] = []
        marginals: MarginalRelease | None = None
        correlation = np.eye(d)
        if d:
            rho_one = rho_left * settings.marginal_share if d > 1 else rho_left
            marginals = release_marginals(coded, rho_one, seed)
            shares = marginals.shares
            parts.append(marginals.part)
        if d > 1:
            rho_corr = rho_left - rho_one
            clip = settings.clip_norm or default_clip_norm(d)
            scale_corr = gaussian_scale(rho_corr, clip**2)
            intervals = [code_intervals(s) for s in shares]
            z = clipped_scores(coded.codes, intervals, clip, seed + 401)
            products = release_score_products(z, scale_corr, seed + 409)
            profiles = np.vstack([hermite_profile(low, high) for low, high in intervals])
            correlation = regularised(
                latent_correlation(correlation_from_products(products), profiles),
                settings.eigenvalue_floor,
            )
            parts.append(
                {
                    "mechanism": "Gaussian noise on the sum of outer products of normal scores "
                    f"(rows clipped to L2 norm {clip:.3g}; sensitivity {clip**2:.3g})",
                    "touched": f"{d} columns' normal scores, {d * (d + 1) // 2} products",
                    "rho": rho_corr,
                    "scale": scale_corr,
                }
            )
        privacy = block_summary(
            "dp_copula: noisy marginals and a noisy correlation (zCDP block)",
            split,
            settings.epsilon,
            parts,
        )
        self._fitted = fitted_state(
            table, coded, privacy, marginals, shares=shares, correlation=correlation
        )
        return self

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        fitted, domains, learned = self._sampling_start(n, conditions)
        rng = np.random.default_rng(seed)
        shares: list[np.ndarray] = fitted["shares"]
        d = len(learned)
        latents = rng.standard_normal((n, d)) @ psd_root(fitted["correlation"]).T
        uniform = ndtr(latents)
        codes = np.empty((n, d), dtype=np.int64)
        for j in range(d):
            _, high = code_intervals(shares[j])
            codes[:, j] = np.minimum(np.searchsorted(high, uniform[:, j], "right"), high.size - 1)
        return decode_table(domains, learned, codes, shares, rng)

    def _payload(self, fitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {f"shares_{j}": s for j, s in enumerate(fitted["shares"])}
        return {}, arrays | {"correlation": fitted["correlation"]}

    @classmethod
    def _from_payload(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        return {
            "shares": [arrays[f"shares_{j}"] for j in range(len(meta["learned"]))],
            "correlation": arrays["correlation"],
        }
