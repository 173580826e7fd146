"""Statistical fidelity: how closely synthetic columns and column pairs follow the real ones.

Column shapes: numbers and datetimes by the two-sample Kolmogorov–Smirnov statistic, categories
by total variation distance; nulls always count as a value of their own. Pair trends: Pearson
correlation for two continuous columns, Cramér's V for two categorical ones, the correlation
ratio for a mixed pair. Every score is on [0, 1], 1 meaning indistinguishable, and comes with
the same score for a real holdout against the real training rows: the ceiling that sampling
noise alone allows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy.stats import ks_2samp

from synthtab.schema import Column, Table
from synthtab.tools.encoding import (
    NULL_KEY,
    OTHER_KEY,
    bucket_keys,
    category_keys,
    column_kind,
    deterministic_sample,
    display_key,
    metric_columns,
    to_continuous,
    top_categories,
)
from synthtab.tools.utility import UtilityReport, tstr

HISTOGRAM_BINS = 20
PLOT_CATEGORIES = 20
FREEFORM_CATEGORIES = 20  # free text, emails...: only the frequent values are comparable
ASSOCIATION_CATEGORIES = 20
MAX_ASSOCIATION_COLUMNS = 40
SELECTION_SAMPLE_ROWS = 2_000

ColumnMetric = Literal["ks", "tvd", "tvd_top"]
PairMeasure = Literal["pearson", "cramers_v", "correlation_ratio"]


class ColumnPlot(BaseModel):
    """Real and synthetic frequencies over shared bins or categories (fractions of all rows)."""

    kind: Literal["histogram", "categories"]
    labels: list[str]
    real: list[float]
    synthetic: list[float]
    bin_edges: list[float] | None = Field(
        default=None, description="histogram edges (datetimes: seconds since 1970)"
    )


class ColumnFidelity(BaseModel):
    column: str
    semantic: str
    metric: ColumnMetric
    statistic: float = Field(description="KS statistic or total variation distance")
    score: float = Field(description="1 - statistic")
    real_null_fraction: float
    synthetic_null_fraction: float
    null_fraction_difference: float
    plot: ColumnPlot


class CorrelationComparison(BaseModel):
    """Association matrices of real and synthetic data over the same columns.

    ``measures[i][j]`` names the measure of each pair (None on the diagonal). Pearson lies on
    [-1, 1], Cramér's V and the correlation ratio on [0, 1]; an association that is undefined in
    a frame (a column constant there) counts as 0.
    """

    columns: list[str]
    measures: list[list[PairMeasure | None]]
    real: list[list[float]]
    synthetic: list[list[float]]
    difference: list[list[float]] = Field(
        description="|real - synthetic| on [0,1]-scaled associations (Pearson halved)"
    )
    mean_absolute_difference: float
    score: float
    dropped_columns: list[str] = Field(
        default_factory=list, description="usable columns left out to keep the matrix readable"
    )


class FidelityReference(BaseModel):
    """The same fidelity metrics for the real holdout against the real training rows."""

    column_shape_score: float
    pair_trend_score: float
    overall_score: float
    column_scores: dict[str, float]


class QualityReport(BaseModel):
    seed: int
    target: str | None
    sample_rows: dict[str, int] = Field(
        description="rows used per frame: train, holdout, synthetic"
    )
    subsampled: bool
    columns: list[ColumnFidelity]
    column_shape_score: float
    pair_trend_score: float
    overall_score: float
    correlation: CorrelationComparison
    holdout_reference: FidelityReference | None
    utility: UtilityReport | None = None
    notes: list[str] = Field(default_factory=list)


# ---- column shapes ---------------------------------------------------------------------------


def _ks_with_nulls(real: np.ndarray, synthetic: np.ndarray) -> float:
    """KS statistic where a null is a value below every other, so null rates count too."""
    if real.size == 0 or synthetic.size == 0:
        return 0.0 if real.size == synthetic.size else 1.0
    real = np.where(np.isnan(real), -np.inf, real)
    synthetic = np.where(np.isnan(synthetic), -np.inf, synthetic)
    return float(ks_2samp(real, synthetic, method="asymp").statistic)


def _format_edge(value: float, column: Column) -> str:
    if column.is_datetime:
        return pd.Timestamp(value, unit="s").strftime("%Y-%m-%d")
    return f"{value:.4g}"


def _histogram_plot(real: np.ndarray, synthetic: np.ndarray, column: Column) -> ColumnPlot:
    present = real[~np.isnan(real)]
    if present.size:
        low, high = (float(q) for q in np.quantile(present, [0.005, 0.995]))
    else:
        present_synthetic = synthetic[~np.isnan(synthetic)]
        low, high = (
            (float(present_synthetic.min()), float(present_synthetic.max()))
            if present_synthetic.size
            else (0.0, 1.0)
        )
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)

    def fractions(values: np.ndarray) -> list[float]:
        if values.size == 0:
            return [0.0] * (HISTOGRAM_BINS + 1)
        finite = values[~np.isnan(values)]
        # the tails beyond the real quantile range fall into the outer bins
        bins = np.clip(np.searchsorted(edges, finite, side="right") - 1, 0, HISTOGRAM_BINS - 1)
        counts = np.bincount(bins, minlength=HISTOGRAM_BINS).astype(float)
        nulls = float(np.isnan(values).sum())
        return [float(x) for x in np.append(counts, nulls) / values.size]

    labels = [
        f"{_format_edge(a, column)} – {_format_edge(b, column)}"
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ] + ["(null)"]
    real_fractions, synthetic_fractions = fractions(real), fractions(synthetic)
    if real_fractions[-1] == 0 and synthetic_fractions[-1] == 0:
        labels, real_fractions, synthetic_fractions = (
            labels[:-1],
            real_fractions[:-1],
            synthetic_fractions[:-1],
        )
    return ColumnPlot(
        kind="histogram",
        labels=labels,
        real=real_fractions,
        synthetic=synthetic_fractions,
        bin_edges=[float(e) for e in edges],
    )


def _category_plot(real_keys: pd.Series, synthetic_keys: pd.Series) -> ColumnPlot:
    shown = top_categories(real_keys, PLOT_CATEGORIES, include_null=True)
    real_counts = real_keys.value_counts()
    synthetic_counts = synthetic_keys.value_counts()

    def fractions(counts: pd.Series, total: int) -> list[float]:
        if total == 0:
            return [0.0] * (len(shown) + 1)
        values = [float(counts.get(key, 0)) / total for key in shown]
        return values + [max(0.0, 1.0 - sum(values))]

    return ColumnPlot(
        kind="categories",
        labels=[display_key(k) for k in shown] + ["(other)"],
        real=fractions(real_counts, len(real_keys)),
        synthetic=fractions(synthetic_counts, len(synthetic_keys)),
    )


def total_variation_distance(real_keys: pd.Series, synthetic_keys: pd.Series) -> float:
    """Half the L1 distance between the two category distributions (nulls a category)."""
    if len(real_keys) == 0 or len(synthetic_keys) == 0:
        return 0.0 if len(real_keys) == len(synthetic_keys) else 1.0
    real = real_keys.value_counts(normalize=True)
    synthetic = synthetic_keys.value_counts(normalize=True)
    joined = pd.concat([real, synthetic], axis=1).fillna(0.0).to_numpy()
    return float(0.5 * np.abs(joined[:, 0] - joined[:, 1]).sum())


def _null_fraction(values: np.ndarray | pd.Series) -> float:
    if len(values) == 0:
        return 0.0
    if isinstance(values, pd.Series):
        return float((values == NULL_KEY).mean())
    return float(np.isnan(values).mean())


def compare_column(real: pd.Series, synthetic: pd.Series, column: Column) -> ColumnFidelity:
    """Shape score and plot data of one metric column (not id/empty)."""
    kind = column_kind(column)
    if kind == "continuous":
        real_values = to_continuous(real, column)
        synthetic_values = to_continuous(synthetic, column)
        statistic = _ks_with_nulls(real_values, synthetic_values)
        metric: ColumnMetric = "ks"
        plot = _histogram_plot(real_values, synthetic_values, column)
        real_null, synthetic_null = _null_fraction(real_values), _null_fraction(synthetic_values)
    else:
        real_keys = category_keys(real, column)
        synthetic_keys = category_keys(synthetic, column)
        real_null, synthetic_null = _null_fraction(real_keys), _null_fraction(synthetic_keys)
        plot = _category_plot(real_keys, synthetic_keys)
        if kind == "freeform":
            kept = top_categories(real_keys, FREEFORM_CATEGORIES)
            real_keys = bucket_keys(real_keys, kept)
            synthetic_keys = bucket_keys(synthetic_keys, kept)
            metric = "tvd_top"
        else:
            metric = "tvd"
        statistic = total_variation_distance(real_keys, synthetic_keys)
    return ColumnFidelity(
        column=column.name,
        semantic=column.semantic.value,
        metric=metric,
        statistic=statistic,
        score=1.0 - statistic,
        real_null_fraction=real_null,
        synthetic_null_fraction=synthetic_null,
        null_fraction_difference=abs(real_null - synthetic_null),
        plot=plot,
    )


def column_fidelity(
    real: pd.DataFrame, synthetic: pd.DataFrame, table: Table
) -> list[ColumnFidelity]:
    """Per-column shape comparison for every metric column present in both frames."""
    return [
        compare_column(real[c.name], synthetic[c.name], c)
        for c in metric_columns(table, real, synthetic)
    ]


# ---- pair trends -----------------------------------------------------------------------------


def _compact_codes(codes: np.ndarray) -> np.ndarray:
    """Renumber non-negative integer codes to 0..k-1 so absent categories leave no empty cells."""
    used = np.bincount(codes) > 0
    return (np.cumsum(used) - 1)[codes]


def cramers_v(a_codes: np.ndarray, b_codes: np.ndarray) -> float:
    """Cramér's V (no bias correction) of two integer-coded categorical arrays."""
    if a_codes.size == 0:
        return 0.0
    a, b = _compact_codes(a_codes), _compact_codes(b_codes)
    rows, cols = int(a.max()) + 1, int(b.max()) + 1
    if min(rows, cols) < 2:
        return 0.0
    observed = np.bincount(a * cols + b, minlength=rows * cols).reshape(rows, cols).astype(float)
    n = observed.sum()
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / n
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(rows, cols) - 1))))


def correlation_ratio(codes: np.ndarray, values: np.ndarray) -> float:
    """η: the share of the numeric spread that the categories explain, square-rooted."""
    present = ~np.isnan(values)
    codes, values = codes[present], values[present]
    if values.size < 2:
        return 0.0
    groups = _compact_codes(codes)
    counts = np.bincount(groups).astype(float)
    means = np.bincount(groups, weights=values) / counts
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    between = float((counts * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(min(1.0, between / total)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    present = ~(np.isnan(a) | np.isnan(b))
    a, b = a[present], b[present]
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))


class _EncodedColumn(BaseModel):
    name: str
    continuous: bool
    categories: list[str] = Field(default_factory=list)


def _association_inputs(
    frame: pd.DataFrame, specs: list[_EncodedColumn], table: Table
) -> list[np.ndarray]:
    arrays: list[np.ndarray] = []
    for spec in specs:
        column = table.column(spec.name)
        if spec.continuous:
            arrays.append(to_continuous(frame[spec.name], column))
            continue
        keys = bucket_keys(category_keys(frame[spec.name], column), spec.categories)
        lookup = {key: code for code, key in enumerate([*spec.categories, OTHER_KEY, NULL_KEY])}
        arrays.append(keys.map(lookup).to_numpy(dtype=int))
    return arrays


def _association_matrix(
    arrays: list[np.ndarray], specs: list[_EncodedColumn]
) -> tuple[np.ndarray, list[list[PairMeasure | None]]]:
    size = len(specs)
    matrix = np.eye(size)
    measures: list[list[PairMeasure | None]] = [[None] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            a, b = arrays[i], arrays[j]
            measure: PairMeasure
            if specs[i].continuous and specs[j].continuous:
                value, measure = _pearson(a, b), "pearson"
            elif not specs[i].continuous and not specs[j].continuous:
                value, measure = cramers_v(a, b), "cramers_v"
            elif specs[i].continuous:
                value, measure = correlation_ratio(b, a), "correlation_ratio"
            else:
                value, measure = correlation_ratio(a, b), "correlation_ratio"
            matrix[i, j] = matrix[j, i] = value
            measures[i][j] = measures[j][i] = measure
    return matrix, measures


def _association_specs(real: pd.DataFrame, columns: list[Column]) -> list[_EncodedColumn]:
    specs: list[_EncodedColumn] = []
    for column in columns:
        kind = column_kind(column)
        if kind == "freeform":
            continue  # free text pairs say nothing a reader can act on
        if kind == "continuous":
            values = to_continuous(real[column.name], column)
            present = values[~np.isnan(values)]
            if present.size > 1 and np.ptp(present) > 0:
                specs.append(_EncodedColumn(name=column.name, continuous=True))
            continue
        keys = category_keys(real[column.name], column)
        if keys.nunique() > 1:
            specs.append(
                _EncodedColumn(
                    name=column.name,
                    continuous=False,
                    categories=top_categories(keys, ASSOCIATION_CATEGORIES),
                )
            )
    return specs


def _most_associated(
    real: pd.DataFrame, specs: list[_EncodedColumn], table: Table, limit: int, seed: int
) -> list[_EncodedColumn]:
    """The ``limit`` columns with the strongest mean association to the others, in table order."""
    sample = deterministic_sample(real, SELECTION_SAMPLE_ROWS, seed)
    matrix, _ = _association_matrix(_association_inputs(sample, specs, table), specs)
    strength = (np.abs(matrix).sum(axis=1) - 1.0) / max(1, len(specs) - 1)
    chosen = set(np.argsort(-strength, kind="stable")[:limit].tolist())
    return [spec for i, spec in enumerate(specs) if i in chosen]


def _scaled(matrix: np.ndarray, measures: list[list[PairMeasure | None]]) -> np.ndarray:
    scaled = matrix.copy()
    for i, row in enumerate(measures):
        for j, measure in enumerate(row):
            if measure == "pearson":
                scaled[i, j] = (matrix[i, j] + 1.0) / 2.0
    return scaled


def _correlations(
    real: pd.DataFrame,
    others: list[pd.DataFrame],
    table: Table,
    max_columns: int,
    seed: int,
) -> list[CorrelationComparison]:
    """Compare the real association structure with each of ``others``, computing it once."""
    frames = [real, *others]
    specs = _association_specs(real, metric_columns(table, *frames))
    dropped: list[str] = []
    if len(specs) > max_columns:
        kept = _most_associated(real, specs, table, max_columns, seed)
        kept_names = {s.name for s in kept}
        dropped = [s.name for s in specs if s.name not in kept_names]
        specs = kept
    real_matrix, measures = _association_matrix(_association_inputs(real, specs, table), specs)
    real_scaled = _scaled(real_matrix, measures)
    off_diagonal = ~np.eye(len(specs), dtype=bool)

    def as_lists(matrix: np.ndarray) -> list[list[float]]:
        return [[float(round(v, 6)) for v in row] for row in matrix]

    comparisons: list[CorrelationComparison] = []
    for other in others:
        other_matrix, _ = _association_matrix(_association_inputs(other, specs, table), specs)
        difference = np.abs(real_scaled - _scaled(other_matrix, measures))
        mean_difference = float(difference[off_diagonal].mean()) if off_diagonal.any() else 0.0
        comparisons.append(
            CorrelationComparison(
                columns=[s.name for s in specs],
                measures=measures,
                real=as_lists(real_matrix),
                synthetic=as_lists(other_matrix),
                difference=as_lists(difference),
                mean_absolute_difference=mean_difference,
                score=1.0 - mean_difference,
                dropped_columns=dropped,
            )
        )
    return comparisons


def correlation_difference(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    *,
    max_columns: int = MAX_ASSOCIATION_COLUMNS,
    seed: int = 0,
) -> CorrelationComparison:
    """Compare the association structure of the two frames over the same columns.

    Wide tables keep the ``max_columns`` columns most associated with the others in the real data.
    """
    return _correlations(real, [synthetic], table, max_columns, seed)[0]


# ---- the assessor's report --------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 1.0


def _strata(frame: pd.DataFrame, table: Table, target: str | None) -> pd.Series | None:
    if target is None or target not in frame.columns or not table.has_column(target):
        return None
    column = table.column(target)
    if column_kind(column) == "continuous":
        values = pd.Series(to_continuous(frame[target], column), index=frame.index)
        if values.nunique() > 2:
            # a numeric target is stratified on its deciles so the sample keeps its range
            ranked = values.rank(method="first", pct=True)
            return pd.Series(
                np.where(values.isna(), -1, np.ceil(ranked.fillna(0) * 10)), index=frame.index
            )
    return category_keys(frame[target], column)


def assess_quality(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    target: str | None,
    seed: int,
    max_rows: int = 50_000,
) -> QualityReport:
    """Fidelity (column shapes, pair trends), TSTR utility and the holdout ceiling, in one report."""
    frames = {"train": real_train, "holdout": real_holdout, "synthetic": synthetic}
    sampled = {
        name: deterministic_sample(
            frame, max_rows, seed + offset, _strata(frame, table, target)
        ).reset_index(drop=True)
        for offset, (name, frame) in enumerate(frames.items())
    }
    subsampled = any(len(sampled[n]) < len(frames[n]) for n in frames)
    notes: list[str] = []
    if subsampled:
        sizes = ", ".join(f"{n} {len(sampled[n]):,} of {len(frames[n]):,}" for n in frames)
        notes.append(f"metrics computed on deterministic samples ({sizes} rows)")
    train, holdout, synth = sampled["train"], sampled["holdout"], sampled["synthetic"]
    ignored = [c.name for c in table.columns if column_kind(c) is None]
    if ignored:
        notes.append(f"id and empty columns not assessed: {', '.join(ignored)}")

    columns = column_fidelity(train, synth, table)
    comparisons = _correlations(
        train, [synth, holdout] if len(holdout) else [synth], table, MAX_ASSOCIATION_COLUMNS, seed
    )
    correlation = comparisons[0]
    column_shape = _mean([c.score for c in columns])
    pair_trend = correlation.score

    reference: FidelityReference | None = None
    if len(holdout):
        reference_columns = column_fidelity(train, holdout, table)
        reference_shape = _mean([c.score for c in reference_columns])
        reference = FidelityReference(
            column_shape_score=reference_shape,
            pair_trend_score=comparisons[1].score,
            overall_score=(reference_shape + comparisons[1].score) / 2.0,
            column_scores={c.column: c.score for c in reference_columns},
        )
    else:
        notes.append("no holdout rows: no holdout reference and no TSTR")

    utility = None
    if target is not None and len(holdout):
        utility = tstr(train, holdout, synth, table, target, seed)
    return QualityReport(
        seed=seed,
        target=target,
        sample_rows={name: len(frame) for name, frame in sampled.items()},
        subsampled=subsampled,
        columns=columns,
        column_shape_score=column_shape,
        pair_trend_score=pair_trend,
        overall_score=(column_shape + pair_trend) / 2.0,
        correlation=correlation,
        holdout_reference=reference,
        utility=utility,
        notes=notes,
    )
