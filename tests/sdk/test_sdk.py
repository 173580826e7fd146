"""The Python SDK: pandas in, pandas out, the same graph run as the CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import synthtab
from synthtab.schema.rules import compile_rule, evaluate_rule


@pytest.fixture(scope="module")
def titanic(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(datasets_dir / "titanic.parquet").sample(300, random_state=0)


def test_import_is_light() -> None:
    code = "import sys, synthtab; print('langgraph' in sys.modules, 'pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "False"]


def test_generate_from_a_dataframe_with_rules(titanic: pd.DataFrame, tmp_path: Path) -> None:
    result = synthtab.generate(
        titanic,
        rows=150,
        rules=["fare_not_negative: fare >= 0", "age >= 0"],
        seed=4,
        out=tmp_path / "run",
        compute_tstr=False,
    )
    assert result.status == "complete"
    assert isinstance(result.data, pd.DataFrame) and len(result.data) == 150
    assert list(result.data.columns) == list(titanic.columns)
    assert result.report["status"] == "complete" and result.manifest["status"] == "complete"
    assert {r.name for r in result.schema.rules} >= {"fare_not_negative", "rule_2"}
    for rule in result.schema.rules:
        assert evaluate_rule(compile_rule(rule.expression, result.data.columns), result.data).all()
    assert (result.run_dir / "report.html").is_file()
    again = synthtab.generate(
        titanic, rows=150, rules=["fare_not_negative: fare >= 0", "age >= 0"], seed=4,
        out=tmp_path / "again", compute_tstr=False,
    )  # fmt: skip
    pd.testing.assert_frame_equal(result.data, again.data)


def test_evaluate_schema_and_synthesizer(titanic: pd.DataFrame) -> None:
    schema = synthtab.Schema.infer(titanic)
    assert schema.tables[0].column_names == list(titanic.columns)
    model = synthtab.Synthesizer("gaussian_copula").fit(titanic, seed=1)
    sample = model.sample(120, seed=1)
    assert len(sample) == 120 and list(sample.columns) == list(titanic.columns)
    scores = synthtab.evaluate(titanic, sample, target="survived")
    assert 0.0 < scores["quality"]["overall_score"] <= 1.0
    assert 0.0 <= scores["privacy"]["dcr_share"] <= 1.0
    shuffled = titanic.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert (
        synthtab.evaluate(titanic, shuffled)["privacy"]["dcr_share"]
        > scores["privacy"]["dcr_share"]
    ), "copies of the real rows should look closer to the training rows than model samples"


def test_bad_input_raises_input_error(titanic: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(synthtab.InputError, match="'nope' is not a column"):
        synthtab.generate(titanic, target="nope", out=tmp_path / "a")
    with pytest.raises(synthtab.InputError, match="rule 'bad' is invalid"):
        synthtab.generate(titanic, rules=["bad: fare >>> 1"], out=tmp_path / "b")
    with pytest.raises(synthtab.InputError, match="no expression"):
        synthtab.generate(titanic, rules=["empty:"], out=tmp_path / "c")
    with pytest.raises(synthtab.InputError, match="unknown model"):
        synthtab.Synthesizer("gan")
    with pytest.raises(synthtab.InputError, match="fit"):
        synthtab.Synthesizer().sample(3)
    with pytest.raises(synthtab.InputError, match="lacks the real data's columns"):
        synthtab.evaluate(titanic, titanic.drop(columns=["fare"]))
    with pytest.raises(synthtab.InputError):
        synthtab.generate(tmp_path / "missing.csv", out=tmp_path / "d")
    with pytest.raises(synthtab.InputError) as invalid:
        synthtab.generate(titanic, detection_threshold=1.5, out=tmp_path / "e")
    # named by the keyword argument the caller typed, with its range; none of pydantic's text
    assert "detection_threshold 1.5: must be a number >= 0.5 and <= 1" in str(invalid.value)
    assert "validation error" not in str(invalid.value)
    assert not (tmp_path / "e").exists()


def test_the_feedback_thresholds_reach_the_assessor(titanic: pd.DataFrame, tmp_path: Path) -> None:
    # a TSTR ratio of 2 is out of reach and the other triggers are off: the TSTR threshold
    # alone sends the first round back
    result = synthtab.generate(
        titanic, rows=150, target="survived", out=tmp_path / "run", quality_threshold=0.0,
        detection_threshold=1.0, tstr_threshold=2.0, max_quality_rounds=1,
    )  # fmt: skip
    rounds = result.report["quality_history"]
    assert len(rounds) == 2
    assert rounds[0]["failing"] == ["utility"]


def test_generate_with_epsilon_goes_through_the_privacy_ledger(
    adult_csv: Path, tmp_path: Path
) -> None:
    from synthtab.io.errors import InputError
    from synthtab.store.ledger import PrivacyLedger

    ledger_path = tmp_path / "ledger.db"
    result = synthtab.generate(
        adult_csv,
        rows=100,
        seed=1,
        out=tmp_path / "dp",
        compute_tstr=False,
        epsilon=1.0,
        privacy_budget=1.5,
        budget_ledger=ledger_path,
    )
    assert result.status in {"complete", "incomplete"}
    spent = result.manifest["differential_privacy"]["spent_epsilon"]
    assert 0 < spent <= 1.0
    with sqlite3.connect(ledger_path) as connection:
        (sha,) = connection.execute("SELECT DISTINCT dataset_sha256 FROM privacy_ledger").fetchone()
    ledger = PrivacyLedger(ledger_path)
    try:
        (entry,) = ledger.entries(sha)
    finally:
        ledger.close()
    assert entry.status == "settled" and entry.epsilon == pytest.approx(spent)
    # the same rows again: 1.0 more would take the total past 1.5, refused before any reading
    with pytest.raises(InputError, match="privacy budget refused"):
        synthtab.generate(
            adult_csv, rows=100, out=tmp_path / "dp2", compute_tstr=False, epsilon=1.0,
            privacy_budget=1.5, budget_ledger=ledger_path,
        )  # fmt: skip
    assert not (tmp_path / "dp2" / "manifest.json").exists()


def test_conditions_and_rebalance_reach_every_row(titanic: pd.DataFrame, tmp_path: Path) -> None:
    result = synthtab.generate(
        titanic, rows=400, seed=2, out=tmp_path / "run", compute_tstr=False,
        conditions={"class": "1st"}, rebalance={"gender": {"female": 0.8}},
    )  # fmt: skip
    assert result.status == "complete"
    assert (result.data["class"] == "1st").all()
    assert (result.data["gender"] == "female").mean() == pytest.approx(0.8, abs=0.06)
    with pytest.raises(synthtab.InputError, match="rebalance"):
        synthtab.generate(titanic, rebalance={"gender": {"female": 1.5}}, out=tmp_path / "bad")


def test_a_seed_table_frame_seeds_one_row_each_in_its_order(
    titanic: pd.DataFrame, tmp_path: Path
) -> None:
    seeds = pd.DataFrame(
        {"class": ["3rd", "1st", "2nd", "1st"] * 30, "gender": ["male", None] * 60}
    )
    result = synthtab.generate(
        titanic, seed=2, out=tmp_path / "run", compute_tstr=False, model="gaussian_copula",
        seed_table=seeds,
    )  # fmt: skip
    assert result.status == "complete" and len(result.data) == 120
    assert result.data["class"].tolist() == seeds["class"].tolist()
    given = seeds["gender"].notna()
    assert (result.data["gender"][given] == "male").all()
    assert set(result.data["gender"][~given]) == {"male", "female"}
    assert result.report["seed_table"]["undelivered_rows"] == []
    with pytest.raises(synthtab.InputError, match="leave --rows out"):
        synthtab.generate(titanic, rows=10, seed_table=seeds, out=tmp_path / "bad")
