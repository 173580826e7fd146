"""Numeric encodings of mixed-type frames, shared by the metric tools.

Fidelity, utility and privacy all need the same few conversions: which columns take part, how a
column becomes floats (numbers, datetimes) or category keys (everything else), and a fitted
encoding that turns a frame into model features or a distance space. Keeping them here means a
value is read the same way by every metric (``1`` and ``1.0`` are one category everywhere, a
date string and a timestamp are one instant everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from synthtab.schema import Column, SemanticType, Table

ColumnKind = Literal["continuous", "categorical", "freeform"]

NULL_KEY = "\x00null"
OTHER_KEY = "\x00other"

CONTINUOUS_SEMANTICS = frozenset({SemanticType.numeric, SemanticType.datetime})
FREEFORM_SEMANTICS = frozenset(
    {SemanticType.text, SemanticType.email, SemanticType.phone, SemanticType.url}
)
IGNORED_SEMANTICS = frozenset({SemanticType.id, SemanticType.empty})


def column_kind(column: Column) -> ColumnKind | None:
    """How metrics treat a column; ``None`` for columns they ignore (ids, empty columns)."""
    if column.semantic in IGNORED_SEMANTICS:
        return None
    if column.semantic in CONTINUOUS_SEMANTICS:
        return "continuous"
    if column.semantic in FREEFORM_SEMANTICS:
        return "freeform"
    return "categorical"


def metric_columns(table: Table, *frames: pd.DataFrame) -> list[Column]:
    """Columns that metrics use: not id/empty, and present in every given frame."""
    return [
        c
        for c in table.columns
        if column_kind(c) is not None and all(c.name in f.columns for f in frames)
    ]


def display_key(key: str) -> str:
    """A category key as a person should read it."""
    if key == NULL_KEY:
        return "(null)"
    if key == OTHER_KEY:
        return "(other)"
    return key


def to_continuous(series: pd.Series, column: Column | None = None) -> np.ndarray:
    """Float values of a numeric or datetime column (datetimes as seconds since 1970); NaN = null."""
    is_datetime = column is not None and column.semantic == SemanticType.datetime
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return ((series - pd.Timestamp(0)) / pd.Timedelta(seconds=1)).to_numpy(
            dtype=float, na_value=np.nan
        )
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        return (series / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=float, na_value=np.nan)
    if is_datetime:
        fmt = column.datetime_format if column is not None else None
        parsed = pd.to_datetime(series, format=fmt, errors="coerce", utc=True)
        return to_continuous(parsed.dt.tz_localize(None))
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _scalar_key(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        as_float = float(value)
        # 1.0 and 1 must be one category: synthetic integers often come back as floats
        if as_float.is_integer() and abs(as_float) < 2**53:
            return str(int(as_float))
        return repr(as_float)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _float_keys(values: np.ndarray) -> np.ndarray:
    whole = np.isfinite(values) & (values == np.floor(values)) & (np.abs(values) < 2**53)
    keys = np.empty(len(values), dtype=object)
    keys[whole] = values[whole].astype(np.int64).astype(str)
    keys[~whole] = [repr(float(v)) for v in values[~whole]]
    return keys


def category_keys(series: pd.Series, column: Column | None = None) -> pd.Series:
    """Each value as a text key (object dtype, same index); nulls become ``NULL_KEY``.

    Datetime columns are parsed first so a date written as text and as a timestamp agree.
    """
    if column is not None and column.semantic == SemanticType.datetime:
        seconds = to_continuous(series, column)
        series = pd.Series(pd.to_datetime(seconds, unit="s"), index=series.index)
    null = series.isna().to_numpy()
    keys = np.full(len(series), NULL_KEY, dtype=object)
    present = series[~null]
    if len(present):
        dtype = present.dtype
        if pd.api.types.is_bool_dtype(dtype):
            values = present.astype(bool).map(str).to_numpy(dtype=object)
        elif pd.api.types.is_integer_dtype(dtype):
            values = present.astype("int64").astype(str).to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(dtype):
            values = _float_keys(present.to_numpy(dtype=float))
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            values = np.array([v.isoformat() for v in present], dtype=object)
        elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
            values = present.to_numpy(dtype=object)
        else:
            values = np.array(
                [_scalar_key(v) for v in present.to_numpy(dtype=object)], dtype=object
            )
        keys[~null] = values
    return pd.Series(keys, index=series.index, dtype=object)


def top_categories(keys: pd.Series, limit: int, include_null: bool = False) -> list[str]:
    """The ``limit`` most frequent keys, most frequent first (ties broken by key for stability)."""
    counts = keys.value_counts()
    if not include_null:
        counts = counts.drop(NULL_KEY, errors="ignore")
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return [str(key) for key, _ in ordered[:limit]]


def bucket_keys(keys: pd.Series, categories: Sequence[str]) -> pd.Series:
    """Keys outside ``categories`` (nulls excepted) become ``OTHER_KEY``."""
    keep = keys.isin(list(categories)) | (keys == NULL_KEY)
    return keys.where(keep, OTHER_KEY)


def robust_scale(values: np.ndarray) -> float:
    """A spread that outliers barely move: the 5–95% range, else the full range, else 1."""
    present = values[~np.isnan(values)]
    if present.size == 0:
        return 1.0
    low, high = np.quantile(present, [0.05, 0.95])
    if high > low:
        return float(high - low)
    span = float(present.max() - present.min())
    return span if span > 0 else 1.0


def deterministic_sample(
    frame: pd.DataFrame, rows: int, seed: int, strata: pd.Series | None = None
) -> pd.DataFrame:
    """At most ``rows`` rows chosen reproducibly; proportional per stratum when ``strata`` is given.

    Row order of the input is kept, so the sample of a frame is the same whatever the caller does
    with its result.
    """
    if len(frame) <= rows:
        return frame
    rng = np.random.default_rng(seed)
    if strata is None:
        chosen = np.sort(rng.choice(len(frame), size=rows, replace=False))
        return frame.iloc[chosen]
    groups = pd.Series(np.arange(len(frame))).groupby(strata.to_numpy(), sort=True)
    positions = [g.to_numpy() for _, g in groups]
    exact = np.array([len(p) * rows / len(frame) for p in positions])
    quota = np.floor(exact).astype(int)
    # largest remainders get the rows that rounding down left over
    leftover = rows - int(quota.sum())
    if leftover > 0:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:leftover]] += 1
    chosen_parts = [
        rng.choice(p, size=q, replace=False) for p, q in zip(positions, quota, strict=True) if q
    ]
    chosen = np.sort(np.concatenate(chosen_parts)) if chosen_parts else np.array([], dtype=int)
    return frame.iloc[chosen]


class ColumnEncoding(BaseModel):
    """How one column becomes numbers, fitted on reference data."""

    name: str
    kind: ColumnKind
    center: float = 0.0
    scale: float = 1.0
    categories: list[str] = Field(default_factory=list)


class MixedEncoding(BaseModel):
    """A fitted encoding of a mixed-type frame: one entry per column used."""

    columns: list[ColumnEncoding]

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def fit_encoding(
    reference: pd.DataFrame,
    table: Table,
    columns: Sequence[str] | None = None,
    max_categories: int = 20,
) -> MixedEncoding:
    """Fit centres, robust scales and the top categories of each metric column on ``reference``."""
    chosen = metric_columns(table, reference)
    if columns is not None:
        wanted = set(columns)
        chosen = [c for c in chosen if c.name in wanted]
    encoded: list[ColumnEncoding] = []
    for column in chosen:
        kind = column_kind(column)
        assert kind is not None
        if kind == "continuous":
            values = to_continuous(reference[column.name], column)
            present = values[~np.isnan(values)]
            center = float(np.median(present)) if present.size else 0.0
            encoded.append(
                ColumnEncoding(
                    name=column.name, kind=kind, center=center, scale=robust_scale(values)
                )
            )
        else:
            keys = category_keys(reference[column.name], column)
            encoded.append(
                ColumnEncoding(
                    name=column.name, kind=kind, categories=top_categories(keys, max_categories)
                )
            )
    return MixedEncoding(columns=encoded)


def ordinal_features(
    frame: pd.DataFrame, encoding: MixedEncoding, table: Table
) -> tuple[np.ndarray, np.ndarray]:
    """Model features: continuous values as they are, categories as codes.

    Returns the float matrix (NaN = null, which tree models handle natively) and a boolean mask
    of the categorical columns. Category codes are ``0..k-1`` for the fitted categories and ``k``
    for anything else, so a value unseen in the reference data never breaks a model.
    """
    matrix = np.empty((len(frame), len(encoding.columns)), dtype=float)
    categorical = np.zeros(len(encoding.columns), dtype=bool)
    for j, spec in enumerate(encoding.columns):
        column = table.column(spec.name)
        if spec.kind == "continuous":
            matrix[:, j] = to_continuous(frame[spec.name], column)
            continue
        categorical[j] = True
        keys = category_keys(frame[spec.name], column)
        lookup = {key: float(code) for code, key in enumerate(spec.categories)}
        codes = keys.map(lookup).to_numpy(dtype=float, na_value=np.nan, copy=True)
        codes[np.isnan(codes)] = float(len(spec.categories))
        codes[(keys == NULL_KEY).to_numpy()] = np.nan
        matrix[:, j] = codes
    return matrix, categorical


def distance_features(frame: pd.DataFrame, encoding: MixedEncoding, table: Table) -> np.ndarray:
    """A space where Euclidean distance is Gower-like: each column contributes about 0..1.

    Continuous values are centred and divided by their robust range, with a null indicator (a
    null against a value counts 1); categories are one-hot over the fitted categories plus
    ``other`` and ``null``, scaled by 1/sqrt(2) so a mismatch adds exactly 1 to the squared distance.
    """
    blocks: list[np.ndarray] = []
    for spec in encoding.columns:
        column = table.column(spec.name)
        if spec.kind == "continuous":
            values = (to_continuous(frame[spec.name], column) - spec.center) / spec.scale
            missing = np.isnan(values)
            blocks.append(np.where(missing, 0.0, values)[:, None])
            blocks.append(missing.astype(float)[:, None])
            continue
        keys = category_keys(frame[spec.name], column)
        lookup = {key: code for code, key in enumerate(spec.categories)}
        other_code = len(spec.categories)
        null_code = other_code + 1
        codes = keys.map(lookup).fillna(other_code).to_numpy(dtype=int, copy=True)
        codes[(keys == NULL_KEY).to_numpy()] = null_code
        one_hot = np.zeros((len(frame), null_code + 1), dtype=float)
        one_hot[np.arange(len(frame)), codes] = 1.0 / np.sqrt(2.0)
        blocks.append(one_hot)
    if not blocks:
        return np.zeros((len(frame), 0), dtype=np.float32)
    return np.hstack(blocks).astype(np.float32)
