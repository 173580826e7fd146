"""The conditioning suite: argn sampled unconditioned, on the target and with the first two
columns redrawn, each conditioned way with the first draw kept and with importance resampling."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from synthtab.evals.conditioning import (
    KEPT,
    RESAMPLED,
    ConditioningResult,
    conditioning_markdown,
    conditions_for,
    run_conditioning_suite_cli,
)
from synthtab.evals.suites import EvalCase, Suite


def test_each_way_fixes_its_columns_one_row_per_training_row() -> None:
    train = pd.DataFrame(
        {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [0.1, 0.2, 0.3], "t": list("pqp")}
    )
    assert conditions_for("unconditioned", train, "t") is None
    on_target = conditions_for("on the target", train, "t")
    assert on_target is not None and list(on_target.columns) == ["t"] and len(on_target) == 3
    redrawn = conditions_for("first two redrawn", train, "t")
    assert redrawn is not None and list(redrawn.columns) == ["c", "t"]
    pd.testing.assert_frame_equal(redrawn, train[["c", "t"]])


def _result(way: str, candidates: int, seed: int, fidelity: float) -> ConditioningResult:
    return ConditioningResult(
        dataset="toy", seed=seed, way=way, candidates=candidates, rows=10, seconds=0.5,
        fidelity=fidelity, tstr_metric="roc_auc", tstr=fidelity - 0.1,
    )  # fmt: skip


def test_the_table_shows_medians_over_seeds_for_each_way_and_candidate_count() -> None:
    results = [
        _result(way, candidates, seed, fidelity)
        for seed, shift in ((0, 0.0), (1, 0.02), (2, 0.04))
        for way, candidates, fidelity in (
            ("unconditioned", KEPT, 0.90 + shift),
            ("on the target", KEPT, 0.80 + shift),
            ("on the target", RESAMPLED, 0.88 + shift),
            ("first two redrawn", KEPT, 0.70 + shift),
            ("first two redrawn", RESAMPLED, 0.85 + shift),
        )
    ]
    markdown = conditioning_markdown(results, "synthtab eval --suite conditioning", "about")
    row = next(line for line in markdown.splitlines() if line.startswith("| toy"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[:3] == ["toy", "3", "roc_auc"]
    assert cells[3:] == [
        "0.920 / 0.820 (0.500 s)",
        "0.820 / 0.720 (0.500 s)",
        "0.900 / 0.800 (0.500 s)",
        "0.720 / 0.620 (0.500 s)",
        "0.870 / 0.770 (0.500 s)",
    ]
    assert f"on the target, {RESAMPLED} candidates" in markdown


def test_the_suite_runs_argn_end_to_end_on_a_real_table(datasets_dir: Path, tmp_path: Path) -> None:
    """The real path on 800 of credit_data's rows: real fits, real sampling, real scores."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    real = pd.read_parquet(datasets_dir / "credit_data.parquet")
    real.sample(800, random_state=0).to_parquet(data_dir / "credit_small.parquet", index=False)
    suite = Suite(
        name="conditioning",
        description="test",
        runner="conditioning",
        cases=[EvalCase(dataset="credit_small", target="Status")],
    )
    args = argparse.Namespace(out=str(tmp_path / "out"), repeats=1, seed=None)
    assert run_conditioning_suite_cli(args, suite, data_dir, None) == 0
    results = [
        ConditioningResult.model_validate(r)
        for r in json.loads((tmp_path / "out" / "results.json").read_text())
    ]
    assert [(r.way, r.candidates) for r in results] == [
        ("unconditioned", KEPT),
        ("on the target", KEPT),
        ("on the target", RESAMPLED),
        ("first two redrawn", KEPT),
        ("first two redrawn", RESAMPLED),
    ]
    for result in results:
        assert result.rows == results[0].rows > 500
        assert 0.5 < result.fidelity <= 1.0 and result.tstr is not None
    assert "| credit_small | 1 | roc_auc |" in (tmp_path / "out" / "results.md").read_text()
    bad = argparse.Namespace(out=str(tmp_path / "out"), repeats=0, seed=None)
    assert run_conditioning_suite_cli(bad, suite, data_dir, None) == 2
    assert run_conditioning_suite_cli(args, suite, data_dir, ["adult"]) == 2
