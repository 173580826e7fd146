"""The datetimes suite: argn with and without clock tokens, scored on how the value column
moves with the time of day and the weekday."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from synthtab.evals.datetimes import (
    CLOCK_CASES,
    DatetimesResult,
    clock_profile,
    datetimes_markdown,
    run_datetimes_suite_cli,
)
from synthtab.evals.suites import SUITES, EvalCase, Suite


def test_a_profile_reads_an_aware_datetime_on_the_cases_wall_clock() -> None:
    stamps = pd.date_range("2024-07-01 00:00", periods=48, freq="h", tz="UTC")
    frame = pd.DataFrame({"time_hour": stamps, "temp": stamps.hour.to_numpy(dtype=float)})
    profile = clock_profile(frame, CLOCK_CASES["nyc_weather"])
    # New York is UTC-4 in July: its 00:00-02:59 block holds UTC hours 4, 5 and 6
    assert profile.blocks[0] == 5.0
    assert abs(sum(profile.hour_shares) - 1.0) < 1e-9 and len(profile.weekdays) == 7


def _result(clock_tokens: bool, seed: int, gap: float) -> DatetimesResult:
    return DatetimesResult(
        dataset="toy", seed=seed, clock_tokens=clock_tokens, rows=10, fit_seconds=2.0 + seed,
        fidelity=0.99, block_gap=gap, real_block_spread=20.0, weekday_gap=gap / 2, hour_tvd=0.01,
    )  # fmt: skip


def test_the_table_shows_medians_per_setting() -> None:
    results = [
        _result(on, seed, gap)
        for seed in (0, 1, 2)
        for on, gap in ((True, 1.0 + seed), (False, 7.0 + seed))
    ]
    markdown = datetimes_markdown(results, "synthtab eval --suite datetimes", "about")
    rows = [line for line in markdown.splitlines() if line.startswith("| toy")]
    assert rows == [
        "| toy | on | 3 | 0.9900 | 2.00 (20.0) | 1.00 | 0.0100 | 3.0 |",
        "| toy | off | 3 | 0.9900 | 8.00 (20.0) | 4.00 | 0.0100 | 3.0 |",
    ]
    assert SUITES["datetimes"].runner == "datetimes"


def test_the_suite_measures_both_settings_on_real_glucose_readings(
    datasets_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    real = pd.read_parquet(datasets_dir / "cgm_glucose.parquet").head(6_000)
    real.to_parquet(data_dir / "cgm_glucose.parquet", index=False)
    suite = Suite(
        name="datetimes",
        description="test",
        runner="datetimes",
        cases=[EvalCase(dataset="cgm_glucose")],
    )
    args = argparse.Namespace(out=str(tmp_path / "out"), repeats=1, seed=None)
    assert run_datetimes_suite_cli(args, suite, data_dir, None) == 0
    results = [
        DatetimesResult.model_validate(r)
        for r in json.loads((tmp_path / "out" / "results.json").read_text())
    ]
    on, off = results
    assert (on.clock_tokens, off.clock_tokens) == (True, False)
    assert on.rows == off.rows == 4_800
    assert on.real_block_spread > 10 and 0.5 < on.fidelity <= 1.0
    # the time of day is learned with its tokens and lost in days-wide bins without them
    assert on.block_gap < off.block_gap
    assert "| cgm_glucose | on | 1 |" in (tmp_path / "out" / "results.md").read_text()
    unknown = Suite(name="datetimes", description="t", runner="datetimes",
                    cases=[EvalCase(dataset="adult")])  # fmt: skip
    (data_dir / "adult.parquet").write_bytes((data_dir / "cgm_glucose.parquet").read_bytes())
    assert run_datetimes_suite_cli(args, unknown, data_dir, None) == 1
