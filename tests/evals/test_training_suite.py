"""The training suite: argn's training and sampling speed on a real table and on a large one
drawn from it, each case in its own process, on the device torch picks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from synthtab.evals.suites import SUITES
from synthtab.evals.training_speed import (
    DEFAULT_LARGE_ROWS,
    DEFAULT_SAMPLE_ROWS,
    TrainingResult,
    drawn_rows,
    options_from_args,
    training_markdown,
)


def _args(**flags: object) -> argparse.Namespace:
    names = ("device", "max_epochs", "time_budget", "train_rows", "rows", "seed")
    return argparse.Namespace(**{name: flags.get(name) for name in names})


def test_the_training_suite_fits_adult_as_it_is_and_drawn_to_a_million_rows() -> None:
    suite = SUITES["training"]
    assert suite.runner == "training"
    assert [(c.dataset, c.target) for c in suite.cases] == [("adult", "income")] * 2
    assert [c.rows for c in suite.cases] == [None, DEFAULT_LARGE_ROWS]


def test_drawn_rows_are_real_rows_drawn_with_replacement_and_seeded() -> None:
    frame = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
    assert drawn_rows(frame, None, 0) is frame
    drawn = drawn_rows(frame, 1000, 3)
    assert len(drawn) == 1000 and list(drawn.index) == list(range(1000))
    # every drawn row is one of the real rows, and most of them come back many times
    assert set(map(tuple, drawn.to_numpy())) <= set(map(tuple, frame.to_numpy()))
    assert drawn["a"].nunique() == 10
    pd.testing.assert_frame_equal(drawn, drawn_rows(frame, 1000, 3))
    assert not drawn.equals(drawn_rows(frame, 1000, 4))


def test_options_default_to_auto_device_and_a_million_rows() -> None:
    options = options_from_args(_args())
    assert options.device == "auto"
    assert options.max_epochs is None and options.max_training_seconds is None
    assert options.large_rows == DEFAULT_LARGE_ROWS
    assert options.sample_rows == DEFAULT_SAMPLE_ROWS
    chosen = options_from_args(_args(device="cpu", max_epochs=2, time_budget=30.0, rows=500))
    assert (chosen.device, chosen.max_epochs, chosen.max_training_seconds) == ("cpu", 2, 30.0)
    assert chosen.sample_rows == 500


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"device": "tpu"}, "--device must be one of auto, cpu, cuda, got 'tpu'"),
        ({"max_epochs": 0}, "--max-epochs must be positive, got 0"),
        ({"train_rows": -5}, "--train-rows must be positive, got -5"),
        ({"time_budget": 0.0}, "--time-budget must be positive"),
    ],
)
def test_bad_options_name_the_flag(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        options_from_args(_args(**flags))


def test_the_table_shows_the_device_and_a_failed_case_with_its_error() -> None:
    done = TrainingResult(
        dataset="adult", rows=48_842, columns=15, exit_code=0, wall_seconds=40.0,
        peak_memory_mb=700.0, device="cuda", device_name="NVIDIA H100 80GB HBM3", threads=16,
        fit_seconds=20.5, epochs=12, stopped="early stopping", seconds_per_epoch=1.71,
        training_rows_per_second=25_000.0, batch_size=1024, sample_rows_per_second=900_000.0,
        peak_gpu_memory_mb=300.0,
    )  # fmt: skip
    failed = TrainingResult(
        dataset="adult", variant="drawn", rows=1_000_000, exit_code=1, wall_seconds=3.0,
        peak_memory_mb=100.0, error="MemoryError",
    )  # fmt: skip
    lines = training_markdown(
        [done, failed], "synthtab eval --suite training", "about"
    ).splitlines()
    assert lines[2] == "`synthtab eval --suite training`"
    assert lines[6] == (
        "| adult | 48,842 | 15 | NVIDIA H100 80GB HBM3 | 12 (early stopping) | 20.5 | 1.71 "
        "| 25,000 | 1,024 | 900,000 | 700 (300) |"
    )
    assert lines[7].startswith("| adult (drawn) | 1,000,000 | – | failed: MemoryError |")


def _training_cli(data_dir: Path, out: Path, *flags: str) -> int:
    from synthtab.app import main

    return main(
        ["eval", "--suite", "training", "--data-dir", str(data_dir), "--out", str(out), *flags]
    )


def test_training_suite_end_to_end_on_cpu(adult: pd.DataFrame, tmp_path: Path) -> None:
    """The real path: each case a `python -m synthtab.evals.training_speed` subprocess that fits
    and samples argn; results.json and results.md say what it measured."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    adult.sample(1500, random_state=0).to_parquet(data_dir / "adult.parquet", index=False)
    out = tmp_path / "out"
    flags = ("--device", "cpu", "--train-rows", "4000", "--max-epochs", "1", "--rows", "700")
    assert _training_cli(data_dir, out, *flags) == 0
    real, drawn = json.loads((out / "results.json").read_text())
    assert (real["rows"], drawn["rows"]) == (1500, 4000)
    for row in (real, drawn):
        assert row["error"] is None and row["exit_code"] == 0
        assert row["columns"] == 15 and row["device"] == "cpu"
        assert row["epochs"] == 1 and row["stopped"] == "max_epochs"
        assert row["sample_rows"] == 700 and row["sample_rows_per_second"] > 0
        assert row["threads"] >= 1 and f"{row['threads']} threads" in row["device_name"]
        assert row["peak_memory_mb"] > 100 and row["peak_gpu_memory_mb"] is None
        assert row["seconds_per_epoch"] > 0 and row["training_rows_per_second"] > 0
    # the drawn table trains on more rows per epoch than the real one
    assert drawn["seconds_per_epoch"] * 1500 > real["seconds_per_epoch"] * 1000
    table = (out / "results.md").read_text()
    assert "--device cpu --max-epochs 1 --train-rows 4000 --rows 700" in table
    assert "| adult | 1,500 | 15 |" in table and "| 4,000 | 15 |" in table
    sample = pd.read_parquet(out / "runs" / "adult" / "sample.parquet")
    assert list(sample.columns) == list(adult.columns) and len(sample) == 700


def test_a_case_that_fails_is_reported_and_the_suite_exits_1(
    adult: pd.DataFrame, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # the suite's target is missing from the table
    adult.drop(columns="income").head(300).to_parquet(data_dir / "adult.parquet", index=False)
    out = tmp_path / "out"
    assert _training_cli(data_dir, out, "--train-rows", "500", "--max-epochs", "1") == 1
    rows = json.loads((out / "results.json").read_text())
    assert [r["exit_code"] != 0 for r in rows] == [True, True]
    assert all("income" in r["error"] for r in rows)
    assert "failed:" in (out / "results.md").read_text()


def test_bad_flags_exit_2_before_anything_runs(tmp_path: Path, adult: pd.DataFrame) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    out = tmp_path / "out"
    assert _training_cli(data_dir, out, "--max-epochs", "0") == 2
    assert _training_cli(data_dir, out, "--datasets", "telco_churn") == 2
    if not torch.cuda.is_available():
        assert _training_cli(data_dir, out, "--device", "cuda") == 2
    assert not out.exists()
