"""Constraint and rule checks over a delivered table, and the repairs that have a unique fix.

``validate_table`` runs every check a :class:`~synthtab.schema.Table` implies (types, NOT NULL,
ranges, allowed values, patterns, uniqueness, the primary key, inequalities, fixed combinations
and business rules) over every row, column-at-a-time. ``repair_table`` applies only the fixes
that are unique and minimal (clip to a range, swap an inverted pair, look a dependent value up);
what is still wrong afterwards is for the validator agent to reject and regenerate.

Nulls only ever violate NOT NULL and the primary key: like SQL CHECK constraints, a check with a
null operand passes.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from synthtab.schema.datetime_parts import part_values, with_parts
from synthtab.schema.model import (
    Column,
    DatetimePart,
    FixedCombination,
    Inequality,
    StorageType,
    Table,
    UniqueKey,
)
from synthtab.schema.rules import (
    RuleNode,
    compile_rule,
    evaluate_rule,
    quote_column,
    referenced_columns,
    repair_rule,
)

__all__ = [
    "CheckResult",
    "RepairAction",
    "ValidationResult",
    "repair_table",
    "validate_rules_against_columns",
    "validate_table",
    "violation_mask",
]


class CheckResult(BaseModel):
    """One constraint or rule checked over every row."""

    name: str
    kind: str  # type | nullability | range | allowed_values | pattern | unique | primary_key | inequality | fixed_combination | rule
    columns: list[str]
    checked_rows: int
    violations: int
    example_rows: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def compliance(self) -> float:
        return 1.0 if self.checked_rows == 0 else 1.0 - self.violations / self.checked_rows


class ValidationResult(BaseModel):
    rows: int
    violating_rows: int
    checks: list[CheckResult]

    @property
    def fully_compliant(self) -> bool:
        return self.violating_rows == 0

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if check.violations > 0]


class RepairAction(BaseModel):
    """One repair applied by :func:`repair_table`."""

    name: str
    kind: str  # range | inequality | fixed_combination | rule
    columns: list[str] = Field(default_factory=list)
    rows_repaired: int


# ---------------------------------------------------------------------------------------------
# typed view of the frame
#
# Checks on values (ranges, inequalities, rules) run on a "typed" copy where text that stands for
# numbers, dates or booleans (as the schema's storage type says) has been converted; values that
# do not convert become null there and are reported by the type check alone.

_TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_TEXT = frozenset({"false", "f", "no", "n", "0"})


def _is_number_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _is_text_like(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)


def _naive(series: pd.Series) -> pd.Series:
    if getattr(series.dt, "tz", None) is not None:
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


def _parse_datetimes(series: pd.Series, fmt: str | None) -> pd.Series:
    """Text to naive datetimes; what cannot be read becomes NaT."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(series, format=fmt or "ISO8601", errors="coerce")
        except (ValueError, TypeError):  # mixed time zones
            parsed = pd.to_datetime(series, format=fmt or "ISO8601", errors="coerce", utc=True)
        if fmt is None:
            # not ISO: let pandas guess per value, but only for the few that failed
            retry = (parsed.isna() & series.notna()).to_numpy()
            if retry.any():
                # guessing is per value and slow: guess each distinct text once
                failed = series[retry].astype(str)
                distinct = pd.Series(failed.unique())
                guesses = pd.to_datetime(distinct, format="mixed", errors="coerce", utc=True)
                lookup = pd.Series(_naive(guesses).to_numpy(), index=distinct.to_numpy())
                parsed = _naive(parsed).astype("datetime64[us]")
                parsed[retry] = lookup.reindex(failed.to_numpy()).to_numpy()
    return _naive(parsed)


def _coerce(series: pd.Series, column: Column) -> tuple[pd.Series, np.ndarray]:
    """(typed values, rows whose value cannot be cast to the column's storage type)."""
    present = series.notna().to_numpy()
    dtype = series.dtype
    no_violations = np.zeros(len(series), dtype=bool)
    storage = column.storage
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    if storage in (StorageType.integer, StorageType.float):
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            return series, no_violations
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return series, present
        numbers = series if _is_number_dtype(dtype) else pd.to_numeric(series, errors="coerce")
        values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = present & np.isnan(values)
            if storage == StorageType.integer:
                integral = np.isfinite(values) & (np.floor(values) == values)
                bad |= present & ~np.isnan(values) & ~integral
        return numbers, bad
    if storage == StorageType.boolean:
        if pd.api.types.is_bool_dtype(dtype):
            return series, no_violations
        if _is_number_dtype(dtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            return series, present & ~np.isin(values, [0.0, 1.0])
        text = series.astype("string").str.strip().str.lower()
        truth = pd.Series(pd.NA, index=series.index, dtype="boolean")
        truth[text.isin(_TRUE_TEXT).to_numpy(dtype=bool, na_value=False)] = True
        truth[text.isin(_FALSE_TEXT).to_numpy(dtype=bool, na_value=False)] = False
        return truth, present & truth.isna().to_numpy()
    if storage == StorageType.datetime:
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return _naive(series), no_violations
        if _is_number_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return series, present
        parsed = _parse_datetimes(series, column.datetime_format)
        return parsed, present & parsed.isna().to_numpy()
    return series, no_violations


def _typed_frame(df: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    typed = df.copy(deep=False)
    type_violations: dict[str, np.ndarray] = {}
    for column in table.columns:
        original = df[column.name]
        values, bad = _coerce(original, column)
        if values is not original:
            typed[column.name] = values
        type_violations[column.name] = bad
    return typed, type_violations


def _require_columns(df: pd.DataFrame, table: Table) -> None:
    missing = [name for name in table.column_names if name not in df.columns]
    if missing:
        raise ValueError(f"table {table.name!r}: the data has no column(s) {missing}")


# ---------------------------------------------------------------------------------------------
# checks


@dataclass(frozen=True)
class _Outcome:
    """A check's verdict per row (positional)."""

    name: str
    kind: str
    columns: list[str]
    violating: np.ndarray


def _naive_stamp(stamp: pd.Timestamp | None) -> pd.Timestamp | None:
    if stamp is None or stamp.tzinfo is None:
        return stamp
    return stamp.tz_convert("UTC").tz_localize(None)


def _range_bounds(column: Column, typed: pd.Series) -> tuple[Any, Any] | None:
    """The column's bounds in the typed values' terms, or None when no range applies."""
    if column.minimum is None and column.maximum is None:
        return None

    def read(bound: float | str | None, as_time: bool) -> Any:
        if bound is None:
            return None
        try:
            return pd.Timestamp(bound) if as_time else float(bound)
        except (ValueError, TypeError):
            raise ValueError(
                f"column {column.name!r}: bound {bound!r} is not a "
                f"{'date' if as_time else 'number'}"
            ) from None

    if pd.api.types.is_datetime64_any_dtype(typed.dtype):
        low, high = read(column.minimum, True), read(column.maximum, True)
        if typed.dt.tz is None:
            # typed datetimes are naive UTC (see _naive): an aware bound is read the same way
            low, high = (_naive_stamp(t) for t in (low, high))
        return low, high
    if _is_number_dtype(typed.dtype):
        return read(column.minimum, False), read(column.maximum, False)
    return None


def _out_of_range(typed: pd.Series, low: Any, high: Any) -> np.ndarray:
    present = typed.notna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(typed.dtype):
        values = _naive(typed).to_numpy()
        low = None if low is None else low.to_datetime64()
        high = None if high is None else high.to_datetime64()
    else:
        values = typed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.zeros(len(typed), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            bad |= values < low
        if high is not None:
            bad |= values > high
    return bad & present


def _as_text(series: pd.Series) -> pd.Series:
    """Values as text the way a mapping key or a pattern sees them (5.0 reads as '5')."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            integral = np.isfinite(values) & (np.floor(values) == values)
        text = series.astype("string")
        whole = pd.Series(values, index=series.index).where(integral).astype("Int64")
        return text.mask(integral, whole.astype("string"))
    return series.astype("string")


def _allowed_violations(series: pd.Series, typed: pd.Series, allowed: list[Any]) -> np.ndarray:
    present = series.notna().to_numpy()
    if _is_number_dtype(typed.dtype):
        numbers = []
        for value in allowed:
            try:
                numbers.append(float(value))
            except (TypeError, ValueError):
                continue
        values = typed.to_numpy(dtype=np.float64, na_value=np.nan)
        member = np.isin(values, numbers)
    elif pd.api.types.is_datetime64_any_dtype(typed.dtype):
        stamps = []
        for value in allowed:
            try:
                stamps.append(pd.Timestamp(value))
            except (TypeError, ValueError):
                continue
        member = typed.isin(stamps).to_numpy()
    elif pd.api.types.is_bool_dtype(typed.dtype):
        words = {str(value).lower() for value in allowed}
        member = typed.astype("string").str.lower().isin(words).to_numpy(dtype=bool, na_value=False)
    else:
        texts = [str(value) for value in allowed]
        member = _as_text(series).isin(texts).to_numpy(dtype=bool, na_value=False)
    return present & ~member


def _pattern_violations(series: pd.Series, column: Column) -> np.ndarray:
    try:
        regex = re.compile(column.pattern or "")
    except re.error as exc:
        raise ValueError(
            f"column {column.name!r}: invalid pattern {column.pattern!r}: {exc}"
        ) from exc
    text = _as_text(series)
    hit = text.str.fullmatch(regex).to_numpy(dtype=bool, na_value=False)
    return series.notna().to_numpy() & ~hit


def _duplicates(frame: pd.DataFrame) -> np.ndarray:
    """Rows that repeat an earlier row's key; keys with a null never collide (as in SQL)."""
    complete = frame.notna().all(axis=1).to_numpy()
    return frame.duplicated(keep="first").to_numpy() & complete


def _column_outcomes(
    df: pd.DataFrame, typed: pd.DataFrame, column: Column, type_bad: np.ndarray
) -> list[_Outcome]:
    name = column.name
    series, values = df[name], typed[name]
    outcomes: list[_Outcome] = []
    if column.storage != StorageType.string:
        outcomes.append(_Outcome(f"type({name})", "type", [name], type_bad))
    if not column.nullable:
        outcomes.append(
            _Outcome(f"not_null({name})", "nullability", [name], series.isna().to_numpy())
        )
    bounds = _range_bounds(column, values)
    if bounds is not None:
        outcomes.append(_Outcome(f"range({name})", "range", [name], _out_of_range(values, *bounds)))
    if column.allowed_values is not None:
        bad = _allowed_violations(series, values, column.allowed_values)
        outcomes.append(_Outcome(f"allowed_values({name})", "allowed_values", [name], bad))
    if column.pattern is not None:
        bad = _pattern_violations(series, column)
        outcomes.append(_Outcome(f"pattern({name})", "pattern", [name], bad))
    if column.unique:
        bad = _duplicates(df[[name]])
        outcomes.append(_Outcome(f"unique({name})", "unique", [name], bad))
    return outcomes


def column_violations(values: pd.Series, column: Column) -> dict[str, np.ndarray]:
    """Which of ``values`` break ``column``'s own checks (type, null, range, allowed values,
    pattern, unique): each broken check's name and its positional mask."""
    frame = pd.DataFrame({column.name: values.reset_index(drop=True)})
    typed, type_bad = _typed_frame(frame, Table(name="values", columns=[column]))
    outcomes = _column_outcomes(frame, typed, column, type_bad[column.name])
    return {o.name: o.violating for o in outcomes if o.violating.any()}


def _inequality_rule(constraint: Inequality, table: Table) -> RuleNode:
    op = "<" if constraint.strict else "<="
    text = f"{quote_column(constraint.low)} {op} {quote_column(constraint.high)}"
    return compile_rule(text, table.column_names, constraint.name, _storage_types(table))


def _storage_types(table: Table) -> dict[str, str]:
    return {c.name: c.storage.value for c in table.columns}


@dataclass(frozen=True)
class _Lookup:
    """A fixed combination resolved per row."""

    applies: np.ndarray  # determinant present
    known: np.ndarray  # determinant value is a key of the mapping
    expected: pd.Series  # the mapped dependent value (object), meaningful where known
    expected_null: np.ndarray  # the mapping says the dependent is null
    matches: np.ndarray  # dependent equals the mapped value


def _mapping_keys_for(determinant: pd.Series, mapping: dict[str, Any]) -> dict[str, Any]:
    if not _is_number_dtype(determinant.dtype):
        return mapping
    # numeric determinants: "5.0" and "5" name the same key
    normalised: dict[str, Any] = {}
    for key, value in mapping.items():
        try:
            number = float(key)
        except ValueError:
            normalised[key] = value
            continue
        text = str(int(number)) if math.isfinite(number) and number.is_integer() else key
        normalised[text] = value
    return normalised


def _lookup(df: pd.DataFrame, constraint: FixedCombination) -> _Lookup:
    determinant, dependent = df[constraint.determinant], df[constraint.dependent]
    mapping = _mapping_keys_for(determinant, constraint.mapping)
    keys = _as_text(determinant)
    applies = determinant.notna().to_numpy()
    known = keys.isin(list(mapping)).to_numpy(dtype=bool, na_value=False) & applies
    null_keys = [k for k, v in mapping.items() if v is None]
    expected_null = keys.isin(null_keys).to_numpy(dtype=bool, na_value=False) & known
    expected = keys.astype(object).map(mapping)
    dependent_present = dependent.notna().to_numpy()
    if _is_number_dtype(dependent.dtype):
        wanted = pd.to_numeric(expected, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        actual = dependent.to_numpy(dtype=np.float64, na_value=np.nan)
        equal = actual == wanted
    else:
        texts = {k: str(v) for k, v in mapping.items() if v is not None}
        wanted_text = keys.astype(object).map(texts).astype("string")
        equal = (_as_text(dependent) == wanted_text).to_numpy(dtype=bool, na_value=False)
    matches = np.where(expected_null, ~dependent_present, dependent_present & equal)
    return _Lookup(applies, known, expected, expected_null, matches)


def _fixed_combination_violations(df: pd.DataFrame, constraint: FixedCombination) -> np.ndarray:
    lookup = _lookup(df, constraint)
    # the mapping is the allowed set: an unseen determinant value violates too
    return lookup.applies & ~(lookup.known & lookup.matches)


def _run_checks(df: pd.DataFrame, table: Table) -> list[_Outcome]:
    _require_columns(df, table)
    typed, type_violations = _typed_frame(df, table)
    outcomes: list[_Outcome] = []
    for column in table.columns:
        outcomes.extend(_column_outcomes(df, typed, column, type_violations[column.name]))
    if table.primary_key:
        key = list(table.primary_key)
        missing = df[key].isna().any(axis=1).to_numpy()
        bad = missing | _duplicates(df[key])
        outcomes.append(_Outcome(f"primary_key({', '.join(key)})", "primary_key", key, bad))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueKey):
            bad = _duplicates(df[list(constraint.columns)])
            outcomes.append(_Outcome(constraint.name, "unique", list(constraint.columns), bad))
        elif isinstance(constraint, Inequality):
            rule = _inequality_rule(constraint, table)
            bad = ~evaluate_rule(rule, typed).to_numpy()
            outcomes.append(_Outcome(constraint.name, "inequality", constraint.columns, bad))
        elif isinstance(constraint, FixedCombination):
            bad = _fixed_combination_violations(df, constraint)
            outcomes.append(_Outcome(constraint.name, "fixed_combination", constraint.columns, bad))
        elif isinstance(constraint, DatetimePart):
            bad = _datetime_part_violations(typed, constraint)
            outcomes.append(_Outcome(constraint.name, "datetime_part", constraint.columns, bad))
    for rule in table.rules:
        node = compile_rule(rule.expression, table.column_names, rule.name, _storage_types(table))
        bad = ~evaluate_rule(node, typed).to_numpy()
        columns = [c for c in table.column_names if c in referenced_columns(node)]
        outcomes.append(_Outcome(rule.name, "rule", columns, bad))
    return outcomes


# ---------------------------------------------------------------------------------------------
# results


def _json_safe(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return number if math.isfinite(number) else str(number)
    if isinstance(value, pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.isoformat()
    if isinstance(value, str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _examples(df: pd.DataFrame, outcome: _Outcome, max_examples: int) -> list[dict[str, Any]]:
    positions = np.flatnonzero(outcome.violating)[:max_examples]
    examples: list[dict[str, Any]] = []
    for position in positions:
        row: dict[str, Any] = {"_row": int(position)}
        for column in outcome.columns:
            row[column] = _json_safe(df[column].iat[position])
        examples.append(row)
    return examples


def validate_table(df: pd.DataFrame, table: Table, max_examples: int = 5) -> ValidationResult:
    """Check every row against every constraint and rule of ``table``.

    Raises ValueError when the data lacks a column of the table, and RuleError for a rule that
    does not compile (see :func:`validate_rules_against_columns` to fail fast).
    """
    outcomes = _run_checks(df, table)
    any_bad = np.zeros(len(df), dtype=bool)
    checks: list[CheckResult] = []
    for outcome in outcomes:
        any_bad |= outcome.violating
        checks.append(
            CheckResult(
                name=outcome.name,
                kind=outcome.kind,
                columns=outcome.columns,
                checked_rows=len(df),
                violations=int(outcome.violating.sum()),
                example_rows=_examples(df, outcome, max_examples),
            )
        )
    return ValidationResult(rows=len(df), violating_rows=int(any_bad.sum()), checks=checks)


def violation_mask(df: pd.DataFrame, table: Table) -> pd.Series:
    """True for each row that violates at least one check."""
    any_bad = np.zeros(len(df), dtype=bool)
    for outcome in _run_checks(df, table):
        any_bad |= outcome.violating
    return pd.Series(any_bad, index=df.index, name="violates")


def violated_columns(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """A boolean frame with ``df``'s index and the table's columns: True where the row breaks a
    check (type, range, null, pattern, unique, key, inequality, fixed combination, rule) that
    involves the column: what a model has to redraw to fix the row, keeping the rest (the
    validator's regenerate path). A row without a True passes every check, so
    ``.any(axis=1)`` equals ``violation_mask``. A broken check that names no column (a rule on
    constants) marks the whole row. Raises ValueError when the data lacks a column of the
    table."""
    names = table.column_names
    position = {name: i for i, name in enumerate(names)}
    involved = np.zeros((len(df), len(names)), dtype=bool)
    for outcome in _run_checks(df, table):
        if not outcome.violating.any():
            continue
        columns = [position[c] for c in outcome.columns if c in position] or list(position.values())
        involved[np.ix_(outcome.violating, columns)] = True
    return pd.DataFrame(involved, index=df.index, columns=names)


def validate_rules_against_columns(table: Table) -> None:
    """Raise the RuleError of the first rule (or inequality) that does not compile."""
    for rule in table.rules:
        compile_rule(rule.expression, table.column_names, rule.name, _storage_types(table))
    for constraint in table.constraints:
        if isinstance(constraint, Inequality):
            _inequality_rule(constraint, table)


# ---------------------------------------------------------------------------------------------
# repair


def _format_like(values: pd.Series, column: Column) -> pd.Series:
    """Typed values written back in the text form of a column held as text."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if column.datetime_format:
            return values.dt.strftime(column.datetime_format)
        midnight = (values == values.dt.normalize()).all()
        return values.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    if column.storage == StorageType.integer:
        return values.astype("Int64").astype("string")
    return _as_text(values)


def _write_back(out: pd.DataFrame, column: Column, rows: np.ndarray, new_typed: pd.Series) -> None:
    """Store repaired typed values in ``out`` in the column's own representation."""
    name = column.name
    current = out[name]
    replacement = new_typed[rows]
    zone = current.dt.tz if pd.api.types.is_datetime64_any_dtype(current.dtype) else None
    if zone is not None and replacement.dt.tz is None:
        # typed datetimes are naive UTC (see _naive); the column keeps its zone and unit
        aware = replacement.dt.tz_localize("UTC").dt.tz_convert(zone).astype(current.dtype)
        values = current.copy()
        values[rows] = aware
        out[name] = values
        return
    if current.dtype != new_typed.dtype and _is_text_like(current.dtype):
        replacement = _format_like(replacement, column)
    out.loc[rows, name] = replacement.to_numpy()


def _changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    same = (before == after).to_numpy(dtype=bool, na_value=False)
    both_null = before.isna().to_numpy() & after.isna().to_numpy()
    return ~(same | both_null)


def _repair_ranges(out: pd.DataFrame, table: Table) -> list[RepairAction]:
    actions: list[RepairAction] = []
    typed, _ = _typed_frame(out, table)
    for column in table.columns:
        values = typed[column.name]
        bounds = _range_bounds(column, values)
        if bounds is None:
            continue
        low, high = bounds
        rows = _out_of_range(values, low, high)
        if not rows.any():
            continue
        if pd.api.types.is_integer_dtype(values.dtype) or column.storage == StorageType.integer:
            # the nearest integer inside the range; none when the range holds no integer
            low = None if low is None else math.ceil(low)
            high = None if high is None else math.floor(high)
            if low is not None and high is not None and low > high:
                continue
        clipped = values.clip(lower=low, upper=high)
        try:
            _write_back(out, column, rows, clipped)
        except (TypeError, ValueError):
            continue
        actions.append(
            RepairAction(
                name=f"range({column.name})",
                kind="range",
                columns=[column.name],
                rows_repaired=int(rows.sum()),
            )
        )
    return actions


def _repair_inequality(
    out: pd.DataFrame, table: Table, constraint: Inequality
) -> RepairAction | None:
    typed, _ = _typed_frame(out, table)
    rule = _inequality_rule(constraint, table)
    # equal values under a strict inequality cannot be fixed by swapping
    low, high = constraint.low, constraint.high
    inverted = f"{quote_column(low)} > {quote_column(high)}"
    fixable = compile_rule(inverted, table.column_names, constraint.name, _storage_types(table))
    rows = ~evaluate_rule(rule, typed).to_numpy() & evaluate_rule(fixable, typed).to_numpy()
    rows &= typed[low].notna().to_numpy() & typed[high].notna().to_numpy()
    if not rows.any():
        return None
    first = out.loc[rows, low].array.copy()
    second = out.loc[rows, high].array.copy()
    trial = out.copy()
    try:
        trial.loc[rows, low] = second
        trial.loc[rows, high] = first
    except (TypeError, ValueError):
        return None
    out[low], out[high] = trial[low], trial[high]
    return RepairAction(
        name=constraint.name, kind="inequality", columns=[low, high], rows_repaired=int(rows.sum())
    )


def _datetime_part_violations(typed: pd.DataFrame, constraint: DatetimePart) -> np.ndarray:
    stamps = typed[constraint.datetime]
    if not pd.api.types.is_datetime64_any_dtype(stamps.dtype):
        return np.zeros(len(typed), dtype=bool)  # unreadable datetimes are the type check's
    parts = part_values(stamps, constraint.part, constraint.timezone).to_numpy()
    given = pd.to_numeric(typed[constraint.column], errors="coerce")
    values = given.to_numpy(dtype=np.float64, na_value=np.nan)
    return ~np.isnan(parts) & ~np.isnan(values) & (parts != values)


def _repair_datetime_parts(
    out: pd.DataFrame, table: Table, held: pd.DataFrame | None
) -> list[RepairAction]:
    """Rows whose part columns disagree with their datetime. The datetime is rebuilt from its
    parts where that makes a valid time and the datetime is not held (the model learns a column
    like the hour of day more finely than a datetime's bins); else each part is read from the
    datetime."""
    groups: dict[tuple[str, str | None], list[DatetimePart]] = {}
    for constraint in table.constraints:
        if isinstance(constraint, DatetimePart):
            groups.setdefault((constraint.datetime, constraint.timezone), []).append(constraint)
    actions: list[RepairAction] = []
    for (name, zone), group in groups.items():
        typed, _ = _typed_frame(out, table)
        bad = np.zeros(len(out), dtype=bool)
        for constraint in group:
            bad |= _datetime_part_violations(typed, constraint)
        if not bad.any():
            continue
        stamps = typed[name]
        fixed_time = np.zeros(len(out), dtype=bool)
        if held is not None and name in held.columns:
            fixed_time = held[name].to_numpy(dtype=bool)
        parts = {c.part: typed[c.column] for c in group}
        rebuilt = with_parts(stamps, parts, zone)
        moved = bad & ~fixed_time & rebuilt.notna().to_numpy()
        bounds = _range_bounds(table.column(name), rebuilt)
        if bounds is not None:
            moved &= ~_out_of_range(rebuilt, *bounds)
        if moved.any():
            _write_back(out, table.column(name), moved, rebuilt)
            actions.append(
                RepairAction(
                    name=f"{name} from {', '.join(c.column for c in group)}",
                    kind="datetime_part",
                    columns=[name],
                    rows_repaired=int(moved.sum()),
                )
            )
        stamps = _typed_frame(out, table)[0][name]
        for constraint in group:
            typed, _ = _typed_frame(out, table)
            rows = _datetime_part_violations(typed, constraint)
            if not rows.any():
                continue
            read = part_values(stamps, constraint.part, zone)[rows]
            column = out[constraint.column].copy()
            whole = pd.api.types.is_integer_dtype(column.dtype)
            try:
                column.loc[rows] = read.to_numpy(dtype="int64" if whole else None)
            except (TypeError, ValueError):
                continue
            out[constraint.column] = column
            actions.append(
                RepairAction(
                    name=constraint.name,
                    kind="datetime_part",
                    columns=[constraint.column],
                    rows_repaired=int(rows.sum()),
                )
            )
    return actions


def _repair_fixed_combination(
    out: pd.DataFrame, constraint: FixedCombination
) -> RepairAction | None:
    lookup = _lookup(out, constraint)
    rows = lookup.applies & lookup.known & ~lookup.matches
    if not rows.any():
        return None
    dependent = constraint.dependent
    values = lookup.expected[rows]
    if _is_number_dtype(out[dependent].dtype):
        values = pd.to_numeric(values, errors="coerce")
    column = out[dependent].copy()
    try:
        column.loc[rows] = values.to_numpy()
    except (TypeError, ValueError):
        return None
    out[dependent] = column
    return RepairAction(
        name=constraint.name,
        kind="fixed_combination",
        columns=[dependent],
        rows_repaired=int(rows.sum()),
    )


def _repair_rule(
    out: pd.DataFrame, table: Table, rule_name: str, node: RuleNode
) -> RepairAction | None:
    typed, _ = _typed_frame(out, table)
    failing = ~evaluate_rule(node, typed).to_numpy()
    if not failing.any():
        return None
    repaired = repair_rule(node, typed, failing)
    if repaired is None:
        return None
    touched = np.zeros(len(out), dtype=bool)
    for name in referenced_columns(node):
        rows = _changed(typed[name], repaired[name])
        if not rows.any():
            continue
        try:
            _write_back(out, table.column(name), rows, repaired[name])
        except (TypeError, ValueError):
            return None
        touched |= rows
    if not touched.any():
        return None
    columns = [c for c in table.column_names if c in referenced_columns(node)]
    return RepairAction(
        name=rule_name, kind="rule", columns=columns, rows_repaired=int(touched.sum())
    )


def repair_table(
    df: pd.DataFrame, table: Table, held: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[RepairAction]]:
    """Apply the repairs that have a unique minimal fix; return a new frame and what was done.

    Inverted inequalities are swapped, fixed-combination dependents looked up, rule repairs
    applied (see :func:`synthtab.schema.rules.repair_rule`), then values clipped into column
    ranges. Each repair touches only rows that violate the check it serves. Callers re-validate:
    what remains wrong has no unique fix and is for the validator to regenerate.

    ``held`` (a boolean frame with ``df``'s index and some of its columns): cells a repair must
    not change (values the user fixed). A repair that would change one is undone on that row,
    which stays broken for the validator to redraw around the held values.
    """
    _require_columns(df, table)
    out = df.copy()
    actions: list[RepairAction] = []

    def apply(repair: Callable[[], list[RepairAction]]) -> None:
        before = out.copy() if held is not None else None
        done = repair()
        if before is not None and held is not None:
            done = _undo_on_held_cells(out, before, held, done)
        actions.extend(done)

    apply(lambda: _repair_datetime_parts(out, table, held))
    for constraint in table.constraints:
        if isinstance(constraint, Inequality):
            apply(lambda c=constraint: _listed(_repair_inequality(out, table, c)))
        elif isinstance(constraint, FixedCombination):
            apply(lambda c=constraint: _listed(_repair_fixed_combination(out, c)))
    for rule in table.rules:
        node = compile_rule(rule.expression, table.column_names, rule.name, _storage_types(table))
        apply(lambda name=rule.name, n=node: _listed(_repair_rule(out, table, name, n)))
    apply(lambda: _repair_ranges(out, table))
    return out, actions


def _listed(action: RepairAction | None) -> list[RepairAction]:
    return [] if action is None else [action]


def _undo_on_held_cells(
    out: pd.DataFrame, before: pd.DataFrame, held: pd.DataFrame, done: list[RepairAction]
) -> list[RepairAction]:
    """Rows where ``done`` changed a held cell are put back as they were before it; the repairs
    count only the rows they still change."""
    touched = np.zeros(len(out), dtype=bool)
    for name in held.columns:
        if name not in out.columns:
            continue
        touched |= _changed(before[name], out[name]) & held[name].to_numpy(dtype=bool)
    if not touched.any():
        return done
    for name in out.columns:
        column = out[name].copy()
        column[touched] = before[name][touched]
        out[name] = column
    kept: list[RepairAction] = []
    for action in done:
        changed = np.zeros(len(out), dtype=bool)
        for name in action.columns:
            if name in out.columns:
                changed |= _changed(before[name], out[name])
        if changed.any():
            kept.append(action.model_copy(update={"rows_repaired": int(changed.sum())}))
    return kept
