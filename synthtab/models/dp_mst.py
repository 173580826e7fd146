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
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import Field

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
from synthtab.dp.mechanisms import exponential_choice, gaussian_scale, noisy_values
from synthtab.schema import Table


class DPMSTSettings(MarginalDPSettings):
    """What a user may tune; recorded in the run manifest."""

    max_bins: int = Field(default=32, ge=2, le=256, description="bins per numeric column")
    consistency_iterations: int = Field(default=30, ge=1)


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


class DPMSTSynthesizer(MarginalDPModel):
    """Select-measure-generate over a maximum spanning tree of pairs; see the module docstring."""

    name: ClassVar[str] = "dp_mst"
    settings_class: ClassVar[type[MarginalDPSettings]] = DPMSTSettings
    file_format: ClassVar[str] = "synthtab.dp_mst"
    _settings: DPMSTSettings

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        settings = self._settings
        # a third of the rest for the 1-way marginals where there is a tree (below)
        share = 1.0 / 3.0 if learned_columns(table) > 1 else 1.0
        coded, split = code_table(data, table, settings, seed, share)
        parts = list(split.budget.parts)
        rho_left = split.rho - split.rho_domains
        d = coded.width
        one_way: list[np.ndarray] = []
        marginals: MarginalRelease | None = None
        tree: list[tuple[int, int]] = []
        pair_tables: list[np.ndarray] = []
        if d:
            marginals = release_marginals(coded, rho_left / 3.0 if d > 1 else rho_left, seed)
            one_way, total = marginals.shares, marginals.total
            parts.append(marginals.part)
        if d > 1:
            rho_select = rho_left / 3.0
            epsilon_edge = math.sqrt(8.0 * rho_select / (d - 1))
            tree = select_tree(coded.codes, coded.sizes, one_way, total, epsilon_edge, seed + 211)
            parts.append(
                {
                    "mechanism": f"exponential mechanism, {d - 1} edges of a spanning tree",
                    "touched": "L1 distance of every pair's 2-way marginal from independence",
                    "rho": rho_select,
                    "epsilon_per_edge": epsilon_edge,
                }
            )
            rho_two = rho_left - marginals.part["rho"] - rho_select
            scale_two = gaussian_scale(rho_two, math.sqrt(d - 1))
            for step, (i, j) in enumerate(tree):
                noisy_pair = release_two_way(
                    coded.codes[:, i],
                    coded.codes[:, j],
                    (coded.sizes[i], coded.sizes[j]),
                    scale_two,
                    seed + 307 + step,
                )
                pair_tables.append(
                    consistent_pair(
                        noisy_pair / total, one_way[i], one_way[j], settings.consistency_iterations
                    )
                )
            parts.append(
                {
                    "mechanism": "Gaussian noise on the tree's 2-way marginals",
                    "touched": ", ".join(f"{coded.name(i)} x {coded.name(j)}" for i, j in tree),
                    "rho": rho_two,
                    "scale": scale_two,
                }
            )
        privacy = block_summary(
            "dp_mst: select-measure-generate over a spanning tree (zCDP block)",
            split,
            settings.epsilon,
            parts,
        )
        self._fitted = fitted_state(
            table, coded, privacy, marginals, one_way=one_way, tree=tree, pairs=pair_tables
        )
        return self

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        fitted, domains, learned = self._sampling_start(n, conditions)
        rng = np.random.default_rng(seed)
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
        return decode_table(domains, learned, codes, one_way, rng)

    def _payload(self, fitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {f"one_way_{j}": p for j, p in enumerate(fitted["one_way"])}
        arrays |= {f"pair_{j}": p for j, p in enumerate(fitted["pairs"])}
        return {"tree": [list(edge) for edge in fitted["tree"]]}, arrays

    @classmethod
    def _from_payload(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        return {
            "one_way": [arrays[f"one_way_{j}"] for j in range(len(meta["learned"]))],
            "tree": [tuple(edge) for edge in meta["tree"]],
            "pairs": [arrays[f"pair_{j}"] for j in range(len(meta["tree"]))],
        }


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One code per row from each row's probability vector."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= np.maximum(cumulative[:, -1:], 1e-300)
    u = rng.random(probabilities.shape[0])[:, None]
    return np.minimum((cumulative < u).sum(axis=1), probabilities.shape[1] - 1)
