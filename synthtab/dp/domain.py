"""Columns as small finite domains for the DP models: bins for numbers and dates, released
categories for the rest, a null code for every column.

Where a domain comes from: the schema's declared ``minimum``/``maximum``/``allowed_values`` are
public and cost nothing; anything missing is released with DP from the caller's zCDP budget
(``synthtab.dp.mechanisms``). Column names, types, storage dtypes and precision (decimals, a
date's step) are format metadata and treated as public (declare them in --schema to keep them
out of the data's hands entirely).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthtab.dp.accountant import zcdp_rho
from synthtab.dp.mechanisms import dp_bounds, dp_category_set, gaussian_scale
from synthtab.schema import Column, SemanticType, StorageType, Table

Kind = Literal["numeric", "datetime", "categorical", "id", "empty"]
_TICKS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


@dataclass(frozen=True)
class ColumnDomain:
    """One column's codes: 0..bins-1 (or categories, then 'other'), and the last code null."""

    name: str
    dtype: str
    kind: Kind
    categories: list[Any] = field(default_factory=list)
    edges: list[float] = field(default_factory=list)  # bin edges on the transformed scale
    low: float = 0.0
    high: float = 0.0
    resolution: float = 0.0  # 0: keep every digit
    log_scale: bool = False
    unit: str = "ns"
    tz: str | None = None
    text_format: str | None = None
    is_text: bool = False
    storage: str = "string"
    # a null code only where the source dtype can hold nulls and the schema allows them
    nullable: bool = True

    @property
    def values(self) -> int:
        """Codes for values (null excluded)."""
        if self.kind in ("numeric", "datetime"):
            return len(self.edges) - 1
        if self.kind == "categorical":
            return len(self.categories) + 1  # + 'other': values outside the released set
        return 0

    @property
    def size(self) -> int:
        return self.values + 1 if self.nullable else max(self.values, 1)

    @property
    def null_code(self) -> int:
        """The code of a null (-1 where the column has none: nothing decodes to null)."""
        return self.values if self.nullable else -1

    def _transform(self, x: np.ndarray) -> np.ndarray:
        if self.log_scale:
            return np.log(np.clip(x, self.low, self.high) - self.low + max(self.resolution, 1e-9))
        return np.clip(x, self.low, self.high)

    def _inverse(self, t: np.ndarray) -> np.ndarray:
        if self.log_scale:
            return np.exp(t) - max(self.resolution, 1e-9) + self.low
        return t

    def encode(self, series: pd.Series) -> np.ndarray:
        n = len(series)
        # a null in a column without a null code (declared not nullable) joins code 0
        codes = np.full(n, max(self.null_code, 0), dtype=np.int64)
        if self.kind in ("numeric", "datetime"):
            values, present = numbers_of(series, self)
            inner = np.searchsorted(
                np.asarray(self.edges), self._transform(values[present]), "right"
            )
            codes[present] = np.clip(inner - 1, 0, self.values - 1)
        elif self.kind == "categorical":
            present = series.notna().to_numpy()
            index = pd.Index(self.categories, dtype=object).get_indexer(
                series[present].astype(object)
            )
            codes[present] = np.where(index < 0, len(self.categories), index)
        return codes

    def decode(
        self, codes: np.ndarray, other_weights: np.ndarray, rng: np.random.Generator
    ) -> pd.Series:
        n = codes.size
        missing = codes == self.null_code
        if self.kind == "categorical":
            k = len(self.categories)
            picked = codes.copy()
            other = picked == k
            if other.any() and k:
                weights = np.clip(other_weights[:k], 0, None) + 1e-12
                picked[other] = rng.choice(k, size=int(other.sum()), p=weights / weights.sum())
            elif other.any():
                missing = missing | other
            values = np.empty(n, dtype=object)
            if k:
                values[~missing] = np.asarray(self.categories, dtype=object)[picked[~missing]]
            values[missing] = None
            return pd.Series(values, dtype=object)
        if self.kind in ("numeric", "datetime"):
            edges = np.asarray(self.edges)
            inside = np.clip(codes, 0, self.values - 1)
            t = edges[inside] + (edges[inside + 1] - edges[inside]) * rng.random(n)
            x = self._inverse(t)
            if self.resolution > 0:
                x = np.round((x - self.low) / self.resolution) * self.resolution + self.low
            x = np.clip(x, self.low, self.high)
            if self.kind == "numeric":
                return pd.Series(np.where(missing, np.nan, x))
            stamps = np.round(x).astype(np.int64).astype(f"datetime64[{self.unit}]")
            stamps[missing] = np.datetime64("NaT")
            series = pd.Series(stamps)
            if self.tz is not None:
                series = series.dt.tz_localize("UTC").dt.tz_convert(self.tz)
            if self.is_text:
                series = series.dt.strftime(self.text_format or "%Y-%m-%d %H:%M:%S")
            return series
        if self.kind == "id":
            if self.storage in ("integer", "float"):
                return pd.Series(np.arange(1, n + 1, dtype=np.int64))
            width = max(len(str(n)), 6)
            return pd.Series([f"{self.name[:3].upper()}{i:0{width}d}" for i in range(1, n + 1)])
        return pd.Series([None] * n, dtype=object)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["categories"] = [v.item() if isinstance(v, np.generic) else v for v in self.categories]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnDomain:
        return cls(**data)


def numbers_of(series: pd.Series, domain: ColumnDomain) -> tuple[np.ndarray, np.ndarray]:
    """Numeric values (dates as ticks in the domain's unit) and which rows have one."""
    if domain.kind == "datetime":
        stamps = series
        if not pd.api.types.is_datetime64_any_dtype(series.dtype):
            stamps = pd.to_datetime(
                series,
                format=domain.text_format or "mixed",
                errors="coerce",
                utc=domain.tz is not None,
            )
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        present = stamps.notna().to_numpy()
        ticks = stamps.to_numpy(dtype=f"datetime64[{domain.unit}]").view("int64").astype(float)
        return ticks, present
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values, ~np.isnan(values)


def _holds_nulls(column: Column, series: pd.Series) -> bool:
    """Whether the source's dtype can hold a null (int64 and bool cannot) and the schema
    allows one: dtypes are format metadata, public like the column types."""
    dtype = series.dtype
    cannot = (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) and (
        not isinstance(dtype, pd.api.extensions.ExtensionDtype)
    )
    return column.nullable and not cannot


def _kind(column: Column) -> Kind:
    if column.semantic == SemanticType.id:
        return "id"
    if column.semantic == SemanticType.empty:
        return "empty"
    if column.semantic == SemanticType.numeric and column.storage in (
        StorageType.integer,
        StorageType.float,
    ):
        return "numeric"
    if column.semantic == SemanticType.datetime:
        return "datetime"
    return "categorical"


def _resolution(column: Column, series: pd.Series, kind: Kind, unit: str) -> float:
    """Precision, format metadata: 1 for integers, 10^-decimals, a date's step (in ticks)."""
    if kind == "datetime":
        domain = ColumnDomain(
            column.name,
            str(series.dtype),
            "datetime",
            unit=unit,
            text_format=column.datetime_format,
        )
        ticks, present = numbers_of(series, domain)
        ticks = ticks[present].astype(np.int64)
        return float(max(int(np.gcd.reduce(ticks - ticks.min())), 1)) if ticks.size else 1.0
    if column.storage == StorageType.integer or pd.api.types.is_integer_dtype(series.dtype):
        return 1.0
    if column.decimals is not None:
        return 10.0**-column.decimals
    return 0.0


def _as_number(value: float | str | None, kind: Kind, unit: str) -> float | None:
    if value is None:
        return None
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.as_unit(unit).value)
    return float(value)


def _edges(
    low: float, high: float, resolution: float, max_bins: int, floor: float | None = None
) -> tuple[list[float], bool]:
    """Bin edges on the transformed scale, and whether that scale is logarithmic. ``floor``:
    where a released range's values start (its low end before it was extended to 0)."""
    if resolution > 0 and (high - low) / resolution + 1 <= max_bins:
        count = int(round((high - low) / resolution)) + 1
        return list(low + resolution * (np.arange(count + 1) - 0.5)), False
    offset = max(resolution, 1e-9)
    start = abs(low) if floor is None else floor
    # from public bounds alone: a range over many orders of magnitude above where its values
    # start is binned on a log scale, so the small values (and a point mass at the floor) keep
    # their own bins
    if high - low > 1000 * max(start, offset):
        top = math.log(high - low + offset)
        return list(np.linspace(math.log(offset), top, max_bins + 1)), True
    if high <= low:
        return [low - 0.5 * max(resolution, 1.0), low + 0.5 * max(resolution, 1.0)], False
    return list(np.linspace(low, high, max_bins + 1)), False


@dataclass
class DomainBudget:
    """The zCDP a model may spend on domains the schema does not declare."""

    rho_bounds: float
    rho_categories: float
    delta_categories: float
    parts: list[dict[str, Any]] = field(default_factory=list)


def needs_bounds(column: Column) -> bool:
    return _kind(column) in ("numeric", "datetime") and (
        column.minimum is None or column.maximum is None
    )


def needs_categories(column: Column) -> bool:
    return (
        _kind(column) == "categorical"
        and column.allowed_values is None
        and column.semantic != SemanticType.boolean
    )


@dataclass(frozen=True)
class BudgetSplit:
    """A DP model's zCDP block: its rho, the part for domains, and where delta goes."""

    rho: float
    rho_domains: float
    delta_conversion: float
    budget: DomainBudget


def split_domain_budget(
    table: Table, epsilon: float, delta: float, domain_share: float
) -> BudgetSplit:
    """(epsilon, delta) as one zCDP block: a category set's threshold costs a quarter of delta
    (when a category set is released at all), the rest of delta goes to the conversion;
    ``domain_share`` of rho goes to the bounds and category sets the schema does not declare,
    shared by column count."""
    bounded = sum(needs_bounds(c) for c in table.columns)
    categorised = sum(needs_categories(c) for c in table.columns)
    delta_categories = delta / 4.0 if categorised else 0.0
    delta_conversion = delta - delta_categories
    rho = zcdp_rho(epsilon, delta_conversion)
    weight = bounded + categorised
    rho_domains = domain_share * rho if weight else 0.0
    return BudgetSplit(
        rho=rho,
        rho_domains=rho_domains,
        delta_conversion=delta_conversion,
        budget=DomainBudget(
            rho_bounds=rho_domains * bounded / weight if weight else 0.0,
            rho_categories=rho_domains * categorised / weight if weight else 0.0,
            delta_categories=delta_categories,
        ),
    )


# a released numeric column gets at most one bin per this many noise scales of the model's
# 1-way marginal in its noisy row count (and at least _MIN_BINS): a bin whose count is
# below about two scales is zeroed by the denoising, so more bins only add noise
_SCALES_PER_BIN = 4.0
_MIN_BINS = 8


def bins_for(rows: float, marginal_scale: float | None, max_bins: int) -> int:
    """Bins for a numeric column from its released row count and the noise scale its 1-way
    marginal will get (both public); ``max_bins`` where the scale is not given."""
    if marginal_scale is None or marginal_scale <= 0:
        return max_bins
    fitting = int(rows / (_SCALES_PER_BIN * marginal_scale))
    return int(min(max_bins, max(_MIN_BINS, fitting)))


def categorical_share(table: Table) -> float:
    """The share of categorical columns among those a marginal model learns (from the schema's
    types alone: public)."""
    learned = learned_columns(table)
    return sum(_kind(c) == "categorical" for c in table.columns) / learned if learned else 0.0


def learned_columns(table: Table) -> int:
    """How many columns a marginal model learns codes for (ids and empty ones are made up)."""
    return sum(_kind(c) in ("numeric", "datetime", "categorical") for c in table.columns)


def fit_domains(
    data: pd.DataFrame,
    table: Table,
    budget: DomainBudget,
    max_bins: int,
    seed: int,
    tail: float = 0.005,
    marginal_scale: float | None = None,
) -> list[ColumnDomain]:
    """Every column's domain: declared parts free, the rest released with DP from ``budget``
    (recorded in ``budget.parts``). ``marginal_scale``: the noise scale the model's 1-way
    marginals will have; a column with released bounds gets fewer bins where its noisy row count
    is too small for ``max_bins`` of them (``bins_for``)."""
    bounded = [c for c in table.columns if needs_bounds(c)]
    categorised = [c for c in table.columns if needs_categories(c)]
    domains: list[ColumnDomain] = []
    for position, column in enumerate(table.columns):
        series = data[column.name]
        kind = _kind(column)
        dtype = str(series.dtype)
        column_seed = int(np.random.SeedSequence([seed, position, 17]).generate_state(1)[0] % 2**31)
        if kind in ("id", "empty"):
            domains.append(ColumnDomain(column.name, dtype, kind, storage=column.storage.value))
            continue
        if kind == "categorical":
            if column.semantic == SemanticType.boolean and column.allowed_values is None:
                categories: list[Any] = [False, True]
            elif column.allowed_values is not None:
                categories = list(column.allowed_values)
            else:
                rho = budget.rho_categories / len(categorised)
                scale = gaussian_scale(rho, 1.0)
                delta = budget.delta_categories / len(categorised)
                release = dp_category_set(series, scale, delta, column_seed)
                categories = release.values
                part = {
                    "mechanism": "Gaussian noisy counts above a threshold (category set)",
                    "touched": f"column {column.name!r}: counts of its values",
                    "rho": rho,
                    "delta": delta,
                    "scale": scale,
                    "threshold": release.threshold,
                    "released": len(categories),
                }
                if not categories:
                    part["warning"] = (
                        f"no value of {column.name!r} is frequent enough to clear the threshold "
                        f"({release.threshold:.0f} rows) at this epsilon: the column comes out "
                        "null; declare its allowed_values in --schema, or give more epsilon"
                    )
                budget.parts.append(part)
            if pd.api.types.is_bool_dtype(series.dtype):
                categories = [
                    bool(v) if not isinstance(v, str) else v.lower() == "true" for v in categories
                ]
            domains.append(
                ColumnDomain(
                    column.name,
                    dtype,
                    "categorical",
                    categories=categories,
                    storage=column.storage.value,
                    nullable=_holds_nulls(column, series),
                )
            )
            continue
        unit, tz, is_text = "ns", None, False
        if kind == "datetime":
            is_text = not pd.api.types.is_datetime64_any_dtype(series.dtype)
            if not is_text:
                unit = str(series.dt.unit)
                if isinstance(series.dtype, pd.DatetimeTZDtype):
                    tz = str(series.dt.tz)
        resolution = _resolution(column, series, kind, unit)
        probe = ColumnDomain(
            column.name,
            dtype,
            kind,
            unit=unit,
            tz=tz,
            text_format=column.datetime_format,
            is_text=is_text,
        )
        low = _as_number(column.minimum, kind, unit)
        high = _as_number(column.maximum, kind, unit)
        floor: float | None = None
        bins = max_bins
        if low is None or high is None:
            values, present = numbers_of(series, probe)
            rho = budget.rho_bounds / len(bounded)
            # released even where no row has a value: whether one does is the data's to hide
            release = dp_bounds(values[present], rho, resolution or 0.0, column_seed, tail)
            found_low, found_high, signal = release.low, release.high, release.signal
            floor = release.floor if low is None and high is None else None
            bins = bins_for(release.rows, marginal_scale, max_bins)
            steps = "power-of-two noisy histograms" + (
                f", {release.refinements} equal-width refinements" if release.refinements else ""
            )
            if release.quantiles:
                steps += f", exponential-mechanism quantiles at {tail:g} and {1 - tail:g}"
            else:
                steps += " (quantiles skipped: their rank error would exceed the tail)"
            low = found_low if low is None else low
            high = found_high if high is None else high
            part = {
                "mechanism": f"{steps} (bounds)",
                "touched": f"column {column.name!r}: its values",
                "rho": rho,
                "low": low,
                "high": high,
                "bins": bins,
            }
            if not signal:
                part["warning"] = (
                    f"too few rows for this epsilon to find {column.name!r}'s range: the "
                    "released bounds are noise; declare its minimum and maximum in --schema, "
                    "or give more epsilon"
                )
            budget.parts.append(part)
        low, high = min(low, high), max(low, high)
        edges, log_scale = _edges(low, high, resolution, bins, floor)
        domains.append(
            ColumnDomain(
                column.name,
                dtype,
                kind,
                edges=[float(e) for e in edges],
                low=low,
                high=high,
                resolution=resolution,
                log_scale=log_scale,
                unit=unit,
                tz=tz,
                text_format=column.datetime_format,
                is_text=is_text,
                storage=column.storage.value,
                nullable=_holds_nulls(column, series),
            )
        )
    return domains


def release_warnings(privacy: dict[str, Any]) -> list[str]:
    """The warnings of a run's domain releases (a category set that found nothing, bounds that
    are noise), from its ``differential_privacy`` summary (the accountant's, as the manifest and
    report.json hold it), in the order they were released."""
    return [
        str(part["warning"])
        for spend in privacy.get("spends", [])
        for part in spend.get("parts", [])
        if part.get("warning")
    ]
