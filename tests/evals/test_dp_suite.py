"""The DP benchmark suite's plumbing: a tiny real run of SynthTab's side (no peer venv), the
public-information file smartnoise gets, the bars' arithmetic and the CLI's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthtab.app import main
from synthtab.evals.compare import no_sdmetrics
from synthtab.evals.dp_suite import (
    DPRow,
    goal_checks,
    parse_epsilons,
    plan_jobs,
    run_dp_suite,
    smartnoise_columns,
)
from synthtab.evals.suites import SUITES
from synthtab.schema.infer import infer_table


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """1,500 real rows of adult under the suite's dataset name."""
    folder = tmp_path_factory.mktemp("dp-data")
    adult = pd.read_parquet(datasets_dir / "adult.parquet").sample(1_500, random_state=2)
    adult.to_parquet(folder / "adult.parquet", index=False)
    return folder


def test_a_tiny_synthtab_only_run_has_every_row_and_never_overspends(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    cases = [c for c in SUITES["dp"].cases if c.dataset == "adult"]
    out = tmp_path / "dp"
    results = run_dp_suite(
        cases, tiny_data_dir, out, [1.0], "test", rows=300, peers=[], scorer=no_sdmetrics
    )
    methods = [(r.epsilon, r.method) for r in results.rows]
    assert methods == [
        (None, "synthtab-gaussian_copula (no DP)"),
        (1.0, "synthtab-auto"),
        (1.0, "synthtab-dp_mst"),
        (1.0, "synthtab-dp_copula"),
        (1.0, "synthtab-dp_argn"),
    ]
    for row in results.rows:
        assert row.exit_code == 0 and row.rows == 300, row
        assert row.fidelity is not None and row.tstr_synthetic is not None
        assert row.tstr_vs_non_dp is not None
    private = [r for r in results.rows if r.epsilon is not None]
    for row in private:
        assert row.epsilon_spent is not None and 0 < row.epsilon_spent <= 1.0 + 1e-9
    auto = next(r for r in private if r.method == "synthtab-auto")
    assert auto.model == "dp_mst"  # the generator's rule: adult is 10 of 15 categorical
    reference = results.rows[0]
    assert reference.epsilon_spent is None and reference.tstr_vs_non_dp == pytest.approx(1.0)
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["rows"]) == 5
    markdown = (out / "results.md").read_text()
    assert "| adult | 1 | synthtab-auto (dp_mst) |" in markdown and "Public information" in markdown


def test_smartnoise_gets_column_kinds_and_public_bounds(adult: pd.DataFrame) -> None:
    sample = adult.sample(500, random_state=0)
    spec = smartnoise_columns(infer_table(sample, "adult"), sample, 2)
    assert "workclass" in spec["categorical"] and "income" in spec["categorical"]
    assert "age" in spec["continuous"]
    assert spec["bounds"]["age"] == [float(sample["age"].min()), float(sample["age"].max())]
    assert set(spec["bounds"]) == set(spec["continuous"])


def test_auto_is_not_run_twice() -> None:
    jobs = plan_jobs("adult", [0.5, 3.0], ["mst", "aim"])
    assert [j.method for j in jobs if j.epsilon == 3.0] == [
        "synthtab-dp_mst",
        "synthtab-dp_copula",
        "synthtab-dp_argn",
        "smartnoise-mst",
        "smartnoise-aim",
    ]
    assert sum(j.epsilon is None for j in jobs) == 1


def _row(method: str, family: str, quality: float, tstr_ratio: float | None = None) -> DPRow:
    return DPRow(
        dataset="d", epsilon=3.0, method=method, family=family, exit_code=0, status="ok",
        wall_seconds=1.0, fidelity=0.9, sdmetrics_quality=quality, tstr_vs_non_dp=tstr_ratio,
    )  # fmt: skip


def test_the_bars_compare_with_the_better_peer_and_09_of_non_dp() -> None:
    rows = [
        _row("synthtab-dp_mst", "synthtab", 0.85, tstr_ratio=0.95),
        _row("synthtab-dp_copula", "synthtab", 0.80, tstr_ratio=0.85),
        _row("smartnoise-mst", "peer", 0.82),
        _row("smartnoise-aim", "peer", 0.84),
    ]
    checks = {c.method: c for c in goal_checks(rows)}
    assert checks["synthtab-dp_mst"].best_peer_quality == 0.84
    assert checks["synthtab-dp_mst"].quality_at_least_best_peer is True
    assert checks["synthtab-dp_copula"].quality_at_least_best_peer is False
    assert checks["synthtab-dp_mst"].tstr_at_least_09_non_dp is True
    assert checks["synthtab-dp_copula"].tstr_at_least_09_non_dp is False


def test_epsilons_are_parsed_or_refused_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert parse_epsilons("1, 3") == [1.0, 3.0]
    assert parse_epsilons(None) == [0.5, 1.0, 3.0, 10.0]
    with pytest.raises(ValueError, match="'x' is not a number"):
        parse_epsilons("1,x")
    with pytest.raises(ValueError, match="must be > 0"):
        parse_epsilons("0")
    flags = ["--data-dir", str(tmp_path), "--out", str(tmp_path / "out")]
    code = main(["eval", "--suite", "dp", "--epsilons", "-1", *flags])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: --epsilons: -1 must be > 0" in err and "Traceback" not in err
    code = main(["eval", "--suite", "dp", "--peers", "ctgan", *flags])
    assert code == 2 and "unknown DP peer 'ctgan'" in capsys.readouterr().err
