"""The conditioning suite (``synthtab eval --suite conditioning``): how closely argn's
conditional samples follow the data, on the compare suite's splits, in this process.

For each table and seed, argn is fitted on the split's training rows (its target weighed as a
run weighs it) and sampled three ways, each scored like the compare suite (own fidelity against
the training rows, TSTR on the real holdout):

- unconditioned, as many rows as the training rows: the reference;
- on the target: one row per training row with the target fixed to that row's value, so the
  target keeps its real shares and every other column has to follow from it (what a user's
  conditions and ``rebalance`` ask for);
- first two redrawn: every training row keeps all its columns but the first two in the table's
  order, which are drawn given the rest (what the validator's redraws do).

Both conditioned ways run with the first draw kept (``conditioning_candidates`` 1) and with
argn's default importance resampling, so the table is also that feature's ablation. The closer a
conditioned column comes to the unconditioned one, the better the conditioning: the network
itself is the same.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel

from synthtab.agents.generator import argn_target_settings
from synthtab.evals.compare import _load_split, measure_synthetic, prepare_split
from synthtab.evals.formatting import table_preamble
from synthtab.evals.harness import dataset_file, run_seeded_suite
from synthtab.evals.suites import EvalCase, Suite
from synthtab.models.argn import ARGNSettings, ARGNSynthesizer

Way = Literal["unconditioned", "on the target", "first two redrawn"]
WAYS: tuple[Way, ...] = ("unconditioned", "on the target", "first two redrawn")
KEPT = 1  # conditioning_candidates that keeps the first draw
RESAMPLED = ARGNSettings().conditioning_candidates


class ConditioningResult(BaseModel):
    dataset: str
    seed: int
    way: Way
    candidates: int  # conditioning_candidates used (1 for the unconditioned rows)
    rows: int
    seconds: float  # sampling only
    fidelity: float
    tstr_metric: str | None
    tstr: float | None


def conditions_for(way: Way, train: pd.DataFrame, target: str) -> pd.DataFrame | None:
    """The fixed columns of each sampled row, one row per training row (None: unconditioned)."""
    if way == "unconditioned":
        return None
    if way == "on the target":
        return train[[target]].reset_index(drop=True)
    return train.iloc[:, 2:].reset_index(drop=True)


def measure_dataset(
    case: EvalCase, data_dir: Path, out_dir: Path, seeds: list[int]
) -> list[ConditioningResult]:
    """Fit argn once per seed on the case's compare split; score every way of sampling."""
    if case.target is None:
        raise ValueError(f"the conditioning suite needs a target; {case.dataset} has none")
    source = dataset_file(data_dir, case.dataset)
    split = prepare_split(source, case.dataset, case.target, out_dir / case.dataset, 0)
    train, holdout, table = _load_split(split)
    settings = argn_target_settings(table, case.target)  # as a run weighs it
    results = []
    for seed in seeds:
        model = ARGNSynthesizer(**settings).fit(train, table, seed)
        for way in WAYS:
            conditions = conditions_for(way, train, case.target)
            for candidates in (KEPT,) if conditions is None else (KEPT, RESAMPLED):
                started = time.perf_counter()
                synthetic = model.sample(
                    len(train),
                    seed=seed,
                    conditions=conditions,
                    conditioning_candidates=candidates,
                )
                seconds = time.perf_counter() - started
                metrics = measure_synthetic(train, holdout, synthetic, table, case.target, seed)
                results.append(
                    ConditioningResult(
                        dataset=case.dataset,
                        seed=seed,
                        way=way,
                        candidates=candidates,
                        rows=len(synthetic),
                        seconds=round(seconds, 3),
                        fidelity=round(metrics.fidelity, 4),
                        tstr_metric=metrics.tstr_metric,
                        tstr=None
                        if metrics.tstr_synthetic is None
                        else round(metrics.tstr_synthetic, 4),
                    )
                )
    return results


def _median(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return f"{statistics.median(present):.3f}" if present else "–"


def conditioning_markdown(results: list[ConditioningResult], command: str, description: str) -> str:
    """Medians over seeds: fidelity / TSTR (sampling seconds) for each way and candidate count."""
    columns = [("unconditioned", KEPT)] + [
        (way, candidates) for way in WAYS[1:] for candidates in (KEPT, RESAMPLED)
    ]
    header = ["table", "seeds", "TSTR metric"] + [
        way
        if way == "unconditioned"
        else f"{way}, {'first draw' if c == KEPT else f'{c} candidates'}"
        for way, c in columns
    ]
    lines = table_preamble(
        description,
        command,
        "Each cell: own fidelity / TSTR (median sampling seconds), medians over the seeds.",
        header,
    )
    for dataset in dict.fromkeys(r.dataset for r in results):
        rows = [r for r in results if r.dataset == dataset]
        cells = [dataset, str(len({r.seed for r in rows})), rows[0].tstr_metric or "–"]
        for way, candidates in columns:
            picked = [r for r in rows if r.way == way and r.candidates == candidates]
            cells.append(
                f"{_median([r.fidelity for r in picked])} / {_median([r.tstr for r in picked])} "
                f"({_median([r.seconds for r in picked])} s)"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_conditioning_suite_cli(
    args: argparse.Namespace, suite: Suite, data_dir: Path, only: list[str] | None
) -> int:
    """``synthtab eval --suite conditioning``: exit 0 when every table was measured."""
    return run_seeded_suite(args, suite, data_dir, only, measure_dataset, conditioning_markdown)
