"""The datetimes suite (``synthtab eval --suite datetimes``): does argn keep how a table's
values move with the time of day and the weekday? In this process, with its clock tokens on
(the default) and off (the ablation).

Each table is split once (80% training rows, as the compare suite splits); per seed argn is fitted both ways on the same
rows and sampled as many rows as it trained on. Scored against the training rows:

- own fidelity (as every suite scores it);
- 3-hour gap: the mean over the day's eight 3-hour blocks of |synthetic − real| mean of the
  table's value column in that block, read on the table's wall clock; the real blocks' spread
  (highest − lowest mean) gives its scale;
- weekday gap: the same over the seven weekdays;
- hour TVD: total variation distance between the real and synthetic shares of each hour.

nyc_weather runs without its year, month, day and hour columns: with them the relation would
come from the hour column rather than from the datetime.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthtab.agents.profiler import split_holdout
from synthtab.evals.compare import HOLDOUT_FRACTION, measure_synthetic
from synthtab.evals.formatting import table_preamble
from synthtab.evals.harness import dataset_file, run_seeded_suite
from synthtab.evals.suites import EvalCase, Suite
from synthtab.models.argn import ARGNSynthesizer
from synthtab.schema.infer import infer_table


class ClockCase(BaseModel):
    datetime: str
    value: str
    wall_clock: str | None = None  # read an aware datetime in this zone (None: as stored)
    dropped: list[str] = []


CLOCK_CASES: dict[str, ClockCase] = {
    "cgm_glucose": ClockCase(datetime="datetime", value="glucose"),
    "nyc_weather": ClockCase(
        datetime="time_hour",
        value="temp",
        wall_clock="America/New_York",
        dropped=["year", "month", "day", "hour"],
    ),
}


class DatetimesResult(BaseModel):
    dataset: str
    seed: int
    clock_tokens: bool
    rows: int
    fit_seconds: float
    fidelity: float
    block_gap: float
    real_block_spread: float
    weekday_gap: float
    hour_tvd: float


class ClockProfile(BaseModel):
    """A table's value by 3-hour block and weekday, and its hours' shares."""

    blocks: list[float]
    weekdays: list[float]
    hour_shares: list[float]


def clock_profile(frame: pd.DataFrame, case: ClockCase) -> ClockProfile:
    stamps = pd.to_datetime(frame[case.datetime])
    if case.wall_clock is not None and isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(case.wall_clock)
    values = pd.to_numeric(frame[case.value], errors="coerce")
    blocks = values.groupby(stamps.dt.hour // 3).mean().reindex(range(8))
    weekdays = values.groupby(stamps.dt.day_of_week).mean().reindex(range(7))
    hours = stamps.dt.hour.value_counts(normalize=True).reindex(range(24), fill_value=0.0)
    return ClockProfile(
        blocks=blocks.tolist(), weekdays=weekdays.tolist(), hour_shares=hours.tolist()
    )


def _mean_gap(real: list[float], synthetic: list[float]) -> float:
    # a block the synthetic rows never reach counts as a gap of the real value's spread
    spread = float(np.nanmax(real) - np.nanmin(real))
    gaps = [spread if np.isnan(s) else abs(r - s) for r, s in zip(real, synthetic, strict=True)]
    return float(np.nanmean(gaps))


def measure_clock_case(
    case: EvalCase, data_dir: Path, out_dir: Path, seeds: list[int]
) -> list[DatetimesResult]:
    """Fit argn with and without clock tokens per seed on one split of the case's table."""
    if case.dataset not in CLOCK_CASES:
        raise ValueError(f"the datetimes suite knows {sorted(CLOCK_CASES)}, not {case.dataset}")
    clock = CLOCK_CASES[case.dataset]
    frame = pd.read_parquet(dataset_file(data_dir, case.dataset)).drop(columns=clock.dropped)
    table = infer_table(frame, case.dataset)
    train, holdout = split_holdout(frame, table, None, HOLDOUT_FRACTION, 0)
    real = clock_profile(train, clock)
    results = []
    for seed in seeds:
        for clock_tokens in (True, False):
            started = time.perf_counter()
            model = ARGNSynthesizer(clock_tokens=clock_tokens).fit(train, table, seed)
            fit_seconds = time.perf_counter() - started
            synthetic = model.sample(len(train), seed=seed)
            metrics = measure_synthetic(train, holdout, synthetic, table, None, seed)
            drawn = clock_profile(synthetic, clock)
            results.append(
                DatetimesResult(
                    dataset=case.dataset,
                    seed=seed,
                    clock_tokens=clock_tokens,
                    rows=len(synthetic),
                    fit_seconds=round(fit_seconds, 2),
                    fidelity=round(metrics.fidelity, 4),
                    block_gap=round(_mean_gap(real.blocks, drawn.blocks), 3),
                    real_block_spread=round(max(real.blocks) - min(real.blocks), 3),
                    weekday_gap=round(_mean_gap(real.weekdays, drawn.weekdays), 3),
                    hour_tvd=round(
                        0.5 * float(np.abs(np.subtract(real.hour_shares, drawn.hour_shares)).sum()),
                        4,
                    ),
                )
            )
    return results


def datetimes_markdown(results: list[DatetimesResult], command: str, description: str) -> str:
    """Medians over seeds, one row per table and setting."""
    header = ["table", "clock tokens", "seeds", "own fidelity", "3-hour gap (real spread)"]
    header += ["weekday gap", "hour TVD", "fit s"]
    lines = table_preamble(
        description, command, "Medians over the seeds; gaps in the value column's units.", header
    )
    for dataset in dict.fromkeys(r.dataset for r in results):
        for clock_tokens in (True, False):
            rows = [r for r in results if r.dataset == dataset and r.clock_tokens == clock_tokens]
            if not rows:
                continue

            def median(field: str, rows: list[DatetimesResult] = rows) -> float:
                return statistics.median(getattr(r, field) for r in rows)

            lines.append(
                f"| {dataset} | {'on' if clock_tokens else 'off'} | {len(rows)} "
                f"| {median('fidelity'):.4f} | {median('block_gap'):.2f} "
                f"({rows[0].real_block_spread:.1f}) | {median('weekday_gap'):.2f} "
                f"| {median('hour_tvd'):.4f} | {median('fit_seconds'):.1f} |"
            )
    return "\n".join(lines) + "\n"


def run_datetimes_suite_cli(
    args: argparse.Namespace, suite: Suite, data_dir: Path, only: list[str] | None
) -> int:
    """``synthtab eval --suite datetimes``: exit 0 when every table was measured."""
    return run_seeded_suite(args, suite, data_dir, only, measure_clock_case, datetimes_markdown)
