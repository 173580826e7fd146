from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.schema import Column, SemanticType, StorageType, Table
from synthtab.tools import utility
from synthtab.tools.utility import tstr

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def table_for(frame: pd.DataFrame, semantics: dict[str, SemanticType] | None = None) -> Table:
    semantics = semantics or {}
    columns = []
    for name in frame.columns:
        if name in semantics:
            semantic = semantics[name]
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
    return pd.read_parquet(path).sample(6000, random_state=1).reset_index(drop=True)


def three_classes(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(["a", "b", "c"], size=rows)
    signal = np.select([label == "a", label == "b"], [0.0, 3.0], 6.0) + rng.normal(size=rows)
    return pd.DataFrame({"signal": signal, "noise": rng.normal(size=rows), "label": label})


def scores_of(report) -> dict[str, object]:
    return {s.metric: s for s in report.scores}


def test_tstr_on_adult_real_and_shuffled(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout = adult.iloc[:3000], adult.iloc[3000:]
    copy = tstr(train, holdout, train.copy(), table, "income", seed=0)
    assert copy.status == "ok" and copy.task == "classification"
    auc = scores_of(copy)["roc_auc"]
    assert auc.real >= 0.85
    assert copy.ratio == pytest.approx(1.0)
    assert copy.train_rows_real == 3000 and copy.holdout_rows == 3000
    assert "income" not in copy.features

    shuffled = train.copy()
    shuffled["income"] = np.random.default_rng(0).permutation(shuffled["income"].to_numpy())
    noise = tstr(train, holdout, shuffled, table, "income", seed=0)
    assert scores_of(noise)["roc_auc"].synthetic == pytest.approx(0.5, abs=0.1)
    assert noise.ratio is not None and noise.ratio < 0.7


def test_regression_target_uses_r2(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    report = tstr(adult.iloc[:3000], adult.iloc[3000:], adult.iloc[:3000], table, "age", seed=0)
    assert report.task == "regression"
    assert report.primary_metric == "r2"
    assert scores_of(report)["r2"].real > 0.3


def test_multiclass_macro_auc_and_determinism() -> None:
    train, holdout = three_classes(1500, 0), three_classes(800, 1)
    table = table_for(train)
    report = tstr(train, holdout, three_classes(1500, 2), table, "label", seed=4)
    assert scores_of(report)["roc_auc"].real > 0.95
    assert scores_of(report)["roc_auc"].synthetic > 0.95
    again = tstr(train, holdout, three_classes(1500, 2), table, "label", seed=4)
    assert report.model_dump() == again.model_dump()


def test_class_missing_from_synthetic_is_reported_not_fatal() -> None:
    train, holdout = three_classes(1000, 0), three_classes(500, 1)
    table = table_for(train)
    two_classes = train[train["label"] != "c"]
    report = tstr(train, holdout, two_classes, table, "label", seed=0)
    assert report.status == "ok"
    assert any("lacks 1 target class" in note for note in report.notes)
    # the missing class can never be predicted: its one-vs-rest AUC is 0.5 at best
    assert scores_of(report)["roc_auc"].synthetic < scores_of(report)["roc_auc"].real

    single = train[train["label"] == "a"]
    constant = tstr(train, holdout, single, table, "label", seed=0)
    assert any("single class" in note for note in constant.notes)
    assert scores_of(constant)["roc_auc"].synthetic == pytest.approx(0.5)
    assert scores_of(constant)["accuracy"].synthetic == pytest.approx(
        (holdout["label"] == "a").mean()
    )


def test_constant_holdout_target_leaves_auc_undefined() -> None:
    train = three_classes(600, 0)
    holdout = three_classes(200, 1).assign(label="a")
    report = tstr(train, holdout, train, table_for(train), "label", seed=0)
    assert scores_of(report)["roc_auc"].real is None
    assert report.ratio is None
    assert any("single class" in note for note in report.notes)
    assert scores_of(report)["accuracy"].real is not None


def test_zero_one_numeric_target_is_classification() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=1200)
    frame = pd.DataFrame({"x": x, "y": (x + rng.normal(scale=0.3, size=1200) > 0).astype(int)})
    report = tstr(frame.iloc[:800], frame.iloc[800:], frame.iloc[:800], table_for(frame), "y", 0)
    assert report.task == "classification"
    assert scores_of(report)["roc_auc"].real > 0.9


def test_unusable_targets_are_skipped() -> None:
    frame = three_classes(100, 0).assign(note="free text")
    table = table_for(frame, {"note": SemanticType.text})
    assert tstr(frame, frame, frame, table, "missing", 0).status == "skipped"
    text = tstr(frame, frame, frame, table, "note", 0)
    assert text.status == "skipped" and "not predictable" in text.notes[0]
    only_target = frame[["label"]]
    bare = tstr(only_target, only_target, only_target, table_for(only_target), "label", 0)
    assert bare.status == "skipped"


def test_null_targets_are_dropped_and_rows_capped() -> None:
    frame = three_classes(3000, 0).astype({"label": object})
    frame.loc[::10, "label"] = None
    report = tstr(
        frame, frame, frame, table_for(frame), "label", 0, max_train_rows=500, max_holdout_rows=400
    )
    assert report.train_rows_real == 500 and report.train_rows_synthetic == 500
    assert report.holdout_rows == 400


def test_wide_tables_train_on_fewer_rows_and_all_null_features_are_harmless(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a small cell budget stands in for a very wide table
    monkeypatch.setattr(utility, "TRAIN_CELL_BUDGET", 10_000)
    monkeypatch.setattr(utility, "MIN_TRAIN_ROWS", 300)
    rng = np.random.default_rng(6)
    rows = 2000
    wide = pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(19)})
    wide["empty_number"] = np.nan
    wide["label"] = np.where(wide["f0"] > 0, "pos", "neg")
    report = tstr(wide, wide.iloc[:500], wide, table_for(wide), "label", 0)
    assert report.status == "ok"
    # 10,000 cells / 20 features
    assert report.train_rows_real == 500
    assert any("capped at 500" in note for note in report.notes)
    assert scores_of(report)["roc_auc"].real > 0.9


def test_three_model_families_tstr_trts_and_importances(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, synthetic = adult.iloc[:2500], adult.iloc[2500:4000], adult.iloc[4000:]
    report = tstr(train, holdout, synthetic, table, "income", seed=0)
    assert [f.family for f in report.families] == list(utility.FAMILIES)
    for family in report.families:
        assert family.metric == "roc_auc"
        assert family.tstr is not None and family.trtr is not None and family.trts is not None
        assert family.tstr > 0.8 and family.ratio is not None and family.ratio > 0.93
    assert report.feature_importance_correlation is not None
    assert report.feature_importance_correlation > 0.8

    shuffled = synthetic.assign(income=np.random.default_rng(0).permutation(synthetic["income"]))
    broken = tstr(train, holdout, shuffled, table, "income", seed=0)
    for good, bad in zip(report.families, broken.families, strict=True):
        assert bad.tstr is not None and bad.tstr < good.tstr - 0.2  # type: ignore[operator]
        # the real model sees synthetic rows whose target no longer follows the features
        assert bad.trts is not None and bad.trts < good.trts - 0.2  # type: ignore[operator]
    again = tstr(train, holdout, synthetic, table, "income", seed=0)
    assert again.families == report.families


def test_families_for_regression(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, synthetic = adult.iloc[:2000], adult.iloc[2000:3000], adult.iloc[3000:5000]
    report = tstr(train, holdout, synthetic, table, "age", seed=0)
    assert report.task == "regression"
    assert {f.metric for f in report.families} == {"r2"}
    assert all(f.trtr is not None and f.trtr > 0.2 for f in report.families)
