"""`synthtab evaluate REAL SYNTHETIC`: the report for any pair of tables, and clear bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.app import main


@pytest.fixture()
def pair(adult: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    sample = adult.sample(3000, random_state=4).reset_index(drop=True)
    real, other = sample.iloc[:1500], sample.iloc[1500:].reset_index(drop=True)
    rng = np.random.default_rng(0)
    # someone else's synthesizer: real-looking rows whose income ignores everything else
    synthetic = other.assign(income=rng.permutation(other["income"].to_numpy()))
    real.to_csv(tmp_path / "real.csv", index=False)
    synthetic.to_parquet(tmp_path / "synthetic.parquet")
    return tmp_path / "real.csv", tmp_path / "synthetic.parquet"


def test_evaluate_writes_both_reports(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real, synthetic = pair
    out = tmp_path / "out"
    code = main(["evaluate", str(real), str(synthetic), "--target", "income", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    quality = report["quality"]
    assert quality["holdout_reference"]["overall_score"] > 0.9
    assert quality["utility"]["ratio"] < 0.8  # the broken target shows up in TSTR
    assert quality["utility"]["families"] and quality["detection"]["auc"] is not None
    assert report["privacy"]["dcr_share"] is not None
    assert report["validation"]["checks"]
    assert f"{quality['overall_score']:.3f}" in report["plain_summary"]
    html = (out / "report.html").read_text()
    assert 'class="pca-scatter"' in html and "Three model families" in html
    assert "http://" not in html and "https://" not in html
    assert "fidelity" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("missing_file", "no such file"),
        ("missing_column", "lacks 1 column(s) of the real one: 'age'"),
        ("bad_target", "--target 'nope' is not a column"),
    ],
)
def test_bad_input_is_a_clear_error(
    pair: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: str,
    expected: str,
) -> None:
    real, synthetic = pair
    target = "income"
    if change == "missing_file":
        synthetic = tmp_path / "nowhere.csv"
    elif change == "missing_column":
        pd.read_parquet(synthetic).drop(columns=["age"]).to_csv(tmp_path / "s.csv", index=False)
        synthetic = tmp_path / "s.csv"
    else:
        target = "nope"
    code = main(["evaluate", str(real), str(synthetic), "--target", target, "--out", "x"])
    err = capsys.readouterr().err
    assert code == 1
    assert expected in err and "Traceback" not in err
