"""What the marginal-based DP models (dp_mst, dp_copula) share: the table as codes over DP
domains, the noisy 1-way marginals, the zCDP block's summary and the decoding back to a table.

Each model then adds its own dependence structure on the codes (a tree of noisy pairs, a noisy
correlation); everything here is either a DP release accounted in the caller's block or
post-processing of one.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthtab.dp.accountant import zcdp_epsilon
from synthtab.dp.domain import (
    BudgetSplit,
    ColumnDomain,
    fit_domains,
    learned_columns,
    split_domain_budget,
)
from synthtab.dp.mechanisms import gaussian_scale, noisy_values
from synthtab.models.archive import read_model_archive, write_model_archive
from synthtab.models.base import Synthesizer
from synthtab.models.copula import restore_dtype
from synthtab.schema import Table

# the kinds a model learns codes for; ids and empty columns are made up at sampling
_LEARNED_KINDS = ("numeric", "datetime", "categorical")


def check_fit_input(data: pd.DataFrame, table: Table) -> None:
    """A clear error for data the table does not describe, or no rows at all."""
    absent = [name for name in table.column_names if name not in data.columns]
    if absent:
        raise ValueError(f"table {table.name!r}: the data has no column(s) {absent}")
    if len(data) == 0:
        raise ValueError(f"table {table.name!r}: cannot fit on a table without rows")


def check_sample_request(model: str, n: int, conditions: pd.DataFrame | None) -> None:
    if conditions is not None and conditions.shape[1] > 0:
        raise NotImplementedError(f"{model} does not condition on fixed values")
    if n < 0:
        raise ValueError(f"cannot sample {n} rows")


@dataclass(frozen=True)
class CodedTable:
    """The rows as codes: ``codes[:, j]`` are column ``learned[j]``'s codes, ``sizes[j]`` its
    number of codes."""

    domains: list[ColumnDomain]
    learned: list[int]
    sizes: list[int]
    codes: np.ndarray

    @property
    def width(self) -> int:
        return len(self.learned)

    def name(self, j: int) -> str:
        return self.domains[self.learned[j]].name


class MarginalDPSettings(BaseModel):
    """The settings every marginal-based DP model has; recorded in the run manifest."""

    model_config = ConfigDict(extra="forbid")

    epsilon: float = Field(default=1.0, gt=0.0, description="this model's privacy budget")
    delta: float = Field(default=1e-6, gt=0.0, lt=1.0)
    max_bins: int = Field(default=32, ge=2, le=1024, description="bins per numeric column")
    domain_share: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="share of the zCDP budget for bounds and category sets the schema does not "
        "declare (unused when it declares them all); default: default_domain_share(epsilon)",
    )
    tail: float = Field(default=0.005, gt=0.0, lt=0.5, description="bounds leave out this tail")


def marginal_scale(split: BudgetSplit, marginal_share: float, width: int) -> float | None:
    """The noise scale of ``release_marginals`` at ``marginal_share`` of what the domains leave
    (public: from the budget and the schema alone)."""
    rho = (split.rho - split.rho_domains) * marginal_share
    return gaussian_scale(rho, math.sqrt(width)) if width and rho > 0 else None


# below epsilon 1 the domain releases get 0.3 of the block, else 0.1. Measured (seed 0, the dp
# suite's split, SDMetrics quality): at epsilon 0.5 a share of 0.3 over 0.1 raised telco_churn
# from .906 to .916 (dp_mst) and credit_data from .886 to .900 (dp_copula): a category of 680
# rows and the top of a range clear the noise; at epsilon 1 it made no consistent difference
LOW_EPSILON = 1.0
LOW_EPSILON_DOMAIN_SHARE = 0.3
DOMAIN_SHARE = 0.1


def default_domain_share(epsilon: float) -> float:
    """The share of a model's block for the domains the schema leaves undeclared."""
    return LOW_EPSILON_DOMAIN_SHARE if epsilon < LOW_EPSILON else DOMAIN_SHARE


def code_table(
    data: pd.DataFrame,
    table: Table,
    settings: MarginalDPSettings,
    seed: int,
    marginal_share: float | None = None,
) -> tuple[CodedTable, BudgetSplit]:
    """The model's (epsilon, delta) as one zCDP block, every column's domain (declared, or
    released from the block's domain share, recorded in ``split.budget.parts``), and the rows
    encoded over the learned columns. ``marginal_share``: the share of the block after domains
    that the model spends on its 1-way marginals; given, released numeric columns get as many
    bins as that noise leaves worth having (``synthtab.dp.domain.bins_for``)."""
    check_fit_input(data, table)
    data = data.reset_index(drop=True)
    share = settings.domain_share or default_domain_share(settings.epsilon)
    split = split_domain_budget(table, settings.epsilon, settings.delta, share)
    scale = (
        marginal_scale(split, marginal_share, learned_columns(table))
        if marginal_share is not None
        else None
    )
    domains = fit_domains(data, table, split.budget, settings.max_bins, seed, settings.tail, scale)
    learned = [k for k, domain in enumerate(domains) if domain.kind in _LEARNED_KINDS]
    codes = (
        np.column_stack([domains[k].encode(data[domains[k].name]) for k in learned])
        if learned
        else np.zeros((len(data), 0), np.int64)
    )
    return CodedTable(domains, learned, [domains[k].size for k in learned], codes), split


def release_one_way(codes: np.ndarray, size: int, scale: float, seed: int) -> np.ndarray:
    """A column's noisy histogram (one row in one cell; the vector's L2 sensitivity is 1)."""
    return noisy_values(np.bincount(codes, minlength=size), scale, seed)


def denoised_shares(noisy: np.ndarray, scale: float) -> np.ndarray:
    """Shares from noisy counts: cells below two noise scales set to 0 (a real count that small
    is lost in the noise anyway; an empty cell passes with 2.3% chance), normalised to sum to 1.
    Post-processing: it costs no budget."""
    kept = np.where(noisy > 2.0 * scale, noisy, 0.0)
    if not kept.any():
        kept = np.where(noisy >= noisy.max(), 1.0, 0.0)
    # kept cells are positive: normalising keeps the zeros at zero (a projection onto the
    # simplex would lift every cell when the kept counts sum below the noisy total)
    return kept / kept.sum()


@dataclass(frozen=True)
class MarginalRelease:
    """Every learned column's noisy 1-way marginal, its denoised shares, and the part spent."""

    noisy: list[np.ndarray]
    shares: list[np.ndarray]
    part: dict[str, Any]

    @property
    def total(self) -> float:
        """The noisy row count (mean over the columns' noisy sums, at least 1)."""
        return max(float(np.mean([counts.sum() for counts in self.noisy])), 1.0)


def release_marginals(coded: CodedTable, rho: float, seed: int) -> MarginalRelease:
    """All 1-way marginals with Gaussian noise, rho-zCDP in all: one row moves each of the d
    histograms by one, L2 sensitivity sqrt(d)."""
    scale = gaussian_scale(rho, math.sqrt(coded.width))
    noisy = [
        release_one_way(coded.codes[:, j], coded.sizes[j], scale, seed + 101 + j)
        for j in range(coded.width)
    ]
    part = {
        "mechanism": "Gaussian noise on every column's 1-way marginal",
        "touched": f"{coded.width} columns' histograms",
        "rho": rho,
        "scale": scale,
    }
    return MarginalRelease(noisy, [denoised_shares(n, scale) for n in noisy], part)


def block_summary(
    mechanism: str, split: BudgetSplit, asked_epsilon: float, parts: list[dict[str, Any]]
) -> dict[str, Any]:
    """What a model's fit spent, for ``privacy_spent()``: the block's (epsilon, delta) from its
    rho, and every part."""
    spent = zcdp_epsilon(split.rho, split.delta_conversion) if split.rho > 0 else 0.0
    return {
        "mechanism": mechanism,
        "epsilon": min(spent, asked_epsilon),
        "delta": split.delta_conversion + split.budget.delta_categories,
        "rho": split.rho,
        "parts": parts,
    }


def fitted_state(
    table: Table,
    coded: CodedTable,
    privacy: dict[str, Any],
    marginals: MarginalRelease | None,
    **own: Any,
) -> dict[str, Any]:
    """A fitted model's state: what every marginal DP model keeps, and its own parts.
    ``marginals``: the released 1-way marginals (None when no column is learned), whose noisy
    total is the row count the model may state."""
    return {
        "table": table,
        "domains": coded.domains,
        "learned": coded.learned,
        "privacy": privacy,
        "released_rows": None if marginals is None else round(marginals.total),
        **own,
    }


def decode_table(
    domains: list[ColumnDomain],
    learned: list[int],
    codes: np.ndarray,
    shares: list[np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Sampled codes back to a table in the source's dtypes; columns not learned (ids, empty)
    are made up by their domain. ``shares[j]`` weighs the released categories for rows coded
    'other'."""
    n = codes.shape[0]
    position = {k: j for j, k in enumerate(learned)}
    out: dict[str, pd.Series] = {}
    for k, domain in enumerate(domains):
        if k in position:
            j = position[k]
            values = domain.decode(codes[:, j], shares[j], rng)
        else:
            values = domain.decode(np.zeros(n, dtype=np.int64), np.zeros(0), rng)
        out[domain.name] = restore_dtype(values, domain.dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


class MarginalDPModel(Synthesizer):
    """A DP model whose fit is one zCDP block over DP domains: what it spent and which domains
    it released (``synthtab.dp.schema_release.PrivateSynthesizer``), its settings and its
    archive. A subclass adds its own arrays through ``_payload`` / ``_from_payload``."""

    name: ClassVar[str]
    settings_class: ClassVar[type[MarginalDPSettings]]
    file_format: ClassVar[str]
    file_version: ClassVar[int] = 1

    def __init__(self, **settings: Any) -> None:
        self._settings = self.settings_class(**settings)
        self._fitted: dict[str, Any] | None = None

    def privacy_spent(self) -> dict[str, Any]:
        """What the fit spent: (epsilon, delta) of the block, its rho and every part."""
        return dict(self._require_fitted()["privacy"])

    def released_domains(self) -> list[ColumnDomain]:
        """Every column's domain: declared, or released inside the fit's budget."""
        return list(self._require_fitted()["domains"])

    def released_row_count(self) -> int | None:
        """The noisy row count (the released marginals' total: free post-processing), what a
        run without ``--rows`` delivers under ε; None when no column was learned."""
        return self._require_fitted()["released_rows"]

    def settings(self) -> dict[str, Any]:
        return self._settings.model_dump(mode="json")

    def _sampling_start(
        self, n: int, conditions: pd.DataFrame | None
    ) -> tuple[dict[str, Any], list[ColumnDomain], list[int]]:
        """A checked ``sample`` request: the fitted state, every column's domain and the
        positions of the learned columns."""
        fitted = self._require_fitted()
        check_sample_request(self.name, n, conditions)
        return fitted, fitted["domains"], fitted["learned"]

    @abstractmethod
    def _payload(self, fitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The model's own part of its archive: JSON metadata and arrays."""

    @classmethod
    @abstractmethod
    def _from_payload(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        """The model's own part of its fitted state, back from its archive."""

    def save(self, path: Path | str) -> None:
        fitted = self._require_fitted()
        own_meta, arrays = self._payload(fitted)
        meta = {
            "format": self.file_format,
            "version": self.file_version,
            "model": self.name,
            "settings": self.settings(),
            "table": fitted["table"].model_dump(mode="json"),
            "domains": [domain.to_json() for domain in fitted["domains"]],
            "learned": fitted["learned"],
            "privacy": fitted["privacy"],
            "released_rows": fitted["released_rows"],
            **own_meta,
        }
        write_model_archive(path, meta, arrays)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        meta, arrays = read_model_archive(path, cls.name, cls.file_format, cls.file_version)
        model = cls(**meta["settings"])
        model._fitted = {
            "table": Table.model_validate(meta["table"]),
            "domains": [ColumnDomain.from_json(domain) for domain in meta["domains"]],
            "learned": list(meta["learned"]),
            "privacy": meta["privacy"],
            # archives written before the count was kept have none
            "released_rows": meta.get("released_rows"),
            **cls._from_payload(meta, arrays),
        }
        return model

    def _require_fitted(self) -> dict[str, Any]:
        if self._fitted is None:
            raise RuntimeError(f"{self.name}: fit the model before sampling or saving it")
        return self._fitted
