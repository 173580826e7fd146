from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.schema import Column, SemanticType, StorageType, Table
from synthtab.tools.fidelity import (
    HISTOGRAM_BINS,
    PCA_SCATTER_POINTS,
    assess_quality,
    column_fidelity,
    correlation_difference,
    correlation_ratio,
    cramers_v,
    missing_patterns,
    pca_comparison,
    sdmetrics_compatible,
)

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def table_for(frame: pd.DataFrame, semantics: dict[str, SemanticType] | None = None) -> Table:
    semantics = semantics or {}
    columns = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if name in semantics:
            semantic = semantics[name]
        elif pd.api.types.is_bool_dtype(dtype):
            semantic = SemanticType.boolean
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            semantic = SemanticType.datetime
        elif pd.api.types.is_numeric_dtype(dtype):
            semantic = SemanticType.numeric
        else:
            semantic = SemanticType.categorical
        columns.append(Column(name=name, storage=StorageType.string, semantic=semantic))
    return Table(name="t", columns=columns)


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "x": x,
            "y": 2 * x + rng.normal(scale=0.5, size=rows),
            "colour": pd.array(rng.choice(["red", "green", "blue"], size=rows), dtype="str"),
            "flag": rng.random(rows) < 0.3,
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), "D"),
            "maybe": np.where(rng.random(rows) < 0.2, np.nan, rng.normal(size=rows)),
        }
    )


def mixed_table(frame: pd.DataFrame) -> Table:
    return table_for(frame, {"id": SemanticType.id})


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    path = DATASETS / "adult.parquet"
    if not path.exists():
        pytest.skip("shared datasets not available")
    return pd.read_parquet(path).sample(9000, random_state=0).reset_index(drop=True)


def test_identical_frames_score_one_and_ids_are_ignored() -> None:
    frame = mixed_frame(500, 0)
    table = mixed_table(frame)
    scores = column_fidelity(frame, frame.copy(), table)
    assert [s.column for s in scores] == ["x", "y", "colour", "flag", "when", "maybe"]
    for score in scores:
        assert score.statistic == pytest.approx(0.0)
        assert score.score == pytest.approx(1.0)
    assert {s.column: s.metric for s in scores}["when"] == "ks"
    assert {s.column: s.metric for s in scores}["colour"] == "tvd"
    correlation = correlation_difference(frame, frame.copy(), table)
    assert correlation.score == pytest.approx(1.0)
    assert correlation.mean_absolute_difference == pytest.approx(0.0)
    assert "id" not in correlation.columns


def test_disjoint_distributions_score_zero() -> None:
    real = pd.DataFrame({"n": np.arange(100.0), "c": ["a", "b"] * 50})
    synthetic = pd.DataFrame({"n": np.arange(1000.0, 1100.0), "c": ["x", "y"] * 50})
    scores = {s.column: s for s in column_fidelity(real, synthetic, table_for(real))}
    assert scores["n"].statistic == pytest.approx(1.0)
    assert scores["n"].score == pytest.approx(0.0)
    assert scores["c"].statistic == pytest.approx(1.0)


def test_shifted_distribution_has_intermediate_ks() -> None:
    rng = np.random.default_rng(1)
    real = pd.DataFrame({"n": rng.normal(size=4000)})
    shifted = pd.DataFrame({"n": rng.normal(loc=1.0, size=4000)})
    score = column_fidelity(real, shifted, table_for(real))[0]
    # KS between N(0,1) and N(1,1) is 2*Phi(0.5)-1 = 0.383
    assert score.statistic == pytest.approx(0.383, abs=0.04)


def test_nulls_count_as_their_own_value() -> None:
    values = np.arange(100.0)
    real = pd.DataFrame({"n": np.where(values < 50, np.nan, values), "c": ["a"] * 50 + [None] * 50})
    synthetic = pd.DataFrame({"n": values, "c": ["a"] * 100})
    scores = {s.column: s for s in column_fidelity(real, synthetic, table_for(real))}
    assert scores["n"].real_null_fraction == pytest.approx(0.5)
    assert scores["n"].null_fraction_difference == pytest.approx(0.5)
    assert scores["n"].statistic == pytest.approx(0.5)
    assert scores["c"].statistic == pytest.approx(0.5)
    assert "(null)" in scores["c"].plot.labels


def test_values_match_across_dtypes() -> None:
    real = pd.DataFrame(
        {
            "code": pd.array([1, 2, 2, None], dtype="Int64"),
            "day": pd.to_datetime(["2021-01-01", "2021-02-01", None, "2021-03-01"]),
            "word": pd.array(["a", "b", None, "b"], dtype="str"),
        }
    )
    synthetic = pd.DataFrame(
        {
            "code": [1.0, 2.0, 2.0, np.nan],
            "day": ["2021-01-01", "2021-02-01", None, "2021-03-01"],
            "word": np.array(["a", "b", None, "b"], dtype=object),
        }
    )
    table = table_for(real, {"code": SemanticType.categorical})
    for score in column_fidelity(real, synthetic, table):
        assert score.score == pytest.approx(1.0), score.column


def test_plot_data_shares_bins_and_caps_categories() -> None:
    rng = np.random.default_rng(2)
    real = pd.DataFrame({"n": rng.normal(size=1000), "c": rng.integers(0, 30, 1000).astype(str)})
    synthetic = pd.DataFrame({"n": rng.normal(size=700), "c": rng.integers(0, 30, 700).astype(str)})
    scores = {s.column: s for s in column_fidelity(real, synthetic, table_for(real))}
    histogram = scores["n"].plot
    assert histogram.kind == "histogram"
    assert len(histogram.labels) == HISTOGRAM_BINS == len(histogram.real)
    assert len(histogram.bin_edges or []) == HISTOGRAM_BINS + 1
    assert sum(histogram.real) == pytest.approx(1.0)
    assert sum(histogram.synthetic) == pytest.approx(1.0)
    categories = scores["c"].plot
    assert len(categories.labels) == 21 and categories.labels[-1] == "(other)"
    assert sum(categories.real) == pytest.approx(1.0)


def test_cramers_v_known_values() -> None:
    # [[30, 10], [10, 30]]: chi2 = 20, n = 80, V = sqrt(20 / 80) = 0.5
    a = np.array([0] * 40 + [1] * 40)
    b = np.array([0] * 30 + [1] * 10 + [0] * 10 + [1] * 30)
    assert cramers_v(a, b) == pytest.approx(0.5)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, np.zeros_like(a)) == 0.0


def test_correlation_ratio_known_values() -> None:
    groups = np.array([0, 0, 1, 1, 2, 2])
    assert correlation_ratio(groups, np.array([1.0, 1.0, 5.0, 5.0, 9.0, 9.0])) == pytest.approx(1.0)
    # equal group means: the categories explain nothing
    assert correlation_ratio(groups, np.array([1.0, 3.0, 1.0, 3.0, 3.0, 1.0])) == pytest.approx(0.0)


def test_association_matrix_measures_and_signs() -> None:
    x = np.linspace(0, 1, 200)
    labels = np.where(x < 0.5, "low", "high")
    real = pd.DataFrame({"x": x, "neg": -x, "band": labels, "band2": labels})
    comparison = correlation_difference(real, real, table_for(real))
    index = {name: i for i, name in enumerate(comparison.columns)}
    assert comparison.real[index["x"]][index["neg"]] == pytest.approx(-1.0)
    assert comparison.measures[index["x"]][index["neg"]] == "pearson"
    assert comparison.real[index["band"]][index["band2"]] == pytest.approx(1.0)
    assert comparison.measures[index["band"]][index["band2"]] == "cramers_v"
    assert comparison.measures[index["x"]][index["band"]] == "correlation_ratio"
    assert comparison.real[index["x"]][index["band"]] > 0.8


def test_broken_relationships_lower_pair_trend_score() -> None:
    frame = mixed_frame(2000, 3)
    table = mixed_table(frame)
    rng = np.random.default_rng(0)
    broken = frame.copy()
    broken["y"] = rng.permutation(broken["y"].to_numpy())
    same = correlation_difference(frame, mixed_frame(2000, 4), table)
    different = correlation_difference(frame, broken, table)
    assert same.score > 0.97
    assert different.score < same.score
    # the shuffled pair carries the difference: Pearson x~y drops from ~0.97 to ~0
    index = {name: i for i, name in enumerate(different.columns)}
    assert same.difference[index["x"]][index["y"]] < 0.02
    assert different.difference[index["x"]][index["y"]] > 0.4


def test_wide_tables_keep_the_most_associated_columns() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=300)
    data = {f"linked{i}": base + rng.normal(scale=0.3, size=300) for i in range(10)}
    data.update({f"noise{i}": rng.normal(size=300) for i in range(40)})
    frame = pd.DataFrame(data)
    comparison = correlation_difference(frame, frame, table_for(frame))
    assert len(comparison.columns) == 40
    assert len(comparison.dropped_columns) == 10
    assert all(f"linked{i}" in comparison.columns for i in range(10))


def test_assess_quality_is_deterministic_and_reports_samples() -> None:
    frame = mixed_frame(3000, 6)
    table = mixed_table(frame)
    train, holdout, synthetic = frame.iloc[:1500], frame.iloc[1500:], mixed_frame(2000, 7)
    first = assess_quality(train, holdout, synthetic, table, "flag", seed=3, max_rows=1000)
    second = assess_quality(train, holdout, synthetic, table, "flag", seed=3, max_rows=1000)
    assert first.model_dump() == second.model_dump()
    assert first.sample_rows == {"train": 1000, "holdout": 1000, "synthetic": 1000}
    assert first.subsampled
    assert any("deterministic samples" in note for note in first.notes)
    assert first.overall_score == pytest.approx(
        (first.column_shape_score + first.pair_trend_score) / 2
    )
    assert first.holdout_reference is not None
    assert first.holdout_reference.overall_score > 0.9
    assert first.utility is not None and first.utility.task == "classification"
    text = first.model_dump_json()
    assert "NaN" not in text
    json.loads(text)


def test_stratified_sample_keeps_target_proportions() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {"x": rng.normal(size=5000), "label": np.where(rng.random(5000) < 0.1, "rare", "common")}
    )
    table = table_for(frame)
    report = assess_quality(frame, frame.iloc[:0], frame, table, "label", seed=0, max_rows=500)
    assert report.sample_rows["train"] == 500
    assert report.holdout_reference is None
    label = next(c for c in report.columns if c.column == "label")
    rare_share = frame["label"].eq("rare").mean()
    index = label.plot.labels.index("rare")
    assert label.plot.real[index] == pytest.approx(rare_share, abs=0.003)


def test_assess_quality_on_adult(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, synthetic = adult.iloc[:3000], adult.iloc[3000:6000], adult.iloc[6000:]
    report = assess_quality(train, holdout, synthetic, table, "income", seed=0)
    assert report.holdout_reference is not None
    # a fresh real sample is as good as synthetic data can get
    assert report.overall_score == pytest.approx(report.holdout_reference.overall_score, abs=0.02)
    assert report.utility is not None and report.utility.ratio is not None
    assert report.utility.ratio > 0.95

    rng = np.random.default_rng(0)
    independent = synthetic.apply(lambda col: rng.permutation(col.to_numpy()))
    broken = assess_quality(train, holdout, independent, table, "income", seed=0)
    assert broken.column_shape_score > 0.95  # each column alone is still right...
    assert broken.pair_trend_score < report.pair_trend_score - 0.03  # ...their relations are not
    assert broken.utility is not None and broken.utility.ratio is not None
    assert broken.utility.ratio < 0.8


# ---- per-column distances, contingency, PCA, missing patterns, SDMetrics definitions ----------


def test_column_distances_are_zero_for_identical_and_large_for_disjoint() -> None:
    frame = mixed_frame(2000, 11)
    table = mixed_table(frame)
    same = {c.column: c for c in column_fidelity(frame, frame, table)}
    assert same["x"].jensen_shannon == pytest.approx(0.0, abs=1e-9)
    assert same["x"].wasserstein == pytest.approx(0.0, abs=1e-9)
    assert same["colour"].jensen_shannon == pytest.approx(0.0, abs=1e-9)
    assert same["colour"].wasserstein is None  # categories have no distance between values
    shifted = frame.assign(x=frame["x"] + 100.0, colour="purple")
    far = {c.column: c for c in column_fidelity(frame, shifted, table)}
    assert far["x"].ks == pytest.approx(1.0)
    assert far["x"].wasserstein == pytest.approx(1.0)  # capped at one real range
    assert far["colour"].jensen_shannon == pytest.approx(1.0)
    assert far["colour"].tvd == pytest.approx(1.0)
    nudged = frame.assign(x=frame["x"] + 0.1)
    middle = {c.column: c for c in column_fidelity(frame, nudged, table)}
    assert 0.0 < middle["x"].wasserstein < 0.1 and 0.0 < middle["x"].jensen_shannon < 0.5


def test_contingency_similarity_sees_broken_category_pairs() -> None:
    rng = np.random.default_rng(3)
    a = rng.choice(["p", "q", "r"], size=4000)
    b = np.where(rng.random(4000) < 0.9, a, "s")  # b follows a
    real = pd.DataFrame({"a": a, "b": b})
    table = table_for(real)
    intact = correlation_difference(real, real.sample(frac=1, random_state=1), table)
    broken = correlation_difference(real, real.assign(b=rng.permutation(b)), table)
    assert intact.contingency_similarity == pytest.approx(1.0)
    assert broken.contingency_similarity is not None
    assert broken.contingency_similarity < 0.6


def test_pca_comparison_and_missing_patterns() -> None:
    frame = mixed_frame(3000, 12)
    table = mixed_table(frame)
    same = pca_comparison(frame, frame, table, seed=0)
    assert same is not None and same.score == pytest.approx(1.0)
    assert len(same.real_points) == PCA_SCATTER_POINTS and len(same.real_points[0]) == 2
    rng = np.random.default_rng(0)
    independent = frame.apply(lambda col: rng.permutation(col.to_numpy()))
    assert pca_comparison(frame, independent, table, seed=0).score < same.score - 0.05
    patterns = missing_patterns(frame, frame, table)
    assert patterns.score == pytest.approx(1.0)
    assert [p.columns for p in patterns.patterns][:2] == [[], ["maybe"]]
    no_nulls = frame.assign(maybe=frame["maybe"].fillna(0.0))
    assert missing_patterns(frame, no_nulls, table).score == pytest.approx(
        1.0 - frame["maybe"].isna().mean()
    )


def test_sdmetrics_compatible_definitions_by_hand() -> None:
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "c": ["a", "a", "b", None]})
    synthetic = pd.DataFrame({"x": [1.0, 2.0, 2.5, 10.0], "c": ["a", "b", "b", "b"]})
    table = table_for(real)
    scores = sdmetrics_compatible(real, synthetic, table)
    # KS on present values: real {1,2,3} vs synthetic {1,2,2.5,10} -> D = 1/4 at x in [2, 2.5)
    # TVD on present categories: real a 2/3 b 1/3, synthetic a 1/4 b 3/4 -> 5/12
    assert scores.column_shapes == pytest.approx(((1 - 0.25) + (1 - 5 / 12)) / 2)
    assert scores.sdtypes == {"x": "numerical", "c": "categorical"}
    assert scores.column_pair_trends is not None and 0.0 <= scores.column_pair_trends <= 1.0


def test_assess_quality_reports_the_new_metrics_with_their_ceilings(adult: pd.DataFrame) -> None:
    table = table_for(adult)
    train, holdout, synthetic = adult.iloc[:3000], adult.iloc[3000:6000], adult.iloc[6000:]
    report = assess_quality(train, holdout, synthetic, table, "income", seed=0)
    reference = report.holdout_reference
    assert reference is not None and reference.sdmetrics_compatible is not None
    assert report.pca is not None and report.missing_patterns is not None
    assert report.detection is not None and report.detection.auc is not None
    # a fresh real sample cannot be told apart from the training rows
    assert abs(report.detection.auc - 0.5) < 0.1
    assert report.sdmetrics_compatible is not None
    assert report.sdmetrics_compatible.column_shapes == pytest.approx(
        reference.sdmetrics_compatible.column_shapes, abs=0.02
    )
    assert report.sampling is not None and "all rows" in report.sampling
    assert all(c.jensen_shannon is not None for c in report.columns)
