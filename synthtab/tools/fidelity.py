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
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from synthtab.schema import Column, Table
from synthtab.tools.detection import DetectionReport, detection
from synthtab.tools.encoding import (
    NULL_KEY,
    OTHER_KEY,
    bucket_keys,
    category_keys,
    column_kind,
    deterministic_sample,
    display_key,
    distance_features,
    fit_encoding,
    metric_columns,
    to_continuous,
    top_categories,
)
from synthtab.tools.native_threads import single_native_thread
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
    ks: float | None = Field(default=None, description="KS statistic (continuous columns)")
    tvd: float | None = Field(
        default=None, description="total variation distance over categories or histogram bins"
    )
    jensen_shannon: float | None = Field(
        default=None,
        description="Jensen-Shannon distance (base 2, on [0,1]) over categories or histogram bins",
    )
    wasserstein: float | None = Field(
        default=None,
        description="Wasserstein-1 distance of the present values divided by the real range",
    )
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
    contingency_similarity: float | None = Field(
        default=None,
        description="mean over categorical pairs of 1 - total variation distance of their joint "
        "distribution (None without two categorical columns)",
    )


class FidelityReference(BaseModel):
    """The same fidelity metrics for the real holdout against the real training rows."""

    column_shape_score: float
    pair_trend_score: float
    overall_score: float
    column_scores: dict[str, float]
    contingency_similarity: float | None = None
    pca_score: float | None = None
    missing_pattern_score: float | None = None
    sdmetrics_compatible: SDMetricsCompatible | None = None


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
    detection: DetectionReport | None = None
    pca: PCAComparison | None = None
    missing_patterns: MissingPatternComparison | None = None
    sdmetrics_compatible: SDMetricsCompatible | None = Field(
        default=None, description="SDMetrics' Column Shapes / Column Pair Trends definitions"
    )
    sampling: str | None = Field(
        default=None, description="how rows were subsampled for the metrics, in words"
    )
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


def _joined_frequencies(real_keys: pd.Series, synthetic_keys: pd.Series) -> np.ndarray:
    """Real and synthetic frequencies of every key seen in either, as two columns."""
    real = real_keys.value_counts(normalize=True)
    synthetic = synthetic_keys.value_counts(normalize=True)
    joined = pd.concat([real, synthetic], axis=1).fillna(0.0).to_numpy(dtype=float)
    return joined if len(joined) else np.zeros((1, 2))


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Square root of the base-2 Jensen-Shannon divergence: 0 identical, 1 disjoint supports."""
    p_total, q_total = float(np.sum(p)), float(np.sum(q))
    if p_total <= 0 or q_total <= 0:
        return 0.0 if p_total == q_total else 1.0
    value = jensenshannon(np.asarray(p) / p_total, np.asarray(q) / q_total, base=2)
    return float(np.clip(np.nan_to_num(value), 0.0, 1.0))


def normalised_wasserstein(real: np.ndarray, synthetic: np.ndarray) -> float | None:
    """Earth mover's distance of the present values in units of the real range, capped at 1.

    Dividing by the range makes columns in dollars and in years comparable; None when either
    side has no values (the null share is the KS and TVD's business)."""
    real_present, synthetic_present = real[~np.isnan(real)], synthetic[~np.isnan(synthetic)]
    if real_present.size == 0 or synthetic_present.size == 0:
        return None
    span = float(np.ptp(real_present)) or 1.0
    return float(min(1.0, wasserstein_distance(real_present, synthetic_present) / span))


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
        # binned distances use the plot's shared bins (nulls a bin of their own)
        binned_real, binned_synthetic = np.asarray(plot.real), np.asarray(plot.synthetic)
        extras = {
            "ks": statistic,
            "tvd": float(0.5 * np.abs(binned_real - binned_synthetic).sum()),
            "jensen_shannon": jensen_shannon_distance(binned_real, binned_synthetic),
            "wasserstein": normalised_wasserstein(real_values, synthetic_values),
        }
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
        joined = _joined_frequencies(real_keys, synthetic_keys)
        extras = {
            "tvd": statistic,
            "jensen_shannon": jensen_shannon_distance(joined[:, 0], joined[:, 1]),
        }
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
        **extras,
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

    real_arrays = _association_inputs(real, specs, table)
    comparisons: list[CorrelationComparison] = []
    for other in others:
        other_arrays = _association_inputs(other, specs, table)
        other_matrix, _ = _association_matrix(other_arrays, specs)
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
                contingency_similarity=_contingency_similarity(real_arrays, other_arrays, specs),
            )
        )
    return comparisons


def joint_tvd(
    a_real: np.ndarray, b_real: np.ndarray, a_other: np.ndarray, b_other: np.ndarray
) -> float:
    """Total variation distance between two frames' joint distributions of two coded columns."""
    if a_real.size == 0 or a_other.size == 0:
        return 0.0 if a_real.size == a_other.size else 1.0
    width = int(max(b_real.max(), b_other.max())) + 1
    cells = int(max(a_real.max(), a_other.max()) + 1) * width
    real = np.bincount(a_real * width + b_real, minlength=cells) / a_real.size
    other = np.bincount(a_other * width + b_other, minlength=cells) / a_other.size
    return float(0.5 * np.abs(real - other).sum())


def _contingency_similarity(
    real_arrays: list[np.ndarray], other_arrays: list[np.ndarray], specs: list[_EncodedColumn]
) -> float | None:
    categorical = [i for i, spec in enumerate(specs) if not spec.continuous]
    scores = [
        1.0 - joint_tvd(real_arrays[i], real_arrays[j], other_arrays[i], other_arrays[j])
        for n, i in enumerate(categorical)
        for j in categorical[n + 1 :]
    ]
    return float(np.mean(scores)) if scores else None


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


# ---- SDMetrics-compatible scores ---------------------------------------------------------------

SDMETRICS_BINS = 10
SDMETRICS_REAL_CORRELATION_THRESHOLD = 0.5  # sdmetrics.reports.utils defaults
SDMETRICS_REAL_ASSOCIATION_THRESHOLD = 0.3


class SDMetricsCompatible(BaseModel):
    """Column Shapes and Column Pair Trends as SDMetrics 0.32 computes them, for comparing with it.

    Column shapes: mean over columns of 1 - KS on the present values (numbers, datetimes) or
    1 - TVD on the present categories (nulls dropped, unlike our own score). Pair trends: mean over
    column pairs of 1 - |Pearson_real - Pearson_synthetic| / 2 for two continuous columns (rows
    where both are present), else 1 - TVD of the joint distribution (nulls a category), a
    continuous column first cut into 10 equal-width bins of each frame's own range
    (``numpy.histogram_bin_edges``, as SDMetrics does). Pairs undefined in either frame are left
    out, as SDMetrics leaves out NaN scores. Like SDMetrics' QualityReport, the headline pair
    score averages only pairs related in the real data: |Pearson| > 0.5 for two continuous
    columns, Cramér's V (no correction, on the same binned codes) > 0.3 otherwise.
    """

    column_shapes: float | None
    column_pair_trends: float | None = Field(
        description="SDMetrics' QualityReport score: only pairs associated in the real data count"
    )
    column_pair_trends_all_pairs: float | None = Field(
        default=None, description="the same over every pair (SDMetrics with thresholds 0)"
    )
    pairs_compared: int = 0
    pairs_above_threshold: int = 0
    sdtypes: dict[str, Literal["numerical", "datetime", "categorical"]] = Field(
        description="the SDMetrics metadata sdtype each compared column was given"
    )


def sdmetrics_sdtype(column: Column) -> Literal["numerical", "datetime", "categorical"] | None:
    kind = column_kind(column)
    if kind == "continuous":
        return "datetime" if column.is_datetime else "numerical"
    if kind == "categorical":
        return "categorical"
    return None  # ids, free text: SDMetrics skips them too


def _sdmetrics_bins(values: np.ndarray) -> np.ndarray:
    present = values[~np.isnan(values)]
    if present.size == 0:
        return np.full(values.size, SDMETRICS_BINS + 1, dtype=int)
    edges = np.histogram_bin_edges(present, bins=SDMETRICS_BINS)
    return np.digitize(values, edges).astype(int)  # NaN lands past the last edge, as there


def _codes_of(keys: pd.Series, other: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    lookup = {key: code for code, key in enumerate(sorted(set(keys) | set(other)))}
    return keys.map(lookup).to_numpy(dtype=int), other.map(lookup).to_numpy(dtype=int)


def sdmetrics_compatible(
    real: pd.DataFrame, synthetic: pd.DataFrame, table: Table
) -> SDMetricsCompatible:
    """SDMetrics' Column Shapes and Column Pair Trends scores of ``synthetic`` against ``real``."""
    sdtypes = {
        c.name: sdtype
        for c in metric_columns(table, real, synthetic)
        if (sdtype := sdmetrics_sdtype(c)) is not None
    }
    continuous: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    discrete: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    shapes: list[float] = []
    for name, sdtype in sdtypes.items():
        column = table.column(name)
        if sdtype in ("numerical", "datetime"):
            r, s = to_continuous(real[name], column), to_continuous(synthetic[name], column)
            continuous[name] = (r, s)
            discrete[name] = (_sdmetrics_bins(r), _sdmetrics_bins(s))
            rp, sp = r[~np.isnan(r)], s[~np.isnan(s)]
            if rp.size and sp.size:
                shapes.append(1.0 - float(ks_2samp(rp, sp).statistic))
        else:
            rk, sk = category_keys(real[name], column), category_keys(synthetic[name], column)
            discrete[name] = _codes_of(rk, sk)
            rk, sk = rk[rk != NULL_KEY], sk[sk != NULL_KEY]
            if len(rk) and len(sk):
                shapes.append(1.0 - total_variation_distance(rk, sk))
    pairs: list[float] = []
    strong: list[float] = []
    names = list(sdtypes)
    for n, first in enumerate(names):
        for second in names[n + 1 :]:
            if first in continuous and second in continuous:
                (ra, sa), (rb, sb) = continuous[first], continuous[second]
                real_corr, synthetic_corr = _pearson_defined(ra, rb), _pearson_defined(sa, sb)
                if real_corr is not None and synthetic_corr is not None:
                    pairs.append(1.0 - abs(real_corr - synthetic_corr) / 2.0)
                    if abs(real_corr) > SDMETRICS_REAL_CORRELATION_THRESHOLD:
                        strong.append(pairs[-1])
                continue
            (ra, sa), (rb, sb) = discrete[first], discrete[second]
            pairs.append(1.0 - joint_tvd(ra, rb, sa, sb))
            if cramers_v(ra, rb) > SDMETRICS_REAL_ASSOCIATION_THRESHOLD:
                strong.append(pairs[-1])
    return SDMetricsCompatible(
        column_shapes=float(np.mean(shapes)) if shapes else None,
        column_pair_trends=float(np.mean(strong)) if strong else None,
        column_pair_trends_all_pairs=float(np.mean(pairs)) if pairs else None,
        pairs_compared=len(pairs),
        pairs_above_threshold=len(strong),
        sdtypes=sdtypes,
    )


def _pearson_defined(a: np.ndarray, b: np.ndarray) -> float | None:
    present = ~(np.isnan(a) | np.isnan(b))
    a, b = a[present], b[present]
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


# ---- PCA and missing-value patterns -------------------------------------------------------------

PCA_COMPONENTS = 10
PCA_SCATTER_POINTS = 400
PCA_MAX_ROWS = 5_000


class PCAComparison(BaseModel):
    """Principal components of real and synthetic rows in one encoding fitted on the real rows.

    ``score`` is 1 - half the L1 distance between the two explained-variance-ratio profiles, so 1
    means the synthetic data spreads its variance over the same directions in the same shares.
    The scatter points are both frames projected on the real data's first two components.
    """

    real_explained: list[float]
    synthetic_explained: list[float]
    score: float
    real_points: list[list[float]]
    synthetic_points: list[list[float]]


def _explained_ratios(features: np.ndarray, components: int) -> np.ndarray:
    centred = features - features.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    variance = singular**2
    total = float(variance.sum())
    ratios = variance / total if total > 0 else np.zeros_like(variance)
    return np.pad(ratios[:components], (0, max(0, components - len(ratios))))


def pca_comparison(
    real: pd.DataFrame, synthetic: pd.DataFrame, table: Table, seed: int
) -> PCAComparison | None:
    """Compare explained variance and give 2-D projections; None without two usable columns."""
    if len(real) < 3 or len(synthetic) < 3:
        return None
    # the variance profile is stable long before 5,000 rows; the SVD is what costs
    real = deterministic_sample(real, PCA_MAX_ROWS, seed)
    synthetic = deterministic_sample(synthetic, PCA_MAX_ROWS, seed + 1)
    encoding = fit_encoding(real, table, max_categories=ASSOCIATION_CATEGORIES)
    real_x = distance_features(real, encoding, table).astype(float)
    synthetic_x = distance_features(synthetic, encoding, table).astype(float)
    if real_x.shape[1] < 2:
        return None
    components = min(PCA_COMPONENTS, real_x.shape[1])
    real_ratios = _explained_ratios(real_x, components)
    synthetic_ratios = _explained_ratios(synthetic_x, components)
    mean = real_x.mean(axis=0)
    _, _, axes = np.linalg.svd(real_x - mean, full_matrices=False)
    projection = axes[:2].T

    def points(matrix: np.ndarray, offset: int) -> list[list[float]]:
        rng = np.random.default_rng(seed + offset)
        take = rng.choice(len(matrix), size=min(PCA_SCATTER_POINTS, len(matrix)), replace=False)
        return [
            [round(float(x), 4), round(float(y), 4)]
            for x, y in (matrix[np.sort(take)] - mean) @ projection
        ]

    return PCAComparison(
        real_explained=[float(v) for v in real_ratios],
        synthetic_explained=[float(v) for v in synthetic_ratios],
        score=float(1.0 - 0.5 * np.abs(real_ratios - synthetic_ratios).sum()),
        real_points=points(real_x, 0),
        synthetic_points=points(synthetic_x, 1),
    )


MISSING_PATTERNS_SHOWN = 10


class MissingPattern(BaseModel):
    columns: list[str] = Field(description="the columns that are null in this pattern")
    real: float
    synthetic: float


class MissingPatternComparison(BaseModel):
    """Which combinations of columns are null together, and how often, in each frame.

    ``score`` is 1 - TVD between the two distributions of row-wise null patterns (a table with no
    nulls anywhere scores 1 when the synthetic one has none either)."""

    patterns: list[MissingPattern]
    score: float


def missing_patterns(
    real: pd.DataFrame, synthetic: pd.DataFrame, table: Table
) -> MissingPatternComparison:
    columns = [c for c in metric_columns(table, real, synthetic)]

    def pattern_keys(frame: pd.DataFrame) -> pd.Series:
        if not columns or len(frame) == 0:
            return pd.Series([""] * len(frame), dtype=object)
        nulls = np.column_stack([frame[c.name].isna().to_numpy() for c in columns])
        return pd.Series(["".join("1" if v else "0" for v in row) for row in nulls], dtype=object)

    real_keys, synthetic_keys = pattern_keys(real), pattern_keys(synthetic)
    real_share = real_keys.value_counts(normalize=True)
    synthetic_share = synthetic_keys.value_counts(normalize=True)
    shown = sorted(
        set(real_share.index) | set(synthetic_share.index),
        key=lambda k: (-max(real_share.get(k, 0.0), synthetic_share.get(k, 0.0)), k),
    )[:MISSING_PATTERNS_SHOWN]
    return MissingPatternComparison(
        patterns=[
            MissingPattern(
                columns=[c.name for c, flag in zip(columns, key, strict=True) if flag == "1"],
                real=float(real_share.get(key, 0.0)),
                synthetic=float(synthetic_share.get(key, 0.0)),
            )
            for key in shown
        ],
        score=1.0 - total_variation_distance(real_keys, synthetic_keys),
    )


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


@single_native_thread
def assess_quality(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    target: str | None,
    seed: int,
    max_rows: int = 50_000,
    with_detection: bool = True,
) -> QualityReport:
    """Fidelity, utility, detection and the holdout ceiling of each, in one report.

    Column shapes and pair trends make the overall score (unchanged, so thresholds keep their
    meaning); JS / Wasserstein per column, contingency similarity, PCA, missing-value patterns,
    detection and SDMetrics-compatible scores come alongside for the report and the feedback.
    Frames above ``max_rows`` are sampled deterministically, stratified on the target."""
    frames = {"train": real_train, "holdout": real_holdout, "synthetic": synthetic}
    sampled = {
        name: deterministic_sample(
            frame, max_rows, seed + offset, _strata(frame, table, target)
        ).reset_index(drop=True)
        for offset, (name, frame) in enumerate(frames.items())
    }
    subsampled = any(len(sampled[n]) < len(frames[n]) for n in frames)
    notes: list[str] = []
    sampling = f"all rows (no frame above {max_rows:,} rows)"
    if subsampled:
        sizes = ", ".join(f"{n} {len(sampled[n]):,} of {len(frames[n]):,}" for n in frames)
        stratified = f", stratified on {target}" if target else ""
        sampling = f"deterministic samples (seed {seed}{stratified}): {sizes} rows"
        notes.append(f"metrics computed on {sampling}")
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
            contingency_similarity=comparisons[1].contingency_similarity,
            pca_score=_score_of(pca_comparison(train, holdout, table, seed)),
            missing_pattern_score=missing_patterns(train, holdout, table).score,
            sdmetrics_compatible=sdmetrics_compatible(train, holdout, table),
        )
    else:
        notes.append("no holdout rows: no holdout reference and no TSTR")

    utility = None
    if target is not None and len(holdout):
        utility = tstr(train, holdout, synth, table, target, seed)
    detected = None
    if with_detection:
        detected = detection(train, synth, table, seed, holdout if len(holdout) else None)
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
        detection=detected,
        pca=pca_comparison(train, synth, table, seed),
        missing_patterns=missing_patterns(train, synth, table),
        sdmetrics_compatible=sdmetrics_compatible(train, synth, table),
        sampling=sampling,
        notes=notes,
    )


def _score_of(comparison: PCAComparison | None) -> float | None:
    return None if comparison is None else comparison.score


FidelityReference.model_rebuild()
QualityReport.model_rebuild()
