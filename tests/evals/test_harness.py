from __future__ import annotations

from pathlib import Path

import pytest

from synthtab.app import build_parser, main
from synthtab.evals.harness import CaseResult, dataset_file, results_table
from synthtab.evals.suites import SUITES


def test_compare_suite_covers_the_benchmark_tables() -> None:
    suite = SUITES["compare"]
    assert suite.runner == "compare"
    assert {(c.dataset, c.target) for c in suite.cases} == {
        ("adult", "income"),
        ("telco_churn", "churn"),
        ("lending_club", "Class"),
        ("credit_data", "Status"),
        ("california_housing", "MedHouseVal"),
    }
    assert SUITES["spine"].runner == "cli"
    assert SUITES["conditioning"].cases == suite.cases


def test_every_compare_dataset_is_in_the_shared_folder(datasets_dir: Path) -> None:
    for case in SUITES["compare"].cases:
        assert dataset_file(datasets_dir, case.dataset).exists()


def test_spine_table_keeps_its_columns() -> None:
    row = CaseResult(
        dataset="titanic", target="survived", rows_requested=10, rows_delivered=10,
        exit_code=0, status="complete", wall_seconds=1.0, peak_memory_mb=50.0,
    )  # fmt: skip
    header = results_table([row]).splitlines()[0]
    assert "fidelity (holdout ceiling)" in header and "violating rows" in header
    assert results_table([row]).count("|") == 3 * 13


def test_eval_parser_takes_the_compare_flags() -> None:
    args = build_parser().parse_args(
        ["eval", "--suite", "compare", "--peers", "ctgan,tabularargn", "--models", "argn",
         "--no-sdmetrics", "--seed", "3"]
    )  # fmt: skip
    assert (args.peers, args.models, args.no_sdmetrics, args.seed) == (
        "ctgan,tabularargn", "argn", True, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--peers", "synthpop"], "unknown peer 'synthpop'"),
        (["--models", "nope"], "unknown SynthTab model 'nope'"),
        (["--datasets", "titanic"], "not in suite compare: titanic"),
        (["--peers", "none", "--models", "none"], "nothing to compare"),
    ],
)
def test_compare_cli_rejects_bad_requests_before_any_work(
    flags: list[str], message: str, datasets_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code = main(
        ["eval", "--suite", "compare", "--data-dir", str(datasets_dir), "--out", str(tmp_path),
         *flags]
    )  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results.json").exists()
