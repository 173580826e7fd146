"""Generator v1: a Gaussian copula over empirical marginals.

Every column is mapped to at most two standard-normal latents: its value, through its empirical
CDF, and, when it has nulls, an "is missing" indicator. One correlation matrix over all latents
then carries the dependence between columns, missingness included. Sampling draws the latents
from that multivariate normal (or from its conditional, given fixed values) and maps each back
through its marginal.

Two refinements over the textbook copula keep discrete data's dependence:
- a nominal column's categories are laid out on its latent scale in the order that makes them
  most monotone in the other columns (``category_order="association"``), not by frequency alone;
- the correlation of tied values' jittered scores understates the latent correlation; it is
  corrected through Mehler's formula (a fast polychoric / polyserial estimate).

Marginals are kept as compact tables (at most ``max_knots`` quantile knots, or the distinct values
and their CDF), so a fitted model is small and a file holds it exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import sparse
from scipy.special import ndtr, ndtri

from synthtab.models.archive import read_model_archive, write_model_archive
from synthtab.models.base import Synthesizer
from synthtab.schema import Column, SemanticType, StorageType, Table

_FILE_FORMAT = "synthtab.gaussian_copula"
_FILE_VERSION = 1

Kind = Literal["numeric", "datetime", "categorical", "id", "constant", "empty"]
JsonScalar = str | int | float | bool | None
Arrays = dict[str, np.ndarray]


class GaussianCopulaSettings(BaseModel):
    """What a user may tune; recorded in the run manifest."""

    model_config = ConfigDict(extra="forbid")

    max_knots: int = Field(
        default=2000, ge=2, description="quantile knots kept per continuous column"
    )
    max_discrete_values: int = Field(
        default=100,
        ge=1,
        description="numeric/datetime columns with at most this many distinct values are sampled "
        "from the values seen in training only",
    )
    max_fit_rows: int = Field(
        default=50_000, ge=10, description="rows (subsampled with the seed) for the correlation"
    )
    category_order: Literal["association", "frequency"] = Field(
        default="association",
        description="how categories are laid out on their latent's scale: 'frequency' (most "
        "frequent first) or 'association' (along the direction in which the categories differ "
        "most in the other columns, so that the copula's linear dependence can carry it)",
    )
    eigenvalue_floor: float = Field(
        default=1e-3, gt=0.0, lt=1.0, description="smallest eigenvalue kept in the correlation"
    )


# ---------------------------------------------------------------------------------------------
# helpers


def _normal_scores(
    low: np.ndarray, high: np.ndarray, rng: np.random.Generator, eps: float
) -> np.ndarray:
    """A uniform draw inside each [low, high] CDF interval, mapped to a standard-normal score.

    Drawing inside a tie's interval (rather than using its midpoint) keeps discrete columns'
    scores continuous, so correlations are not squashed by ties.
    """
    u = low + (high - low) * rng.random(low.shape[0])
    return ndtri(np.clip(u, eps, 1.0 - eps))


@dataclass(frozen=True)
class _Intervals:
    """Where a column's values sit on its uniform scale: [low, high] for each present row."""

    low: np.ndarray
    high: np.ndarray
    present: np.ndarray  # over all rows; low/high cover the present ones only
    eps: float

    def scores(self, rng: np.random.Generator) -> np.ndarray:
        """Normal scores for every row (0 where absent)."""
        z = np.zeros(self.present.size)
        z[self.present] = _normal_scores(self.low, self.high, rng, self.eps)
        return z


def _json_scalar(value: Any) -> JsonScalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _observed_decimals(values: np.ndarray, limit: int = 10) -> int | None:
    """Digits after the point that the values actually use (None: more than ``limit``)."""
    distinct = np.unique(values)
    if distinct.size > 5000:
        distinct = distinct[np.linspace(0, distinct.size - 1, 5000).astype(int)]
    tolerance = 1e-9 * np.maximum(1.0, np.abs(distinct))
    for decimals in range(limit + 1):
        if np.all(np.abs(np.round(distinct, decimals) - distinct) <= tolerance):
            return decimals
    return None


def restore_dtype(series: pd.Series, dtype: str) -> pd.Series:
    """Cast generated values back to the training column's dtype."""
    target = pd.api.types.pandas_dtype(dtype)
    if isinstance(target, pd.DatetimeTZDtype) and not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True).dt.tz_convert(target.tz)
    elif pd.api.types.is_datetime64_dtype(target) and not pd.api.types.is_datetime64_any_dtype(
        series.dtype
    ):
        series = pd.to_datetime(series)
    if series.isna().any() and isinstance(target, np.dtype) and target.kind in "biu":
        # numpy ints and bools hold no null: a model that generates some (a DP model whose
        # release left a column without any value it may use) gets pandas' nullable dtype
        nullable = target.name.replace("uint", "UInt").replace("int", "Int")
        target = pd.api.types.pandas_dtype("boolean" if target.kind == "b" else nullable)
    return series.astype(target)


# ---------------------------------------------------------------------------------------------
# marginals


@dataclass(frozen=True)
class _EmpiricalMarginal:
    """A one-dimensional distribution kept as a compact table.

    Discrete: ``points`` are the distinct values and ``cdf[i] = P(X <= points[i])``.
    Continuous: ``points`` are quantile knots at the evenly spaced probabilities ``cdf``, and the
    quantile function interpolates between them; a point mass shows up as a run of equal knots,
    so it stays a point mass.
    """

    discrete: bool
    points: np.ndarray
    cdf: np.ndarray
    count: int

    @classmethod
    def fit(cls, values: np.ndarray, max_knots: int, max_discrete_values: int) -> Self:
        distinct, counts = np.unique(values, return_counts=True)
        if distinct.size <= max_discrete_values:
            cdf = np.cumsum(counts) / values.size
            cdf[-1] = 1.0
            return cls(True, distinct.astype(float), cdf, int(values.size))
        grid = np.linspace(0.0, 1.0, min(max_knots, values.size))
        # np.quantile's linear rule, on one sort (its partition is slow for many knots)
        ordered = np.sort(values)
        position = grid * (values.size - 1)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, values.size - 1)
        knots = ordered[below] + (position - below) * (ordered[above] - ordered[below])
        knots = np.maximum.accumulate(knots)
        return cls(False, knots, grid, int(values.size))

    @property
    def eps(self) -> float:
        return 0.5 / self.count

    def interval(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The CDF interval [P(X < x), P(X <= x)] of each value (a point between atoms)."""
        if self.discrete:
            below = np.concatenate(([0.0], self.cdf))
            k = self.points.size
            first = np.searchsorted(self.points, x, side="left")
            exact = self.points[np.minimum(first, k - 1)] == x
            low = below[first]
            return low, np.where(exact, self.cdf[np.minimum(first, k - 1)], low)
        knots, grid = self.points, self.cdf
        k = knots.size
        first = np.searchsorted(knots, x, side="left")
        after = np.searchsorted(knots, x, side="right")
        left = np.clip(first - 1, 0, k - 1)
        right = np.clip(first, 0, k - 1)
        width = knots[right] - knots[left]
        fraction = np.where(width > 0, (x - knots[left]) / np.where(width > 0, width, 1.0), 0.0)
        between = grid[left] + fraction * (grid[right] - grid[left])
        between = np.where(first == 0, 0.0, np.where(first >= k, 1.0, between))
        on_knot = after > first
        low = np.where(on_knot, grid[right], between)
        high = np.where(on_knot, grid[np.clip(after - 1, 0, k - 1)], between)
        return low, high

    def quantile(self, u: np.ndarray) -> np.ndarray:
        if self.discrete:
            index = np.searchsorted(self.cdf, u, side="left")
            return self.points[np.minimum(index, self.points.size - 1)]
        return np.interp(u, self.cdf, self.points)

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        meta = {"discrete": self.discrete, "count": self.count}
        return meta, {f"{prefix}points": self.points, f"{prefix}cdf": self.cdf}

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        return cls(
            bool(meta["discrete"]),
            arrays[f"{prefix}points"],
            arrays[f"{prefix}cdf"],
            int(meta["count"]),
        )


# ---------------------------------------------------------------------------------------------
# codecs: one per kind of column. Latent codecs turn values into normal scores and back; the
# others generate values without the copula.


def _numbers(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _unparseable(series: pd.Series, parsed_present: np.ndarray, column: str) -> None:
    bad = series.notna().to_numpy() & ~parsed_present
    if bad.any():
        examples = series[bad].head(3).tolist()
        raise ValueError(f"column {column!r}: cannot read condition values {examples}")


@dataclass(frozen=True)
class NumericCodec:
    kind: ClassVar[Kind] = "numeric"
    has_latent: ClassVar[bool] = True

    marginal: _EmpiricalMarginal
    decimals: int | None  # 0 for integers; None keeps full precision

    @classmethod
    def fit(
        cls, present: np.ndarray, decimals: int | None, settings: GaussianCopulaSettings
    ) -> Self:
        marginal = _EmpiricalMarginal.fit(present, settings.max_knots, settings.max_discrete_values)
        return cls(marginal, decimals)

    def parse(self, series: pd.Series) -> np.ndarray:
        return _numbers(series)

    def intervals(self, series: pd.Series, strict: bool = False) -> _Intervals:
        values = self.parse(series)
        present = ~np.isnan(values)
        if strict:
            _unparseable(series, present, str(series.name))
        low, high = self.marginal.interval(values[present])
        return _Intervals(low, high, present, self.marginal.eps)

    def decode(self, u: np.ndarray, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        x = self.marginal.quantile(u)
        if self.decimals is not None and not self.marginal.discrete:
            lowest, highest = self.marginal.points[0], self.marginal.points[-1]
            x = np.clip(np.round(x, self.decimals), lowest, highest)
        x = np.where(missing, np.nan, x)
        return pd.Series(x)

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        meta, arrays = self.marginal.payload(prefix)
        return {"marginal": meta, "decimals": self.decimals}, arrays

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        return cls(
            _EmpiricalMarginal.from_payload(meta["marginal"], arrays, prefix), meta["decimals"]
        )


_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _datetime_ticks(
    series: pd.Series, text_format: str | None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Integer ticks since the epoch (UTC), presence, the numpy unit and the time zone."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series
    else:
        try:
            stamps = pd.to_datetime(series, format=text_format or "mixed", errors="coerce")
        except ValueError:  # values in several time zones
            stamps = pd.to_datetime(
                series, format=text_format or "mixed", errors="coerce", utc=True
            )
    tz: str | None = None
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        tz = str(stamps.dt.tz)
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    unit = str(stamps.dt.unit)
    present = stamps.notna().to_numpy()
    ticks = stamps.to_numpy(dtype=f"datetime64[{unit}]").view("int64")
    return ticks, present, unit, tz


def _datetime_step(ticks: np.ndarray) -> int:
    """The spacing every value sits on, counted from the earliest (a day for dates, 15 minutes
    for quarter-hourly readings...), so sampled stamps look like the source's."""
    step = int(np.gcd.reduce(ticks - ticks.min())) if ticks.size else 0
    return max(step, 1)


@dataclass(frozen=True)
class DatetimeCodec:
    kind: ClassVar[Kind] = "datetime"
    has_latent: ClassVar[bool] = True

    marginal: _EmpiricalMarginal  # over (ticks - origin) / step
    unit: str
    origin: int
    step: int
    tz: str | None
    text_format: str | None  # set when the source stores dates as text
    is_text: bool

    @classmethod
    def fit(
        cls,
        ticks: np.ndarray,
        unit: str,
        tz: str | None,
        text_format: str | None,
        is_text: bool,
        settings: GaussianCopulaSettings,
    ) -> Self:
        step = _datetime_step(ticks)
        origin = int(ticks.min())
        # working in steps from the earliest value keeps the numbers small and exact in floats
        units = ((ticks - origin) // step).astype(float)
        marginal = _EmpiricalMarginal.fit(units, settings.max_knots, settings.max_discrete_values)
        return cls(marginal, unit, origin, step, tz, text_format, is_text)

    def parse(self, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        ticks, present, unit, _ = _datetime_ticks(series, self.text_format)
        scale = _TICKS_PER_SECOND[self.unit] / _TICKS_PER_SECOND[unit]
        return (ticks * scale - self.origin) / self.step, present

    def intervals(self, series: pd.Series, strict: bool = False) -> _Intervals:
        units, present = self.parse(series)
        if strict:
            _unparseable(series, present, str(series.name))
        low, high = self.marginal.interval(units[present])
        return _Intervals(low, high, present, self.marginal.eps)

    def decode(self, u: np.ndarray, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        return self.stamps(self.marginal.quantile(u), missing)

    def stamps(self, units: np.ndarray, missing: np.ndarray) -> pd.Series:
        """The column's values at ``units`` (steps from the earliest value, rounded here)."""
        units = np.round(units).astype(np.int64)
        stamps = (self.origin + units * self.step).astype(f"datetime64[{self.unit}]")
        stamps[missing] = np.datetime64("NaT")
        series = pd.Series(stamps)
        if self.tz is not None:
            series = series.dt.tz_localize("UTC").dt.tz_convert(self.tz)
        if self.is_text:
            day = 86_400 * _TICKS_PER_SECOND[self.unit]
            default = (
                "%Y-%m-%d"
                if self.step % day == 0 and self.origin % day == 0
                else ("%Y-%m-%d %H:%M:%S")
            )
            series = series.dt.strftime(self.text_format or default)
        return series

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        meta, arrays = self.marginal.payload(prefix)
        fields = {
            "unit": self.unit,
            "origin": self.origin,
            "step": self.step,
            "tz": self.tz,
            "text_format": self.text_format,
            "is_text": self.is_text,
        }
        return {"marginal": meta, **fields}, arrays

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        marginal = _EmpiricalMarginal.from_payload(meta["marginal"], arrays, prefix)
        return cls(
            marginal,
            meta["unit"],
            int(meta["origin"]),
            int(meta["step"]),
            meta["tz"],
            meta["text_format"],
            bool(meta["is_text"]),
        )


@dataclass(frozen=True)
class CategoricalCodec:
    """A frequency table; each category owns an interval of [0, 1], most frequent first."""

    kind: ClassVar[Kind] = "categorical"
    has_latent: ClassVar[bool] = True

    categories: pd.Index
    cdf: np.ndarray
    count: int

    @classmethod
    def fit(cls, present: pd.Series) -> Self:
        counts = present.value_counts(sort=False, dropna=True)
        counts = counts[counts > 0]
        order = np.argsort(-counts.to_numpy(), kind="stable")
        categories = counts.index[order]
        if isinstance(categories, pd.CategoricalIndex):
            categories = pd.Index(categories.to_numpy())
        cdf = np.cumsum(counts.to_numpy()[order]) / counts.sum()
        cdf[-1] = 1.0
        return cls(pd.Index(categories), cdf, int(counts.sum()))

    def reordered(self, order: np.ndarray) -> Self:
        probabilities = np.diff(self.cdf, prepend=0.0)[order]
        cdf = np.cumsum(probabilities)
        cdf[-1] = 1.0
        return type(self)(self.categories[order], cdf, self.count)

    def codes(self, values: pd.Series) -> np.ndarray:
        codes = self.categories.get_indexer(values)
        if (codes < 0).any():
            unknown = pd.unique(values[codes < 0])[:5].tolist()
            known = self.categories[:5].tolist()
            raise ValueError(
                f"column {values.name!r}: unknown categories {unknown}; "
                f"known ones include {known} ({self.categories.size} in all)"
            )
        return codes

    def intervals(self, series: pd.Series, strict: bool = False) -> _Intervals:
        present = series.notna().to_numpy()
        codes = self.codes(series[present])
        low = np.concatenate(([0.0], self.cdf))[codes]
        return _Intervals(low, self.cdf[codes], present, 0.5 / self.count)

    def decode(self, u: np.ndarray, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        codes = np.minimum(np.searchsorted(self.cdf, u, side="left"), self.cdf.size - 1)
        codes = np.where(missing, -1, codes)
        return pd.Series(pd.Categorical.from_codes(codes, categories=self.categories))

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        meta = {
            "categories": [_json_scalar(v) for v in self.categories.tolist()],
            "categories_dtype": str(self.categories.dtype),
            "count": self.count,
        }
        return meta, {f"{prefix}cdf": self.cdf}

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        categories = pd.Index(meta["categories"], dtype=object)
        if meta["categories_dtype"] != "object":
            categories = categories.astype(meta["categories_dtype"])
        return cls(categories, arrays[f"{prefix}cdf"], int(meta["count"]))


# markers for the character classes of an identifier's template
_ALPHABETS = {
    "\x00": "0123456789",
    "\x01": "abcdefghijklmnopqrstuvwxyz",
    "\x02": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "\x03": "0123456789abcdef",
    "\x04": "0123456789ABCDEF",
}
_COUNTER = re.compile(r"^(.*?)(\d+)(\D*)$")


def _id_template(value: str, hex_case: str | None) -> str:
    marks = []
    for char in value:
        if hex_case == "lower" and char in "0123456789abcdef":
            marks.append("\x03")
        elif hex_case == "upper" and char in "0123456789ABCDEF":
            marks.append("\x04")
        elif char.isascii() and char.isdigit():
            marks.append("\x00")
        elif char.isascii() and char.islower():
            marks.append("\x01")
        elif char.isascii() and char.isupper():
            marks.append("\x02")
        else:
            marks.append(char)
    return "".join(marks)


@dataclass(frozen=True)
class _IdCodec:
    """Fresh unique identifiers shaped like the source's; nothing about them is learned.

    ``integer``: a consecutive range from the source minimum. ``counter``: common prefix and
    suffix around a (zero-padded) counter from the source's smallest number. ``template``: random
    characters in the source's character classes (for hashes, UUIDs and the like).
    """

    kind: ClassVar[Kind] = "id"
    has_latent: ClassVar[bool] = False

    style: Literal["integer", "counter", "template"]
    start: int = 0
    prefix: str = ""
    suffix: str = ""
    width: int = 0
    templates: tuple[str, ...] = ()
    template_cdf: tuple[float, ...] = ()

    @classmethod
    def fit(cls, present: pd.Series) -> Self:
        if pd.api.types.is_numeric_dtype(present.dtype) and not pd.api.types.is_bool_dtype(
            present.dtype
        ):
            return cls("integer", start=int(np.floor(present.min())))
        text = pd.Series(pd.unique(present.astype(str)))
        parts = text.str.extract(_COUNTER)
        if parts.notna().all().all() and parts[0].nunique() == 1 and parts[2].nunique() == 1:
            lengths = parts[1].str.len()
            width = int(lengths.iloc[0]) if lengths.nunique() == 1 else 0
            start = min(int(d) for d in parts[1])
            return cls(
                "counter",
                start=start,
                prefix=parts[0].iloc[0],
                suffix=parts[2].iloc[0],
                width=width,
            )
        sample = text.iloc[np.linspace(0, text.size - 1, min(text.size, 10_000)).astype(int)]
        alnum = set("".join(sample.str.replace(r"[^0-9A-Za-z]", "", regex=True)))
        hex_case = None
        if alnum <= set("0123456789abcdef") and alnum & set("abcdef"):
            hex_case = "lower"
        elif alnum <= set("0123456789ABCDEF") and alnum & set("ABCDEF"):
            hex_case = "upper"
        counts = sample.map(lambda v: _id_template(v, hex_case)).value_counts().head(100)
        cdf = np.cumsum(counts.to_numpy()) / counts.sum()
        cdf[-1] = 1.0
        return cls("template", templates=tuple(counts.index), template_cdf=tuple(cdf.tolist()))

    def _fill(self, n: int, rng: np.random.Generator) -> np.ndarray:
        chosen = np.searchsorted(np.asarray(self.template_cdf), rng.random(n), side="left")
        out = np.empty(n, dtype=object)
        for index, template in enumerate(self.templates):
            rows = np.flatnonzero(chosen == index)
            if rows.size == 0:
                continue
            if not template:
                out[rows] = ""
                continue
            grid = np.empty((rows.size, len(template)), dtype="<U1")
            for position, mark in enumerate(template):
                alphabet = _ALPHABETS.get(mark)
                if alphabet is None:
                    grid[:, position] = mark
                else:
                    letters = np.array(list(alphabet))
                    grid[:, position] = letters[rng.integers(0, letters.size, rows.size)]
            out[rows] = grid.view(f"<U{len(template)}").ravel()
        return out

    def decode(self, u: None, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        n = missing.size
        if self.style == "integer":
            values = pd.Series(self.start + np.arange(n, dtype=np.int64))
        elif self.style == "counter":
            numbers = pd.Series(np.arange(self.start, self.start + n, dtype=np.int64)).astype(str)
            values = self.prefix + numbers.str.zfill(self.width) + self.suffix
        else:
            generated = self._fill(n, rng)
            for _ in range(20):
                duplicated = pd.Series(generated).duplicated().to_numpy()
                if not duplicated.any():
                    break
                generated[duplicated] = self._fill(int(duplicated.sum()), rng)
            duplicated = pd.Series(generated).duplicated().to_numpy()
            # a template too small for n distinct values: number the leftovers
            generated[duplicated] = [f"{v}-{i}" for i, v in enumerate(generated[duplicated])]
            values = pd.Series(generated, dtype=object)
        return values.where(~missing, None) if missing.any() else values

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        meta = {
            "style": self.style,
            "start": self.start,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "width": self.width,
            "templates": list(self.templates),
            "template_cdf": list(self.template_cdf),
        }
        return meta, {}

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        return cls(
            meta["style"],
            int(meta["start"]),
            meta["prefix"],
            meta["suffix"],
            int(meta["width"]),
            tuple(meta["templates"]),
            tuple(float(c) for c in meta["template_cdf"]),
        )


@dataclass(frozen=True)
class _ConstantCodec:
    kind: ClassVar[Kind] = "constant"
    has_latent: ClassVar[bool] = False

    value: JsonScalar
    is_datetime: bool

    @classmethod
    def fit(cls, present: pd.Series) -> Self:
        value = present.mode().iloc[0]
        is_datetime = pd.api.types.is_datetime64_any_dtype(present.dtype)
        return cls(_json_scalar(value), is_datetime)

    def decode(self, u: None, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        value: Any = pd.Timestamp(self.value) if self.is_datetime else self.value
        values = pd.Series([value] * missing.size)
        return values.where(~missing, None) if missing.any() else values

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        return {"value": self.value, "is_datetime": self.is_datetime}, {}

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        return cls(meta["value"], bool(meta["is_datetime"]))


@dataclass(frozen=True)
class _EmptyCodec:
    kind: ClassVar[Kind] = "empty"
    has_latent: ClassVar[bool] = False

    def decode(self, u: None, missing: np.ndarray, rng: np.random.Generator) -> pd.Series:
        return pd.Series([None] * missing.size, dtype=object)

    def payload(self, prefix: str) -> tuple[dict[str, Any], Arrays]:
        return {}, {}

    @classmethod
    def from_payload(cls, meta: dict[str, Any], arrays: Arrays, prefix: str) -> Self:
        return cls()


_LatentCodec = NumericCodec | DatetimeCodec | CategoricalCodec
_Codec = _LatentCodec | _IdCodec | _ConstantCodec | _EmptyCodec
_CODECS: dict[str, type[_Codec]] = {
    codec.kind: codec
    for codec in (
        NumericCodec,
        DatetimeCodec,
        CategoricalCodec,
        _IdCodec,
        _ConstantCodec,
        _EmptyCodec,
    )
}


@dataclass(frozen=True)
class ColumnModel:
    name: str
    dtype: str  # the training column's dtype, restored on output
    missing_rate: float  # share of nulls in training
    codec: _Codec

    @property
    def has_value_latent(self) -> bool:
        return self.codec.has_latent

    @property
    def has_missing_latent(self) -> bool:
        return 0.0 < self.missing_rate < 1.0 and self.codec.kind != "empty"

    def missing_intervals(self, present: np.ndarray) -> _Intervals:
        """Null rows own [0, q), present rows [q, 1] of the indicator's uniform scale."""
        q = self.missing_rate
        low = np.where(present, q, 0.0)
        high = np.where(present, 1.0, q)
        return _Intervals(low, high, np.ones(present.size, dtype=bool), 0.5 / max(present.size, 1))


def fit_column(series: pd.Series, column: Column, settings: GaussianCopulaSettings) -> ColumnModel:
    dtype = str(series.dtype)
    notna = series.notna().to_numpy()
    n = max(series.size, 1)

    def model(codec: _Codec, present: np.ndarray) -> ColumnModel:
        return ColumnModel(column.name, dtype, 1.0 - float(present.sum()) / n, codec)

    if column.semantic == SemanticType.empty or not notna.any():
        return ColumnModel(column.name, dtype, 1.0, _EmptyCodec())
    present_values = series[notna]
    if column.semantic == SemanticType.id:
        return model(_IdCodec.fit(present_values), notna)
    if column.semantic == SemanticType.constant or present_values.nunique() == 1:
        return model(_ConstantCodec.fit(present_values), notna)

    numeric_storage = column.storage in (StorageType.integer, StorageType.float)
    is_datetime_dtype = pd.api.types.is_datetime64_any_dtype(series.dtype)
    if column.semantic == SemanticType.datetime and (is_datetime_dtype or not numeric_storage):
        ticks, present, unit, tz = _datetime_ticks(series, column.datetime_format)
        if not present.any():
            return ColumnModel(column.name, dtype, 1.0, _EmptyCodec())
        codec = DatetimeCodec.fit(
            ticks[present], unit, tz, column.datetime_format, not is_datetime_dtype, settings
        )
        return model(codec, present)

    is_number_dtype = pd.api.types.is_numeric_dtype(series.dtype) and not (
        pd.api.types.is_bool_dtype(series.dtype)
    )
    if column.semantic in (SemanticType.numeric, SemanticType.datetime) and (
        numeric_storage or is_number_dtype
    ):
        values = _numbers(series)
        present = ~np.isnan(values)
        if not present.any():
            return ColumnModel(column.name, dtype, 1.0, _EmptyCodec())
        integer = column.storage == StorageType.integer or pd.api.types.is_integer_dtype(
            series.dtype
        )
        if integer:
            decimals: int | None = 0
        elif column.decimals is not None:
            decimals = column.decimals
        else:
            decimals = _observed_decimals(values[present])
        return model(NumericCodec.fit(values[present], decimals, settings), present)

    return model(CategoricalCodec.fit(present_values), notna)


# ---------------------------------------------------------------------------------------------
# the correlation


def _association_order(codes: np.ndarray, k: int, anchors: np.ndarray) -> np.ndarray:
    """An order of the k categories along the direction in which they differ most.

    Each category is summarised by the mean of the other columns' latents over its rows; the
    first principal axis of those means (weighted by frequency) gives every category a position.
    Laid out in that order, a nominal column's latent is as monotone in the others as one axis
    allows, e.g. "never married" lands next to the young ages rather than wherever its
    frequency puts it.
    """
    if k < 3 or anchors.shape[1] == 0 or codes.size == 0:
        return np.arange(k)
    one_hot = sparse.csr_matrix(
        (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(k, codes.size)
    )
    counts = np.asarray(one_hot.sum(axis=1)).ravel()
    seen = counts > 0
    weights = counts / counts.sum()
    means = np.zeros((k, anchors.shape[1]))
    means[seen] = np.asarray(one_hot @ anchors)[seen] / counts[seen, None]
    centred = np.where(seen[:, None], means - weights @ means, 0.0)
    _, _, axes = np.linalg.svd(np.sqrt(weights)[:, None] * centred, full_matrices=False)
    direction = axes[0]
    direction = direction * (1.0 if direction[np.argmax(np.abs(direction))] >= 0 else -1.0)
    # ties (e.g. categories unseen in the subsample) keep the frequency order
    return np.lexsort((np.arange(k), centred @ direction))


def _pairwise_correlation(z: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair over the rows where both are observed.

    A null's value latent carries no information, so it is left out of every pair rather than
    filled with noise that would shrink the correlations of columns with many nulls.
    """
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    if observed.all():
        corr = np.corrcoef(z, rowvar=False) if z.shape[0] > 1 else np.eye(d)
        corr = np.atleast_2d(corr)
    else:
        weights = observed.astype(float)
        zw = np.where(observed, z, 0.0)
        count = weights.T @ weights
        sums = zw.T @ weights  # sums[a, b]: sum of z_a over rows where a and b are observed
        squares = (zw * zw).T @ weights
        products = zw.T @ zw
        numerator = count * products - sums * sums.T
        spread = count * squares - sums**2
        denominator = np.sqrt(np.clip(spread * spread.T, 0.0, None))
        valid = (count >= 3) & (denominator > 0)
        corr = np.where(valid, numerator / np.where(valid, denominator, 1.0), 0.0)
    corr = np.nan_to_num(corr, nan=0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


_HERMITE_TERMS = 16


def _hermite_table(edges: np.ndarray, degree: int) -> np.ndarray:
    """phi(x) h_j(x) for j = 0..degree at each edge (0 at infinite edges), h_j = He_j / sqrt(j!)."""
    x = np.clip(edges, -30.0, 30.0)  # beyond, phi underflows to 0 and so does the product
    table = np.empty((degree + 1, x.size))
    previous, current = np.zeros_like(x), np.ones_like(x)
    density = np.exp(-0.5 * x**2) / np.sqrt(2.0 * np.pi)
    for j in range(degree + 1):
        table[j] = density * current
        previous, current = current, (x * current - np.sqrt(j) * previous) / np.sqrt(j + 1)
    return table


def hermite_profile(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Hermite coefficients a_1..a_K of what a latent's scores know of it: z -> E[Z | tie of z].

    A tied value's score is drawn at random inside its tie's interval, so it equals the latent
    only up to noise, and the scores' correlation understates the latents'. For a Gaussian copula
    the scores' correlation is exactly sum_k rho^k a_k b_k (Mehler's formula), which
    ``latent_correlation`` inverts: a fast polychoric / polyserial correlation. The coefficients
    are exact integrals over the ties (E[Z | tie] there) and the gaps between them (Z itself), so a
    latent without ties has the profile (1, 0, 0, ...) and is left alone.
    """
    profile = np.zeros(_HERMITE_TERMS)
    tied = high - low > 1e-9
    if low.size == 0 or not tied.any():
        profile[0] = 1.0
        return profile
    # ties are disjoint intervals, so their lower ends tell them apart
    tie_low, first = np.unique(low[tied], return_index=True)
    ties = np.column_stack([tie_low, high[tied][first]])
    starts = np.concatenate(([0.0], ties[:, 1]))
    ends = np.concatenate((ties[:, 0], [1.0]))
    gaps = ends - starts > 1e-12
    gap_low, gap_high = starts[gaps], ends[gaps]

    def integrals(u_low: np.ndarray, u_high: np.ndarray) -> np.ndarray:
        """J_j = integral of h_j phi over each interval, j = 0..K+1 (rows)."""
        at_low = _hermite_table(ndtri(u_low), _HERMITE_TERMS)
        at_high = _hermite_table(ndtri(u_high), _HERMITE_TERMS)
        steps = np.sqrt(np.arange(1, _HERMITE_TERMS + 2))[:, None]
        return np.vstack([u_high - u_low, (at_low - at_high) / steps])

    tie_integrals = integrals(ties[:, 0], ties[:, 1])
    tie_means = tie_integrals[1] / tie_integrals[0]  # E[Z | tie] = (phi(a) - phi(b)) / mass
    gap_integrals = integrals(gap_low, gap_high)
    for k in range(1, _HERMITE_TERMS + 1):
        on_ties = tie_means @ tie_integrals[k]
        # z h_k = sqrt(k + 1) h_{k+1} + sqrt(k) h_{k-1}
        on_gaps = np.sqrt(k + 1) * gap_integrals[k + 1] + np.sqrt(k) * gap_integrals[k - 1]
        profile[k - 1] = on_ties + on_gaps.sum()
    return profile


def latent_correlation(score_corr: np.ndarray, profiles: np.ndarray) -> np.ndarray:
    """The latent correlation rho with sum_k rho^k a_k b_k equal to each scores' correlation."""
    d = score_corr.shape[0]
    if d == 0:
        return score_corr

    def implied(rho: np.ndarray) -> np.ndarray:
        total = np.zeros_like(rho)
        for k in range(_HERMITE_TERMS, 0, -1):  # Horner
            total = (total + np.outer(profiles[:, k - 1], profiles[:, k - 1])) * rho
        return total

    ones = np.ones((d, d))
    at_top, at_bottom = implied(ones), implied(-ones)
    low, high = -ones, ones.copy()
    for _ in range(50):
        middle = (low + high) / 2.0
        below = implied(middle) < score_corr
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    rho = (low + high) / 2.0
    rho = np.where(score_corr >= at_top, 1.0, np.where(score_corr <= at_bottom, -1.0, rho))
    rho = (rho + rho.T) / 2.0
    np.fill_diagonal(rho, 1.0)
    return rho


def regularised(corr: np.ndarray, floor: float) -> np.ndarray:
    """The correlation with every eigenvalue at least ``floor``, rescaled to a unit diagonal."""
    if corr.size == 0:
        return corr
    values, vectors = np.linalg.eigh((corr + corr.T) / 2.0)
    rebuilt = (vectors * np.maximum(values, floor)) @ vectors.T
    scale = np.sqrt(np.diag(rebuilt))
    rebuilt = rebuilt / np.outer(scale, scale)
    rebuilt = (rebuilt + rebuilt.T) / 2.0
    np.fill_diagonal(rebuilt, 1.0)
    return rebuilt


def psd_root(cov: np.ndarray) -> np.ndarray:
    """R with R @ R.T == cov, tolerant of the tiny negative eigenvalues rounding leaves."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _conditional_latents(
    corr: np.ndarray,
    cholesky: np.ndarray,
    noise: np.ndarray,
    given: np.ndarray,
    known: np.ndarray,
) -> np.ndarray:
    """Latents drawn from the normal conditional on the known ones, row by row.

    Rows are grouped by which latents they fix (a null condition fixes the missing indicator but
    not the value), so each group needs one solve.
    """
    z = np.empty_like(noise)
    patterns, inverse = np.unique(known, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for index, fixed in enumerate(patterns):
        rows = np.flatnonzero(inverse == index)
        free = ~fixed
        if not fixed.any():
            z[rows] = noise[rows] @ cholesky.T
            continue
        z_fixed = given[np.ix_(rows, fixed)]
        z[np.ix_(rows, fixed)] = z_fixed
        if not free.any():
            continue
        cross = corr[np.ix_(free, fixed)]
        weights = np.linalg.solve(corr[np.ix_(fixed, fixed)], cross.T).T
        cov = corr[np.ix_(free, free)] - weights @ cross.T
        z[np.ix_(rows, free)] = z_fixed @ weights.T + noise[np.ix_(rows, free)] @ psd_root(cov).T
    return z


# ---------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class _Latent:
    column: int
    role: Literal["value", "missing"]


def _latent_layout(columns: list[ColumnModel]) -> list[_Latent]:
    layout: list[_Latent] = []
    for index, column in enumerate(columns):
        if column.has_value_latent:
            layout.append(_Latent(index, "value"))
        if column.has_missing_latent:
            layout.append(_Latent(index, "missing"))
    return layout


@dataclass(frozen=True)
class _FittedCopula:
    table: Table
    columns: list[ColumnModel]
    correlation: np.ndarray
    cholesky: np.ndarray

    @property
    def layout(self) -> list[_Latent]:
        return _latent_layout(self.columns)

    def latent_index(self) -> dict[tuple[int, str], int]:
        return {(lat.column, lat.role): i for i, lat in enumerate(self.layout)}


class GaussianCopulaSynthesizer(Synthesizer):
    """Gaussian copula with empirical marginals; see the module docstring.

    Supports conditioning: ``sample(n, seed, conditions)`` with one row of fixed values per
    requested row, for any subset of the table's columns (a null fixes "missing").
    """

    name: ClassVar[str] = "gaussian_copula"

    def __init__(self, **settings: Any) -> None:
        self._settings = GaussianCopulaSettings(**settings)
        self._fitted: _FittedCopula | None = None

    # -- the interface ------------------------------------------------------------------------

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        absent = [name for name in table.column_names if name not in data.columns]
        if absent:
            raise ValueError(f"table {table.name!r}: the data has no column(s) {absent}")
        if len(data) == 0:
            raise ValueError(f"table {table.name!r}: cannot fit on a table without rows")
        rng = np.random.default_rng(seed)
        data = data.reset_index(drop=True)
        n = len(data)
        limit = self._settings.max_fit_rows
        rows = np.sort(rng.choice(n, size=limit, replace=False)) if n > limit else np.arange(n)

        subset = data.iloc[rows].reset_index(drop=True)
        columns = [fit_column(data[c.name], c, self._settings) for c in table.columns]
        layout = _latent_layout(columns)
        intervals: list[_Intervals] = []
        for latent in layout:
            model = columns[latent.column]
            series = subset[model.name]
            if latent.role == "value" and isinstance(model.codec, _LatentCodec):
                intervals.append(model.codec.intervals(series))
            else:
                # the layout puts a column's missing indicator right after its value latent
                present = intervals[-1].present if model.has_value_latent else series.notna()
                intervals.append(model.missing_intervals(np.asarray(present)))
        z_matrix = np.zeros((rows.size, len(intervals)))
        for j, located in enumerate(intervals):
            z_matrix[:, j] = located.scores(rng)
        index = {(lat.column, lat.role): i for i, lat in enumerate(layout)}
        if self._settings.category_order == "association":
            self._order_categories(subset, columns, z_matrix, intervals, index, rng)
        observed = np.ones_like(z_matrix, dtype=bool)
        for j, located in enumerate(intervals):
            observed[:, j] = located.present
        corr = _pairwise_correlation(z_matrix, observed)
        # scores of tied values understate the latent correlation; undo that (see hermite_profile)
        profiles = np.zeros((len(intervals), _HERMITE_TERMS))
        for j, located in enumerate(intervals):
            profiles[j] = hermite_profile(located.low, located.high)
        corr = latent_correlation(corr, profiles)
        # a column's value and its own missing indicator never co-occur: no dependence to learn
        for (column_index, role), i in index.items():
            if role == "missing" and (column_index, "value") in index:
                j = index[(column_index, "value")]
                corr[i, j] = corr[j, i] = 0.0
        corr = regularised(corr, self._settings.eigenvalue_floor)
        cholesky = np.linalg.cholesky(corr) if corr.size else corr
        self._fitted = _FittedCopula(table, columns, corr, cholesky)
        return self

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        fitted = self._require_fitted()
        if n < 0:
            raise ValueError(f"cannot sample {n} rows")
        rng = np.random.default_rng(seed)
        index = fitted.latent_index()
        noise = rng.standard_normal((n, len(index)))
        if conditions is not None and conditions.shape[1] > 0:
            conditions = self._checked_conditions(conditions, n)
            given, known = self._condition_latents(conditions, index, rng)
            z = _conditional_latents(fitted.correlation, fitted.cholesky, noise, given, known)
        else:
            conditions = None
            z = noise @ fitted.cholesky.T
        u = ndtr(z)

        out: dict[str, pd.Series] = {}
        for i, column in enumerate(fitted.columns):
            if column.codec.kind == "empty":
                missing = np.ones(n, dtype=bool)
            elif (i, "missing") in index:
                missing = u[:, index[(i, "missing")]] < column.missing_rate
            else:
                missing = np.zeros(n, dtype=bool)
            value_u = u[:, index[(i, "value")]] if (i, "value") in index else None
            values = column.codec.decode(value_u, missing, rng)  # type: ignore[arg-type]
            out[column.name] = restore_dtype(values, column.dtype)
        if conditions is not None:
            for name in conditions.columns:
                given_values = pd.Series(conditions[name].to_numpy(), name=name)
                out[name] = restore_dtype(given_values, fitted.columns[self._position(name)].dtype)
        return pd.DataFrame(out, index=pd.RangeIndex(n))

    def settings(self) -> dict[str, Any]:
        return self._settings.model_dump(mode="json")

    def save(self, path: Path | str) -> None:
        fitted = self._require_fitted()
        columns_meta, arrays = encode_columns(fitted.columns)
        arrays.update({"correlation": fitted.correlation, "cholesky": fitted.cholesky})
        meta = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "model": self.name,
            "settings": self.settings(),
            "table": fitted.table.model_dump(mode="json"),
            "columns": columns_meta,
        }
        write_model_archive(path, meta, arrays)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        meta, arrays = read_model_archive(path, cls.name, _FILE_FORMAT, _FILE_VERSION)
        columns = decode_columns(meta["columns"], arrays)
        model = cls(**meta["settings"])
        model._fitted = _FittedCopula(
            Table.model_validate(meta["table"]), columns, arrays["correlation"], arrays["cholesky"]
        )
        return model

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _order_categories(
        subset: pd.DataFrame,
        columns: list[ColumnModel],
        z_matrix: np.ndarray,
        intervals: list[_Intervals],
        index: dict[tuple[int, str], int],
        rng: np.random.Generator,
    ) -> None:
        """Re-lay each categorical column's categories by association, in place.

        The anchors are the other latents as first computed (categoricals by frequency);
        ``columns``, ``intervals`` and the value latents in ``z_matrix`` are updated.
        """
        anchors = z_matrix.copy()
        for i, column in enumerate(columns):
            codec = column.codec
            if not isinstance(codec, CategoricalCodec) or codec.categories.size < 3:
                continue
            j = index[(i, "value")]
            own = [index[key] for key in ((i, "value"), (i, "missing")) if key in index]
            others = np.setdiff1d(np.arange(z_matrix.shape[1]), own)
            present = intervals[j].present
            series = subset[column.name]
            codes = codec.categories.get_indexer(series[present])
            order = _association_order(codes, codec.categories.size, anchors[present][:, others])
            reordered = codec.reordered(order)
            columns[i] = ColumnModel(column.name, column.dtype, column.missing_rate, reordered)
            intervals[j] = reordered.intervals(series)
            z_matrix[:, j] = intervals[j].scores(rng)

    def _require_fitted(self) -> _FittedCopula:
        if self._fitted is None:
            raise RuntimeError(f"{self.name}: fit the model before sampling or saving it")
        return self._fitted

    def _position(self, name: str) -> int:
        fitted = self._require_fitted()
        return [c.name for c in fitted.columns].index(name)

    def _checked_conditions(self, conditions: pd.DataFrame, n: int) -> pd.DataFrame:
        return checked_conditions(conditions, [c.name for c in self._require_fitted().columns], n)

    def _condition_latents(
        self,
        conditions: pd.DataFrame,
        index: dict[tuple[int, str], int],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        n, d = len(conditions), len(index)
        given = np.zeros((n, d))
        known = np.zeros((n, d), dtype=bool)
        for name in conditions.columns:
            i = self._position(name)
            column = self._require_fitted().columns[i]
            series = conditions[name].rename(name)
            present = series.notna().to_numpy()
            if not present.all() and column.missing_rate == 0.0 and column.codec.kind != "empty":
                raise ValueError(
                    f"column {name!r} was never null in training; cannot fix it to null"
                )
            if (i, "value") in index and present.any() and isinstance(column.codec, _LatentCodec):
                located = column.codec.intervals(series, strict=True)
                j = index[(i, "value")]
                given[:, j] = located.scores(rng)
                known[located.present, j] = True
            if (i, "missing") in index:
                j = index[(i, "missing")]
                given[:, j] = column.missing_intervals(present).scores(rng)
                known[:, j] = True
        return given, known


def encode_columns(columns: list[ColumnModel]) -> tuple[list[dict[str, Any]], Arrays]:
    """Each column's codec as JSON metadata plus named arrays (the saved-model layout)."""
    columns_meta: list[dict[str, Any]] = []
    arrays: Arrays = {}
    for i, column in enumerate(columns):
        codec_meta, codec_arrays = column.codec.payload(f"c{i}_")
        arrays.update(codec_arrays)
        columns_meta.append(
            {
                "name": column.name,
                "dtype": column.dtype,
                "missing_rate": column.missing_rate,
                "kind": column.codec.kind,
                "codec": codec_meta,
            }
        )
    return columns_meta, arrays


def decode_columns(columns_meta: list[dict[str, Any]], arrays: Arrays) -> list[ColumnModel]:
    return [
        ColumnModel(
            entry["name"],
            entry["dtype"],
            float(entry["missing_rate"]),
            _CODECS[entry["kind"]].from_payload(entry["codec"], arrays, f"c{i}_"),
        )
        for i, entry in enumerate(columns_meta)
    ]


def checked_conditions(conditions: pd.DataFrame, known: list[str], n: int) -> pd.DataFrame:
    """Conditions with one row per sampled row, known columns only, in table order."""
    if len(conditions) != n:
        raise ValueError(f"conditions have {len(conditions)} rows; one per sampled row ({n})")
    unknown = [c for c in conditions.columns if c not in known]
    if unknown:
        raise ValueError(f"conditions name unknown column(s) {unknown}; columns: {known}")
    # table order keeps the random draws independent of the caller's column order
    return conditions[[c for c in known if c in conditions.columns]].reset_index(drop=True)
