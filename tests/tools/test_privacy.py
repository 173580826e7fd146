from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.schema import Column, SemanticType, StorageType, Table
from synthtab.tools.privacy import (
    assess_privacy,
    dcr_share,
    exact_copies,
    exact_copy_rate,
    natural_copy_rate,
)

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def table_for(frame: pd.DataFrame, semantics: dict[str, SemanticType] | None = None) -> Table:
    semantics = semantics or {}
    columns = []
    for name in frame.columns:
        if name in semantics:
            semantic = semantics[name]
        elif pd.api.types.is_datetime64_any_dtype(frame[name].dtype):
            semantic = SemanticType.datetime
        elif pd.api.types.is_numeric_dtype(frame[name].dtype):
            semantic = SemanticType.numeric
        else:
            semantic = SemanticType.categorical
        columns.append(Column(name=name, storage=StorageType.string, semantic=semantic))
    return Table(name="t", columns=columns)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    path = DATASETS / "adult.parquet"
    if not path.exists():
        pytest.skip("shared datasets not available")
    return pd.read_parquet(path).sample(4000, random_state=2).reset_index(drop=True)


def test_exact_copies_ignore_ids_and_normalise_values() -> None:
    train = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "age": pd.array([30, 40, None], dtype="Int64"),
            "city": pd.array(["Oslo", None, "Rome"], dtype="str"),
            "day": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]),
        }
    )
    synthetic = pd.DataFrame(
        {
            "id": [97, 98, 99, 100],
            "age": [30.0, 40.0, np.nan, 31.0],
            "city": np.array(["Oslo", None, "Rome", "Oslo"], dtype=object),
            "day": ["2020-01-01", "2020-02-01", "2020-03-01", "2020-01-01"],
        },
        index=[10, 11, 12, 13],
    )
    table = table_for(train, {"id": SemanticType.id})
    mask = exact_copies(synthetic, train, table)
    assert mask.index.tolist() == [10, 11, 12, 13]
    assert mask.tolist() == [True, True, True, False]
    assert exact_copy_rate(synthetic, train, table) == pytest.approx(0.75)
    # removing the copies leaves only the new row
    assert synthetic[~mask]["age"].tolist() == [31.0]


def test_exact_copies_need_every_column_equal() -> None:
    train = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    synthetic = pd.DataFrame({"a": [1, 2], "b": ["y", "x"]})  # each value seen, no row copied
    table = table_for(train)
    assert not exact_copies(synthetic, train, table).any()
    assert exact_copy_rate(synthetic.iloc[:0], train, table) == 0.0


def test_natural_copy_rate_counts_holdout_coincidences() -> None:
    train = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "x", "y", "z"]})
    holdout = pd.DataFrame({"a": [1, 5], "b": ["x", "z"]})
    assert natural_copy_rate(holdout, train, table_for(train)) == pytest.approx(0.5)


def test_dcr_share_of_copies_is_one_and_of_fresh_rows_one_half(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, fresh = adult.iloc[:1000], adult.iloc[1000:2000], adult.iloc[2000:3000]
    copies = dcr_share(train, holdout, train.sample(800, random_state=0), table, seed=0)
    assert copies is not None
    assert copies.share > 0.95
    assert copies.synthetic_to_train_median == pytest.approx(0.0)
    assert copies.holdout_to_train_median > 0

    independent = dcr_share(train, holdout, fresh, table, seed=0)
    assert independent is not None
    assert independent.share == pytest.approx(0.5, abs=0.06)
    assert independent.reference_rows == 1000 and independent.synthetic_rows == 1000
    assert independent.synthetic_to_train_median == pytest.approx(
        independent.holdout_to_train_median, rel=0.25
    )


def test_dcr_share_ties_split_and_samples_are_equal_size() -> None:
    # every row identical everywhere: every synthetic row ties between train and holdout
    frame = pd.DataFrame({"a": [1.0] * 50, "b": ["x"] * 50})
    report = dcr_share(frame, frame.iloc[:20], frame, table_for(frame), seed=0)
    assert report is not None
    assert report.share == pytest.approx(0.5)
    assert report.reference_rows == 20


def test_dcr_share_is_deterministic_and_handles_empty_frames() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=600),
            "c": rng.choice(["a", "b", None], size=600),
            "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 99, 600), "D"),
        }
    )
    table = table_for(frame)
    train, holdout, synthetic = frame.iloc[:200], frame.iloc[200:400], frame.iloc[400:]
    first = dcr_share(train, holdout, synthetic, table, seed=7, max_rows=150)
    second = dcr_share(train, holdout, synthetic, table, seed=7, max_rows=150)
    assert first is not None and first == second
    assert first.reference_rows == 150
    assert dcr_share(train, holdout, synthetic.iloc[:0], table, seed=0) is None
    assert dcr_share(train, holdout.iloc[:0], synthetic, table, seed=0) is None


def test_assess_privacy_verdicts(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, fresh = adult.iloc[:1000], adult.iloc[1000:2000], adult.iloc[2000:3000]
    safe = assess_privacy(train, holdout, fresh, table, seed=0, exact_copies_removed=3)
    assert safe.exact_copies_removed == 3
    assert safe.risk == "low"
    assert "≈ 0.5" in safe.verdict
    assert safe.dcr_share == pytest.approx(safe.dcr.share)  # type: ignore[union-attr]
    assert safe.natural_copy_rate is not None and safe.natural_copy_rate < 0.01

    leaked = assess_privacy(train, holdout, train.iloc[:500], table, seed=0)
    assert leaked.risk == "high"
    assert leaked.exact_copy_rate == pytest.approx(1.0)
    assert "copy a training row" in leaked.verdict


def test_signed_zero_and_numeric_text_count_as_copies() -> None:
    train = pd.DataFrame({"x": [0.0, 1.5], "label": ["a", "b"]})
    synthetic = pd.DataFrame({"x": ["-0.0", "1.5"], "label": ["a", "b"]})
    assert exact_copies(synthetic, train, table_for(train)).tolist() == [True, True]


def test_verdict_without_holdout_names_no_reference() -> None:
    train = pd.DataFrame({"x": np.arange(20.0), "label": ["a", "b"] * 10})
    report = assess_privacy(train, train.iloc[:0], train, table_for(train), seed=0)
    assert report.dcr is None and report.natural_copy_rate is None
    assert report.risk == "high"
    assert "no holdout" in report.verdict
