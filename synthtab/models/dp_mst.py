"""A differentially private marginal model for small budgets: select-measure-generate in the
style of MST (McKenna, Miklau & Sheldon 2021, "Winning the NIST Contest").

1. Domains: each column becomes a few codes (``synthtab.dp.domain``): declared bounds and
   categories are free; missing ones are released with DP from this model's budget.
2. Measure every column's 1-way marginal with Gaussian noise.
3. Select a spanning tree over the columns: Kruskal's algorithm where each edge is chosen by
   the exponential mechanism, scored by how far the pair's real 2-way marginal is (L1) from the
   independent product of the noisy 1-way marginals.
4. Measure the tree's 2-way marginals with Gaussian noise.
5. Make them consistent (non-negative, each summing to its columns' 1-way marginals, by
   iterative proportional fitting) and sample ancestrally along the tree; decode codes to values
   inside the bins' ranges at the source's precision.

Accounting: the whole fit is one zCDP block (rho from the model's (epsilon, delta) through the
Canonne-Kamath-Steinke conversion), split over domains, 1-way measurements, selection and 2-way
measurements; ``privacy_spent()`` lists each part. Unlike MST, there is no Private-PGM: on a
tree, consistent pairwise tables already define the joint distribution.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthtab.dp.accountant import zcdp_epsilon, zcdp_rho
from synthtab.dp.domain import (
    ColumnDomain,
    DomainBudget,
    fit_domains,
    needs_bounds,
    needs_categories,
)
from synthtab.dp.mechanisms import exponential_choice, gaussian_scale, noisy_values
from synthtab.models.archive import read_model_archive, write_model_archive
from synthtab.models.base import Synthesizer
from synthtab.models.copula import _restore_dtype
from synthtab.schema import Table

_FILE_FORMAT = "synthtab.dp_mst"
_FILE_VERSION = 1


class DPMSTSettings(BaseModel):
    """What a user may tune; recorded in the run manifest."""

    model_config = ConfigDict(extra="forbid")

    epsilon: float = Field(default=1.0, gt=0.0, description="this model's privacy budget")
    delta: float = Field(default=1e-6, gt=0.0, lt=1.0)
    max_bins: int = Field(default=32, ge=2, le=256, description="bins per numeric column")
    domain_share: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="share of the zCDP budget for bounds and category sets the schema does not "
        "declare (unused when it declares them all)",
    )
    tail: float = Field(default=0.005, gt=0.0, lt=0.5, description="bounds leave out this tail")
    consistency_iterations: int = Field(default=30, ge=1)


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


def consistent_pair(
    table: np.ndarray, rows: np.ndarray, cols: np.ndarray, iterations: int
) -> np.ndarray:
    """A non-negative joint (sums to 1) with the given row and column marginals, as close to
    the noisy ``table`` as iterative proportional fitting makes it."""
    joint = np.clip(table, 0.0, None) + 1e-9 * max(float(np.abs(table).sum()), 1.0) / table.size
    joint = joint / joint.sum()
    for _ in range(iterations):
        joint = joint * (rows / np.maximum(joint.sum(axis=1), 1e-300))[:, None]
        joint = joint * (cols / np.maximum(joint.sum(axis=0), 1e-300))[None, :]
    return joint / joint.sum()


def release_one_way(codes: np.ndarray, size: int, scale: float, seed: int) -> np.ndarray:
    """A column's noisy histogram (one row in one cell; the vector's L2 sensitivity is 1)."""
    return noisy_values(np.bincount(codes, minlength=size), scale, seed)


def release_two_way(
    first: np.ndarray, second: np.ndarray, sizes: tuple[int, int], scale: float, seed: int
) -> np.ndarray:
    counts = np.bincount(first * sizes[1] + second, minlength=sizes[0] * sizes[1])
    return noisy_values(counts, scale, seed).reshape(sizes)


def select_tree(
    codes: np.ndarray,
    sizes: list[int],
    one_way: list[np.ndarray],
    total: float,
    epsilon: float,
    seed: int,
) -> list[tuple[int, int]]:
    """Kruskal with an exponential-mechanism choice per edge (each ``epsilon``-DP): edges that
    the independent model gets most wrong (L1, sensitivity 1) are likeliest."""
    d = len(sizes)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    scores = np.empty(len(pairs))
    for index, (i, j) in enumerate(pairs):
        real = np.bincount(codes[:, i] * sizes[j] + codes[:, j], minlength=sizes[i] * sizes[j])
        independent = total * np.outer(one_way[i], one_way[j]).ravel()
        scores[index] = np.abs(real - independent).sum()
    component = list(range(d))

    def root(k: int) -> int:
        while component[k] != k:
            k = component[k]
        return k

    chosen: list[tuple[int, int]] = []
    for step in range(d - 1):
        open_pairs = [p for p, (i, j) in enumerate(pairs) if root(i) != root(j)]
        pick = open_pairs[exponential_choice(scores[open_pairs], epsilon, 1.0, seed + step)]
        i, j = pairs[pick]
        component[root(i)] = root(j)
        chosen.append((i, j))
    return chosen


class DPMSTSynthesizer(Synthesizer):
    """Select-measure-generate over a maximum spanning tree of pairs; see the module docstring."""

    name: ClassVar[str] = "dp_mst"

    def __init__(self, **settings: Any) -> None:
        self._settings = DPMSTSettings(**settings)
        self._fitted: dict[str, Any] | None = None

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        absent = [name for name in table.column_names if name not in data.columns]
        if absent:
            raise ValueError(f"table {table.name!r}: the data has no column(s) {absent}")
        if len(data) == 0:
            raise ValueError(f"table {table.name!r}: cannot fit on a table without rows")
        settings = self._settings
        data = data.reset_index(drop=True)
        wants_domains = any(needs_bounds(c) or needs_categories(c) for c in table.columns)
        wants_categories = any(needs_categories(c) for c in table.columns)
        # a category set's threshold costs delta; the rest of delta goes to the conversion
        delta_categories = settings.delta / 4.0 if wants_categories else 0.0
        delta_conversion = settings.delta - delta_categories
        rho = zcdp_rho(settings.epsilon, delta_conversion)
        rho_domains = settings.domain_share * rho if wants_domains else 0.0
        bounded = sum(needs_bounds(c) for c in table.columns)
        categorised = sum(needs_categories(c) for c in table.columns)
        weight = bounded + categorised
        budget = DomainBudget(
            rho_bounds=rho_domains * bounded / weight if weight else 0.0,
            rho_categories=rho_domains * categorised / weight if weight else 0.0,
            delta_categories=delta_categories,
        )
        domains = fit_domains(data, table, budget, settings.max_bins, seed, settings.tail)
        parts = list(budget.parts)
        learned = [
            k for k, dom in enumerate(domains) if dom.kind in ("numeric", "datetime", "categorical")
        ]
        sizes = [domains[k].size for k in learned]
        codes = (
            np.column_stack([domains[k].encode(data[domains[k].name]) for k in learned])
            if learned
            else np.zeros((len(data), 0), np.int64)
        )
        rho_left = rho - rho_domains
        d = len(learned)
        one_way: list[np.ndarray] = []
        tree: list[tuple[int, int]] = []
        pair_tables: list[np.ndarray] = []
        if d:
            rho_one = rho_left / 3.0 if d > 1 else rho_left
            scale_one = gaussian_scale(rho_one, math.sqrt(d))
            noisy = [
                release_one_way(codes[:, j], sizes[j], scale_one, seed + 101 + j) for j in range(d)
            ]
            total = max(float(np.mean([n.sum() for n in noisy])), 1.0)
            one_way = [denoised_shares(n, scale_one) for n in noisy]
            parts.append(
                {
                    "mechanism": "Gaussian noise on every column's 1-way marginal",
                    "touched": f"{d} columns' histograms",
                    "rho": rho_one,
                    "scale": scale_one,
                }
            )
        if d > 1:
            rho_select = rho_left / 3.0
            epsilon_edge = math.sqrt(8.0 * rho_select / (d - 1))
            tree = select_tree(codes, sizes, one_way, total, epsilon_edge, seed + 211)
            parts.append(
                {
                    "mechanism": f"exponential mechanism, {d - 1} edges of a spanning tree",
                    "touched": "L1 distance of every pair's 2-way marginal from independence",
                    "rho": rho_select,
                    "epsilon_per_edge": epsilon_edge,
                }
            )
            rho_two = rho_left - rho_one - rho_select
            scale_two = gaussian_scale(rho_two, math.sqrt(d - 1))
            for step, (i, j) in enumerate(tree):
                noisy_pair = release_two_way(
                    codes[:, i], codes[:, j], (sizes[i], sizes[j]), scale_two, seed + 307 + step
                )
                pair_tables.append(
                    consistent_pair(
                        noisy_pair / total, one_way[i], one_way[j], settings.consistency_iterations
                    )
                )
            parts.append(
                {
                    "mechanism": "Gaussian noise on the tree's 2-way marginals",
                    "touched": ", ".join(
                        f"{domains[learned[i]].name} x {domains[learned[j]].name}" for i, j in tree
                    ),
                    "rho": rho_two,
                    "scale": scale_two,
                }
            )
        spent_epsilon = zcdp_epsilon(rho, delta_conversion) if rho > 0 else 0.0
        self._fitted = {
            "table": table,
            "domains": domains,
            "learned": learned,
            "one_way": one_way,
            "tree": tree,
            "pairs": pair_tables,
            "privacy": {
                "mechanism": "dp_mst: select-measure-generate over a spanning tree (zCDP block)",
                "epsilon": min(spent_epsilon, settings.epsilon),
                "delta": delta_conversion + delta_categories,
                "rho": rho,
                "parts": parts,
            },
        }
        return self

    def privacy_spent(self) -> dict[str, Any]:
        """What the fit spent: (epsilon, delta) of the block, its rho and every part."""
        return dict(self._require_fitted()["privacy"])

    def released_domains(self) -> list[ColumnDomain]:
        """Every column's domain: declared, or released inside the fit's budget."""
        return list(self._require_fitted()["domains"])

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        fitted = self._require_fitted()
        if conditions is not None and conditions.shape[1] > 0:
            raise NotImplementedError("dp_mst does not condition on fixed values")
        if n < 0:
            raise ValueError(f"cannot sample {n} rows")
        rng = np.random.default_rng(seed)
        domains: list[ColumnDomain] = fitted["domains"]
        learned: list[int] = fitted["learned"]
        one_way: list[np.ndarray] = fitted["one_way"]
        d = len(learned)
        codes = np.zeros((n, d), dtype=np.int64)
        done = np.zeros(d, dtype=bool)
        neighbours: dict[int, list[tuple[int, np.ndarray]]] = {j: [] for j in range(d)}
        for (i, j), joint in zip(fitted["tree"], fitted["pairs"], strict=True):
            neighbours[i].append((j, joint))
            neighbours[j].append((i, joint.T))
        for start in range(d):
            if done[start]:
                continue
            codes[:, start] = _draw(np.broadcast_to(one_way[start], (n, one_way[start].size)), rng)
            done[start] = True
            queue = [start]
            while queue:
                parent = queue.pop(0)
                for child, joint in neighbours[parent]:
                    if done[child]:
                        continue
                    conditional = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
                    codes[:, child] = _draw(conditional[codes[:, parent]], rng)
                    done[child] = True
                    queue.append(child)
        out: dict[str, pd.Series] = {}
        position = {k: j for j, k in enumerate(learned)}
        for k, domain in enumerate(domains):
            if k in position:
                j = position[k]
                values = domain.decode(codes[:, j], one_way[j], rng)
            else:
                values = domain.decode(np.zeros(n, dtype=np.int64), np.zeros(0), rng)
            out[domain.name] = _restore_dtype(values, domain.dtype)
        return pd.DataFrame(out, index=pd.RangeIndex(n))

    def settings(self) -> dict[str, Any]:
        return self._settings.model_dump(mode="json")

    def save(self, path: Path | str) -> None:
        fitted = self._require_fitted()
        arrays = {f"one_way_{j}": p for j, p in enumerate(fitted["one_way"])}
        arrays |= {f"pair_{j}": p for j, p in enumerate(fitted["pairs"])}
        meta = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "model": self.name,
            "settings": self.settings(),
            "table": fitted["table"].model_dump(mode="json"),
            "domains": [dom.to_json() for dom in fitted["domains"]],
            "learned": fitted["learned"],
            "tree": [list(edge) for edge in fitted["tree"]],
            "privacy": fitted["privacy"],
        }
        write_model_archive(path, meta, arrays)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        meta, arrays = read_model_archive(path, cls.name, _FILE_FORMAT, _FILE_VERSION)
        model = cls(**meta["settings"])
        model._fitted = {
            "table": Table.model_validate(meta["table"]),
            "domains": [ColumnDomain.from_json(dom) for dom in meta["domains"]],
            "learned": list(meta["learned"]),
            "one_way": [arrays[f"one_way_{j}"] for j in range(len(meta["learned"]))],
            "tree": [tuple(edge) for edge in meta["tree"]],
            "pairs": [arrays[f"pair_{j}"] for j in range(len(meta["tree"]))],
            "privacy": meta["privacy"],
        }
        return model

    def _require_fitted(self) -> dict[str, Any]:
        if self._fitted is None:
            raise RuntimeError(f"{self.name}: fit the model before sampling or saving it")
        return self._fitted


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One code per row from each row's probability vector."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= np.maximum(cumulative[:, -1:], 1e-300)
    u = rng.random(probabilities.shape[0])[:, None]
    return np.minimum((cumulative < u).sum(axis=1), probabilities.shape[1] - 1)
