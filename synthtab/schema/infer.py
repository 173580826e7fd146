"""Schema inference: what a table is, read from its data, merged with what the user declared.

``infer_table`` profiles every column (storage, meaning, nulls, bounds, levels, formats), finds
the constraints the data obeys in every row (inequalities between columns, one column fixed by
another), and then lets the user's declaration win field by field (``merge_declaration``).

Every inferred item carries evidence strings that say why it was inferred, so a report (or a
user reading ``schema.yaml``) can judge each decision and override it.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthtab.schema.datetime_parts import PARTS, part_values
from synthtab.schema.model import (
    Column,
    ColumnDeclaration,
    Constraint,
    DatetimePart,
    FixedCombination,
    Inequality,
    Scalar,
    SemanticType,
    StorageType,
    Table,
    TableDeclaration,
)

__all__ = ["InferenceOptions", "infer_table", "merge_declaration"]


class InferenceOptions(BaseModel):
    """Thresholds of schema inference; the defaults suit tables of a few rows to millions."""

    model_config = ConfigDict(extra="forbid")

    max_categorical_int_levels: int = Field(
        default=20,
        ge=2,
        description="an integer column with at most this many distinct values may be a category",
    )
    min_rows_per_int_level: float = Field(
        default=5.0,
        ge=1.0,
        description="an integer column is a category only if each level is seen this often on"
        " average (else a small sample of a measure would look categorical)",
    )
    max_categorical_string_levels: int = Field(
        default=1000, ge=1, description="a string column with more distinct values is text"
    )
    max_categorical_string_ratio: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="a string column is categorical when distinct / non-null values is at most this",
    )
    always_categorical_string_levels: int = Field(
        default=10,
        ge=1,
        description="a string column with this few distinct values is categorical whatever the ratio",
    )
    max_allowed_values: int = Field(
        default=50, ge=1, description="categoricals with at most this many levels list them"
    )
    id_min_unique_ratio: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="share of distinct values among non-null values an id column needs",
    )
    id_max_span_ratio: float = Field(
        default=2.0,
        ge=1.0,
        description="an unnamed integer id must be consecutive-ish: (max - min + 1) <= ratio * rows",
    )
    min_rows_for_unnamed_id: int = Field(
        default=20, ge=1, description="rows needed before a consecutive integer is taken for an id"
    )
    max_unnamed_string_id_length: int = Field(
        default=24,
        ge=1,
        description="unique strings without spaces up to this long are ids even without an id name"
        " (tail numbers, airport codes), given min_rows_for_unnamed_id rows",
    )
    min_rows_for_unique: int = Field(
        default=50,
        ge=1,
        description="rows needed before all-distinct values of a string column mark it unique",
    )
    semantic_pattern_min_fraction: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description="share of values that must match the email / phone / url / postal regex",
    )
    named_pattern_min_fraction: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="the same share, for a column whose name says what it holds (email, url)",
    )
    datetime_min_parse_fraction: float = Field(
        default=0.99, gt=0.0, le=1.0, description="share of string values that must parse as dates"
    )
    text_min_mean_length: float = Field(
        default=30.0,
        ge=0.0,
        description="mean length above which high-cardinality strings are prose",
    )
    max_decimals: int = Field(default=10, ge=0)
    discover_constraints: bool = True
    sample_rows: int = Field(
        default=50_000,
        ge=100,
        description="rows sampled to discover pairwise constraints (each is then verified on all rows)",
    )
    max_candidate_pairs: int = Field(
        default=250_000,
        ge=1,
        description="cap on the column pairs considered for inequalities, against quadratic blow-up",
    )
    min_rows_for_constraint: int = Field(
        default=10, ge=1, description="rows where both columns are present needed to trust a pair"
    )
    min_expected_violations_if_independent: float = Field(
        default=3.0,
        ge=0.0,
        description="an inequality is kept only if, were the columns independent, about this many"
        " rows would break it (or ln(pairs tried), if more): otherwise the marginals alone imply"
        " it, or it holds by luck",
    )
    max_determinant_levels: int = Field(
        default=1000, ge=2, description="most distinct values a fixed-combination determinant has"
    )
    min_rows_per_determinant_value: float = Field(
        default=3.0,
        ge=1.0,
        description="each determinant value must be seen this often on average (not coincidence)",
    )
    random_state: int = 0


def infer_table(
    df: pd.DataFrame,
    name: str,
    declaration: TableDeclaration | None = None,
    options: InferenceOptions | None = None,
) -> Table:
    """Infer the schema of one table from its data, then let ``declaration`` win field by field.

    Raises ``ValueError`` naming the table when the frame has no rows or no columns, has
    duplicated column names, or the declaration names a column the data lacks.
    """
    opts = options or InferenceOptions()
    if df.shape[1] == 0:
        raise ValueError(f"table {name!r}: the data has no columns, so there is nothing to infer")
    if len(df) == 0:
        raise ValueError(
            f"table {name!r}: the data has 0 rows; schema inference needs at least one row "
            "(declare the schema instead for a table without data)"
        )
    column_names = [str(c) for c in df.columns]
    duplicated = sorted({c for c in column_names if column_names.count(c) > 1})
    if duplicated:
        raise ValueError(f"table {name!r}: duplicated column names {duplicated}")
    declared_columns = _declared_columns_by_name(name, column_names, declaration)

    profiles: list[_Profile] = []
    for position, column_name in enumerate(column_names):
        declared = declared_columns.get(column_name)
        profiles.append(
            _profile_column(
                df.iloc[:, position],
                column_name,
                opts,
                declared_semantic=declared.semantic if declared else None,
            )
        )

    primary_key: list[str] | None = None
    for profile in profiles:
        if profile.column.semantic == SemanticType.id:
            primary_key = [profile.column.name]
            profile.column.evidence.append("first id column → primary key")
            break

    constraints: list[Constraint] = []
    if opts.discover_constraints and len(df) > 1:
        sample_positions = _sample_positions(len(df), opts)
        constraints.extend(_discover_inequalities(profiles, sample_positions, opts))
        constraints.extend(_discover_fixed_combinations(profiles, sample_positions, opts))
        constraints.extend(_discover_datetime_parts(profiles))

    inferred = Table(
        name=name,
        columns=[p.column for p in profiles],
        primary_key=primary_key,
        constraints=constraints,
        row_count=len(df),
    )
    if declaration is None:
        return inferred
    return merge_declaration(inferred, _with_data_evidence(declaration, profiles))


def merge_declaration(inferred: Table, declaration: TableDeclaration) -> Table:
    """Overlay what the user declared on what was inferred; declared beats inferred.

    Columns merge field by field (a field the declaration sets, even to null, wins; fields that
    no longer apply once the declared meaning changes are cleared). Declared constraints and
    rules are added with ``source="declared"``; an inferred constraint on the same columns as a
    declared one of the same kind, or an inequality on a column declared non-comparable, is
    dropped. A declared name of a column the data lacks raises ``ValueError``.
    """
    table_name = inferred.name
    declared_columns = _declared_columns_by_name(table_name, inferred.column_names, declaration)
    _check_declared_references(table_name, inferred.column_names, declaration)

    columns = [
        _merge_column(column, declared_columns[column.name])
        if column.name in declared_columns
        else column
        for column in inferred.columns
    ]
    primary_key = inferred.primary_key
    if declaration.primary_key is not None:
        primary_key = declaration.primary_key or None
        columns = [_as_primary_key_member(c, declaration, inferred.primary_key) for c in columns]

    by_name = {c.name: c for c in columns}
    declared_constraints = [_as_declared(c) for c in declaration.constraints]
    kept_inferred: list[Constraint] = []
    for constraint in inferred.constraints:
        superseding = _superseding_declared(constraint, declared_constraints)
        if superseding is not None:
            superseding.evidence.append(f"supersedes the inferred constraint {constraint.name}")
            continue
        if isinstance(constraint, Inequality) and not all(
            by_name[c].semantic in _ORDERED_SEMANTICS for c in constraint.columns
        ):
            continue
        kept_inferred.append(constraint)

    declared_rule_names = {r.name for r in declaration.rules}
    rules = [r for r in inferred.rules if r.name not in declared_rule_names]
    rules.extend(r.model_copy(update={"source": "declared"}) for r in declaration.rules)

    foreign_keys = list(declaration.foreign_keys)
    foreign_keys.extend(fk for fk in inferred.foreign_keys if fk not in foreign_keys)

    return Table(
        name=declaration.name or inferred.name,
        columns=columns,
        primary_key=primary_key,
        constraints=[*declared_constraints, *kept_inferred],
        rules=rules,
        foreign_keys=foreign_keys,
        row_count=declaration.row_count
        if declaration.row_count is not None
        else inferred.row_count,
    )


# --------------------------------------------------------------------------------------------
# declarations


_ORDERED_SEMANTICS = frozenset({SemanticType.numeric, SemanticType.datetime})
# Column fields a declaration may set to a value; bookkeeping fields are excluded because they
# describe the source data (null_fraction) or provenance (source, evidence), not the user's intent.
_MERGEABLE_FIELDS = (
    "storage",
    "semantic",
    "nullable",
    "unique",
    "minimum",
    "maximum",
    "allowed_values",
    "pattern",
    "datetime_format",
    "decimals",
    "description",
    "examples",
    "fake",
    "prior",
)
_NOT_NULL_FIELDS = frozenset({"storage", "semantic", "nullable", "unique"})


def _declared_columns_by_name(
    table_name: str, data_columns: list[str], declaration: TableDeclaration | None
) -> dict[str, ColumnDeclaration]:
    if declaration is None:
        return {}
    names = [c.name for c in declaration.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"table {table_name!r}: the declaration lists columns {twice} twice")
    unknown = [n for n in names if n not in set(data_columns)]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(
            f"table {table_name!r}: declared column{plural} {listed} not in the data "
            f"(the data has columns {data_columns})"
        )
    return {c.name: c for c in declaration.columns}


def _check_declared_references(
    table_name: str, data_columns: list[str], declaration: TableDeclaration
) -> None:
    known = set(data_columns)
    for key in declaration.primary_key or []:
        if key not in known:
            raise ValueError(
                f"table {table_name!r}: declared primary key column {key!r} is not in the data"
            )
    for constraint in declaration.constraints:
        for column in constraint.columns:
            if column not in known:
                raise ValueError(
                    f"table {table_name!r}: declared constraint {constraint.name!r} names column "
                    f"{column!r}, which is not in the data"
                )


def _merge_column(inferred: Column, declared: ColumnDeclaration) -> Column:
    overrides: dict[str, Any] = {}
    for field in _MERGEABLE_FIELDS:
        if field not in declared.model_fields_set:
            continue
        value = getattr(declared, field)
        if value is None and field in _NOT_NULL_FIELDS:
            continue
        overrides[field] = value
    if not overrides:
        return inferred

    semantic = overrides.get("semantic", inferred.semantic)
    if semantic != inferred.semantic:
        # a declared meaning makes inferred details of the old meaning wrong, unless declared too
        stale: list[str] = []
        if semantic not in {
            SemanticType.categorical,
            SemanticType.boolean,
            SemanticType.constant,
        }:
            stale.append("allowed_values")
        if semantic not in _ORDERED_SEMANTICS:
            stale.extend(["minimum", "maximum"])
        if semantic != SemanticType.datetime:
            stale.append("datetime_format")
        for field in stale:
            overrides.setdefault(field, None)

    said = ", ".join(
        f"{field}={_describe(overrides[field])}"
        for field in _MERGEABLE_FIELDS
        if field in overrides and field in declared.model_fields_set
    )
    evidence = [*inferred.evidence, f"declared by the user: {said}"]
    return inferred.model_copy(update={**overrides, "source": "declared", "evidence": evidence})


def _as_primary_key_member(
    column: Column, declaration: TableDeclaration, inferred_key: list[str] | None
) -> Column:
    key = declaration.primary_key or []
    if column.name not in key:
        if column.name in (inferred_key or []):
            note = f"the user declared the primary key {key} instead"
            return column.model_copy(update={"evidence": [*column.evidence, note]})
        return column
    declared = next((c for c in declaration.columns if c.name == column.name), None)
    declared_fields = declared.model_fields_set if declared else set()
    update: dict[str, Any] = {}
    if "nullable" not in declared_fields and column.nullable:
        update["nullable"] = False
    if len(key) == 1 and "unique" not in declared_fields and not column.unique:
        update["unique"] = True
    if not update:
        return column
    evidence = [*column.evidence, "declared primary key → " + ", ".join(_describe_update(update))]
    return column.model_copy(update={**update, "evidence": evidence})


def _as_declared(constraint: Constraint) -> Constraint:
    return constraint.model_copy(
        update={"source": "declared", "evidence": list(constraint.evidence)}, deep=True
    )


def _superseding_declared(inferred: Constraint, declared: list[Constraint]) -> Constraint | None:
    for candidate in declared:
        if candidate.kind == inferred.kind and set(candidate.columns) == set(inferred.columns):
            return candidate
    return None


def _with_data_evidence(
    declaration: TableDeclaration, profiles: list[_Profile]
) -> TableDeclaration:
    """Tell the user how far each declared pairwise constraint holds in the data."""
    by_name = {p.column.name: p for p in profiles}
    constraints: list[Constraint] = []
    for constraint in declaration.constraints:
        line: str | None = None
        if all(c in by_name for c in constraint.columns):
            if isinstance(constraint, Inequality):
                line = _inequality_holds_line(
                    by_name[constraint.low], by_name[constraint.high], constraint.strict
                )
            elif isinstance(constraint, FixedCombination):
                line = _fixed_combination_holds_line(
                    by_name[constraint.determinant], by_name[constraint.dependent]
                )
        if line is None:
            constraints.append(constraint)
        else:
            evidence = [*constraint.evidence, f"declared; in the data {line}"]
            constraints.append(constraint.model_copy(update={"evidence": evidence}))
    return declaration.model_copy(update={"constraints": constraints})


def _inequality_holds_line(low: _Profile, high: _Profile, strict: bool) -> str | None:
    low_series, high_series = low.comparable(), high.comparable()
    if low_series is None or high_series is None:
        return None
    if low.column.is_datetime != high.column.is_datetime:
        return None
    low_values, high_values = _as_float_array(low_series), _as_float_array(high_series)
    both = ~np.isnan(low_values) & ~np.isnan(high_values)
    ok = (low_values < high_values) if strict else (low_values <= high_values)
    held = int(np.count_nonzero(ok & both))
    return f"holds in {held:,}/{int(both.sum()):,} rows where both present"


def _fixed_combination_holds_line(determinant: _Profile, dependent: _Profile) -> str:
    frame = pd.DataFrame({"d": determinant.values, "e": dependent.values.astype(object)})
    frame = frame[frame["d"].notna()]
    if frame.empty:
        return f"{determinant.column.name} is never present"
    # rows whose determinant value shows its most common dependent value (null counts as one)
    outcome = frame["e"].where(frame["e"].notna(), "\0null")
    modal = outcome.groupby(frame["d"], sort=False).agg(lambda s: s.value_counts().iloc[0])
    name = determinant.column.name
    return f"holds in {int(modal.sum()):,}/{len(frame):,} rows where {name} is present"


# --------------------------------------------------------------------------------------------
# column profiles


@dataclass
class _Profile:
    """A column as inferred, with the typed values the pairwise discovery works on."""

    column: Column
    values: pd.Series
    parsed_datetimes: pd.Series | None = None

    def comparable(self) -> pd.Series | None:
        """Values in an order-comparable form (numbers, or datetimes), or None."""
        if self.column.semantic == SemanticType.datetime:
            return self.parsed_datetimes
        if self.column.semantic == SemanticType.numeric and self.column.storage in {
            StorageType.integer,
            StorageType.float,
        }:
            return self.values
        return None


_ID_NAME_TOKENS = frozenset({"id", "key", "code", "uuid", "guid", "identifier"})
# "num" is left out: it names codes as often as counts (adult's educational-num)
_COUNT_NAME_TOKENS = frozenset({"count", "cnt", "qty", "quantity", "nb", "n"})
_EMAIL_NAME_TOKENS = frozenset({"email", "mail"})
_PHONE_NAME_TOKENS = frozenset({"phone", "tel", "telephone", "mobile", "cell", "fax"})
_POSTAL_NAME_TOKENS = frozenset({"zip", "zipcode", "postal", "postcode", "postalcode"})
_URL_NAME_TOKENS = frozenset({"url", "website", "link", "homepage", "uri"})

EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
URL_PATTERN = r"^(?:https?|ftp)://[^\s/$.?#][^\s]*$|^www\.[^\s]+\.[^\s]+$"
PHONE_PATTERN = r"^\+?[0-9 ().-]{7,24}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# postal codes distinctive enough to be recognised without a telling column name
POSTAL_PATTERNS_BY_SHAPE = {
    "US ZIP+4": r"^[0-9]{5}-[0-9]{4}$",
    "UK postcode": r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$",
    "Canadian postal code": r"^[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]$",
}
GENERIC_POSTAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 -]{1,8}[A-Za-z0-9]$"

# the order matters where a value fits several: the first listed wins ties
DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d, %Y",
)
# cheap test that a string may be a date at all, so most columns never try the formats
_DATE_LIKE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2} [A-Za-z]{3,9}\.? \d{4}|[A-Za-z]{3,9}\.? \d{1,2}, \d{4}"
)
_SHAPE_TABLE = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "A" * 26 + "a" * 26 + "9" * 10,
)
_SHAPE_CLASS = {"A": "[A-Z]", "a": "[a-z]", "9": "[0-9]"}


def _profile_column(
    raw: pd.Series, name: str, opts: InferenceOptions, declared_semantic: SemanticType | None
) -> _Profile:
    values, storage, evidence = _normalise(raw)
    rows = len(values)
    non_null = values.dropna()
    present = len(non_null)
    null_count = rows - present
    null_fraction = null_count / rows
    if null_count:
        evidence.append(f"null in {_percent(null_fraction)} of rows ({null_count:,}/{rows:,})")
    else:
        evidence.append(f"no nulls in {rows:,} rows")
    base: dict[str, Any] = {
        "name": name,
        "storage": storage,
        "nullable": null_count > 0,
        "null_fraction": round(null_fraction, 6),
    }

    if present == 0:
        semantic = declared_semantic or SemanticType.empty
        evidence.append(f"all {rows:,} values are null → empty")
        column = Column(**base, semantic=semantic, evidence=evidence)
        return _Profile(column=column, values=values)

    counts = non_null.value_counts(sort=True, dropna=True)
    distinct = len(counts)
    all_distinct = distinct == present
    facts = _Facts(name=name, storage=storage, counts=counts, present=present, rows=rows)
    date = _detect_date_strings(facts, opts) if storage == StorageType.string else None

    if declared_semantic is not None:
        semantic = declared_semantic
        evidence.append(f"semantic {semantic.value} declared: the details below follow from it")
    else:
        semantic, reasons = _decide_semantic(facts, date, opts)
        evidence.extend(reasons)

    fields: dict[str, Any] = {}
    parsed: pd.Series | None = None
    if storage == StorageType.datetime:
        parsed = values
    elif date is not None and semantic == SemanticType.datetime:
        parsed = _parse_dates(values, date.fmt)
        fields["datetime_format"] = date.fmt if date.fmt != "ISO8601" else None

    if storage in {StorageType.integer, StorageType.float}:
        fields["decimals"] = _decimals(counts.index, opts.max_decimals) if storage == "float" else 0
        if storage == StorageType.float and fields["decimals"] == 0 and null_count:
            evidence.append("all values are whole numbers; stays float to keep its nulls")

    if semantic == SemanticType.numeric and storage in {StorageType.integer, StorageType.float}:
        finite = counts.index.to_numpy(dtype="float64")
        finite = finite[np.isfinite(finite)]
        if finite.size:
            low, high = _json_scalar(finite.min()), _json_scalar(finite.max())
            fields["minimum"], fields["maximum"] = float(low), float(high)
    elif semantic == SemanticType.datetime and parsed is not None:
        valid = parsed.dropna()
        if len(valid):
            fields["minimum"] = pd.Timestamp(valid.min()).isoformat()
            fields["maximum"] = pd.Timestamp(valid.max()).isoformat()

    if (
        semantic in {SemanticType.categorical, SemanticType.boolean, SemanticType.constant}
        and distinct <= opts.max_allowed_values
    ):
        fields["allowed_values"] = sorted(_json_scalar(v) for v in counts.index)

    unique = all_distinct and (
        semantic == SemanticType.id
        or (
            storage == StorageType.string
            and semantic
            in {
                SemanticType.email,
                SemanticType.phone,
                SemanticType.url,
                SemanticType.text,
            }
            and present >= opts.min_rows_for_unique
        )
    )
    if all_distinct and present > 1 and not unique:
        evidence.append(
            f"all {present:,} values are distinct, not enforced as unique ({semantic.value})"
        )

    if storage == StorageType.string and semantic != SemanticType.datetime:
        # (a date's shape is its datetime_format; a shape would pin constant digits like a year)
        pattern, why = _string_pattern(counts, semantic, opts)
        if pattern is not None:
            fields["pattern"] = pattern
            evidence.append(why)

    column = Column(**base, semantic=semantic, unique=unique, evidence=evidence, **fields)
    return _Profile(column=column, values=values, parsed_datetimes=parsed)


@dataclass(frozen=True)
class _Facts:
    """What the semantic decision looks at."""

    name: str
    storage: StorageType
    counts: pd.Series  # distinct non-null value -> rows, most frequent first
    present: int
    rows: int

    @property
    def distinct(self) -> int:
        return len(self.counts)

    @property
    def tokens(self) -> set[str]:
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", self.name)
        return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}

    def named_like(self, vocabulary: frozenset[str]) -> bool:
        return bool(self.tokens & vocabulary)


@dataclass(frozen=True)
class _DateDetection:
    fmt: str  # strftime format, or "ISO8601" for ISO strings of varying precision
    fraction: float
    note: str


def _normalise(raw: pd.Series) -> tuple[pd.Series, StorageType, list[str]]:
    """Give a column one storage type and values of that type (nulls as NA/NaN/NaT)."""
    dtype = raw.dtype
    described = str(dtype)
    series = raw.reset_index(drop=True)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object).where(series.notna(), None)
        values, storage, evidence = _normalise(series)
        return values, storage, [f"categorical dtype over {evidence[0]}"]
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("boolean"), StorageType.boolean, [f"{described} dtype → boolean"]
    if pd.api.types.is_integer_dtype(dtype):
        return series, StorageType.integer, [f"{described} dtype → integer"]
    if pd.api.types.is_float_dtype(dtype):
        return series, StorageType.float, [f"{described} dtype → float"]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return series, StorageType.datetime, [f"{described} dtype → datetime"]
    if isinstance(dtype, pd.StringDtype):
        return series.astype("string"), StorageType.string, [f"{described} dtype → string"]
    if not pd.api.types.is_object_dtype(dtype):
        # timedeltas, periods, intervals...: kept as their text, which round-trips
        return _as_text(series), StorageType.string, [f"{described} dtype → stored as text"]

    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "empty":
        return series.astype("string"), StorageType.string, ["object column, all null → string"]
    if kind == "boolean":
        return (
            series.astype("boolean"),
            StorageType.boolean,
            ["object column of booleans → boolean"],
        )
    if kind == "integer":
        return series.astype("Int64"), StorageType.integer, ["object column of integers → integer"]
    if kind in {"floating", "mixed-integer-float", "decimal"}:
        numbers = pd.to_numeric(series, errors="coerce").astype("float64")
        return numbers, StorageType.float, [f"object column of numbers ({kind}) → float"]
    if kind in {"datetime", "datetime64", "date"}:
        try:
            stamps = pd.to_datetime(series, errors="raise")
        except (TypeError, ValueError):
            stamps = None
        if stamps is not None:
            return stamps, StorageType.datetime, [f"object column of {kind} values → datetime"]
    if kind == "string":
        return series.astype("string"), StorageType.string, ["object column of strings → string"]
    types = sorted({type(v).__name__ for v in series.dropna().head(10_000)})
    return (
        _as_text(series),
        StorageType.string,
        [f"object column with mixed value types ({', '.join(types)}) → stored as text"],
    )


def _as_text(series: pd.Series) -> pd.Series:
    present = series.notna()
    text = pd.Series(pd.NA, index=series.index, dtype="string")
    text[present] = series[present].map(str).astype("string")
    return text


def _decide_semantic(
    facts: _Facts, date: _DateDetection | None, opts: InferenceOptions
) -> tuple[SemanticType, list[str]]:
    if facts.distinct == 1:
        value = _json_scalar(facts.counts.index[0])
        return SemanticType.constant, [f"one distinct value ({value!r}) → constant"]
    if facts.storage == StorageType.boolean:
        return SemanticType.boolean, ["two boolean values → boolean"]
    if facts.storage == StorageType.datetime:
        return SemanticType.datetime, ["datetime values → datetime"]
    if facts.storage == StorageType.integer:
        return _decide_integer(facts, opts, what="int")
    if facts.storage == StorageType.float:
        return _decide_float(facts, opts)
    return _decide_string(facts, date, opts)


def _id_reason(facts: _Facts, opts: InferenceOptions) -> str | None:
    if facts.present < facts.rows:
        return None
    unique_ratio = facts.distinct / facts.present
    if unique_ratio < opts.id_min_unique_ratio:
        return None
    share = f"unique in {unique_ratio:.0%} of {facts.rows:,} rows"
    if facts.named_like(_ID_NAME_TOKENS):
        return f"{share} and named like an id"
    if facts.storage == StorageType.integer and facts.present >= opts.min_rows_for_unnamed_id:
        numbers = facts.counts.index.to_numpy(dtype="float64")
        span = numbers.max() - numbers.min() + 1
        if span <= opts.id_max_span_ratio * facts.present:
            return f"{share} and consecutive-ish (span {int(span):,} for {facts.present:,} values)"
    if facts.storage == StorageType.string and facts.present >= opts.min_rows_for_unnamed_id:
        text = facts.counts.index.to_series().astype("string")
        limit = opts.max_unnamed_string_id_length
        code_like = text.str.fullmatch(rf"[\w.:/#-]{{1,{limit}}}").fillna(False).all()
        decimals = text.str.fullmatch(r"-?[0-9]*\.[0-9]+").fillna(False).all()
        if code_like and not decimals:
            return f"{share} and code-like (no spaces, at most {limit} characters)"
    return None


def _decide_integer(
    facts: _Facts, opts: InferenceOptions, what: str
) -> tuple[SemanticType, list[str]]:
    if what == "int":
        reason = _id_reason(facts, opts)
        if reason is not None:
            return SemanticType.id, [f"{reason} → id"]
    distinct = facts.distinct
    if distinct == 2:
        levels = ", ".join(str(_json_scalar(v)) for v in sorted(facts.counts.index))
        return SemanticType.categorical, [
            f"{what} with 2 distinct values ({levels}) → boolean-like categorical"
        ]
    rows_per_level = facts.present / distinct
    if (
        distinct <= opts.max_categorical_int_levels
        and rows_per_level >= opts.min_rows_per_int_level
    ):
        numbers = facts.counts.index.to_numpy(dtype="float64")
        mode = float(facts.counts.index[0])
        if facts.named_like(_COUNT_NAME_TOKENS):
            return SemanticType.numeric, [
                f"{what} with {distinct} distinct values, named like a count → numeric"
            ]
        gaps = distinct < numbers.max() - numbers.min() + 1
        if numbers.min() == 0 and (mode == 0 or gaps):
            shape = "most often 0" if mode == 0 else "with gaps in its long tail"
            return SemanticType.numeric, [
                f"{what} with {distinct} distinct values from 0 to {_json_scalar(numbers.max())},"
                f" {shape} → a count, numeric"
            ]
        return SemanticType.categorical, [
            f"{what} with {distinct} distinct values (≤ {opts.max_categorical_int_levels},"
            f" {rows_per_level:,.0f} rows each on average) and not count-like → categorical code"
        ]
    if distinct <= opts.max_categorical_int_levels:
        why = f"only {rows_per_level:.1f} rows per value"
    else:
        why = f"more than {opts.max_categorical_int_levels}"
    return SemanticType.numeric, [f"{what} with {distinct:,} distinct values ({why}) → numeric"]


def _decide_float(facts: _Facts, opts: InferenceOptions) -> tuple[SemanticType, list[str]]:
    numbers = facts.counts.index.to_numpy(dtype="float64")
    finite = numbers[np.isfinite(numbers)]
    if finite.size == numbers.size and np.all(finite == np.round(finite)):
        # whole-number floats are integers that pandas widened to hold nulls: same rules
        return _decide_integer(facts, opts, what="whole-number float")
    note = " (a unique float is not an id)" if facts.distinct == facts.present else ""
    return SemanticType.numeric, [f"float with {facts.distinct:,} distinct values → numeric{note}"]


def _decide_string(
    facts: _Facts, date: _DateDetection | None, opts: InferenceOptions
) -> tuple[SemanticType, list[str]]:
    text = facts.counts.index.to_series().astype("string")
    weights = facts.counts.to_numpy()

    def share(pattern: str) -> float:
        return _weighted_match(text, weights, pattern)

    for semantic, pattern, vocabulary, what in (
        (SemanticType.email, EMAIL_PATTERN, _EMAIL_NAME_TOKENS, "email addresses"),
        (SemanticType.url, URL_PATTERN, _URL_NAME_TOKENS, "URLs"),
    ):
        fraction = share(pattern)
        if fraction >= opts.semantic_pattern_min_fraction:
            return semantic, [f"{fraction:.1%} of values look like {what} → {semantic.value}"]
        if facts.named_like(vocabulary) and fraction >= opts.named_pattern_min_fraction:
            return semantic, [
                f"named like {what} and {fraction:.1%} of values look like them → {semantic.value}"
            ]
    uuid = share(UUID_PATTERN)
    if uuid >= opts.semantic_pattern_min_fraction and facts.distinct == facts.present:
        return SemanticType.id, [f"{uuid:.1%} of values are UUIDs, all distinct → id"]
    if date is not None:
        return SemanticType.datetime, [date.note]

    phone = share(PHONE_PATTERN)
    if phone >= opts.semantic_pattern_min_fraction:
        digits = text.str.count(r"[0-9]")
        enough_digits = float(weights[(digits >= 7).to_numpy()].sum() / weights.sum())
        formatted = share(r"^\+|.*[ ().-]")
        named = facts.named_like(_PHONE_NAME_TOKENS)
        if enough_digits >= opts.semantic_pattern_min_fraction and (
            named or formatted >= opts.semantic_pattern_min_fraction
        ):
            why = "named like a phone" if named else "formatted like phone numbers"
            return SemanticType.phone, [
                f"{phone:.1%} of values look like phone numbers, {why} → phone"
            ]

    for label, pattern in POSTAL_PATTERNS_BY_SHAPE.items():
        fraction = share(pattern)
        if fraction >= opts.semantic_pattern_min_fraction:
            return SemanticType.postal_code, [
                f"{fraction:.1%} of values are {label}s → postal_code"
            ]
    if facts.named_like(_POSTAL_NAME_TOKENS):
        fraction = share(GENERIC_POSTAL_PATTERN)
        if fraction >= opts.semantic_pattern_min_fraction:
            return SemanticType.postal_code, [
                f"named like a postal code and {fraction:.1%} of values are short codes → postal_code"
            ]

    id_reason = _id_reason(facts, opts)
    if id_reason is not None:
        return SemanticType.id, [f"{id_reason} → id"]

    ratio = facts.distinct / facts.present
    few = facts.distinct <= opts.always_categorical_string_levels
    if facts.distinct <= opts.max_categorical_string_levels and (
        ratio <= opts.max_categorical_string_ratio or few
    ):
        return SemanticType.categorical, [
            f"string with {facts.distinct:,} distinct values in {facts.present:,} non-null rows"
            f" (ratio {ratio:.3g}) → categorical"
        ]
    lengths = text.str.len().to_numpy(dtype="float64")
    mean_length = float(np.average(lengths, weights=weights))
    if mean_length >= opts.text_min_mean_length:
        kind = f"long free text (mean length {mean_length:.0f})"
    else:
        kind = f"too many levels for a category (mean length {mean_length:.0f})"
    return SemanticType.text, [
        f"string with {facts.distinct:,} distinct values in {facts.present:,} non-null rows"
        f" (ratio {ratio:.3g}): {kind} → text"
    ]


def _weighted_match(text: pd.Series, weights: npt.NDArray[Any], pattern: str) -> float:
    """Share of rows (weights = rows per distinct value) whose value matches ``pattern``."""
    if len(text) <= 256:
        # a few distinct values: plain re beats the per-call overhead of the str accessor
        compiled = re.compile(pattern)
        matched = np.array([compiled.fullmatch(str(v)) is not None for v in text], dtype=bool)
    else:
        matched = text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    return float(weights[matched].sum() / weights.sum())


def _detect_date_strings(facts: _Facts, opts: InferenceOptions) -> _DateDetection | None:
    text = facts.counts.index.to_series().astype("string").str.strip()
    weights = facts.counts.to_numpy()
    probe = text.iloc[:200]
    if probe.str.contains(_DATE_LIKE.pattern, regex=True).fillna(False).mean() < 0.9:
        return None

    best: tuple[str, float] | None = None
    for fmt in DATETIME_FORMATS:
        parsed_probe = _to_datetime(probe, fmt)
        if parsed_probe.notna().mean() < opts.datetime_min_parse_fraction:
            continue
        parsed = _to_datetime(text, fmt)
        fraction = float(weights[parsed.notna().to_numpy()].sum() / weights.sum())
        if fraction >= opts.datetime_min_parse_fraction and (best is None or fraction > best[1]):
            best = (fmt, fraction)
    if best is None:
        parsed = _to_datetime(text, "ISO8601")
        fraction = float(weights[parsed.notna().to_numpy()].sum() / weights.sum())
        if fraction < opts.datetime_min_parse_fraction:
            return None
        return _DateDetection(
            fmt="ISO8601",
            fraction=fraction,
            note=f"{fraction:.1%} of values parse as ISO 8601 dates of varying precision → datetime",
        )
    fmt, fraction = best
    note = f"{fraction:.1%} of values parse as dates with format {fmt} → datetime"
    swapped = {"%m/%d/%Y": "%d/%m/%Y", "%m-%d-%Y": "%d-%m-%Y"}
    for month_first, day_first in swapped.items():
        if fmt.startswith(month_first):
            other = fmt.replace(month_first, day_first)
            parsed = _to_datetime(text, other)
            if float(weights[parsed.notna().to_numpy()].sum() / weights.sum()) == fraction:
                note += f" (as well read day-first {other}: month-first kept, as pandas does)"
    return _DateDetection(fmt=fmt, fraction=fraction, note=note)


def _parse_dates(values: pd.Series, fmt: str) -> pd.Series:
    return _to_datetime(values.astype("string").str.strip(), fmt)


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    # offsets may differ from value to value: compare them all in UTC
    with_offset = "%z" in fmt or fmt.endswith("Z") or fmt == "ISO8601"
    try:
        return pd.to_datetime(text, format=fmt, errors="coerce", utc=with_offset)
    except (ValueError, TypeError, OverflowError):
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")


def _decimals(distinct_values: pd.Index, cap: int) -> int:
    numbers = distinct_values.to_numpy(dtype="float64")
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        return 0
    # a few ulps: float noise such as 0.1 + 0.2, not a real digit
    tolerance = 1e-12 * np.maximum(1.0, np.abs(numbers))
    for digits in range(cap + 1):
        if np.all(np.abs(np.round(numbers, digits) - numbers) <= tolerance):
            return digits
    return cap


def _string_pattern(
    counts: pd.Series, semantic: SemanticType, opts: InferenceOptions
) -> tuple[str | None, str]:
    text = counts.index.to_series().astype("string")
    known = {
        SemanticType.email: EMAIL_PATTERN,
        SemanticType.url: URL_PATTERN,
        SemanticType.phone: PHONE_PATTERN,
    }
    if semantic in known:
        pattern = known[semantic]
        if bool(text.str.fullmatch(pattern).fillna(False).all()):
            return pattern, f"every value matches the {semantic.value} pattern"
    if semantic == SemanticType.id and bool(text.str.fullmatch(UUID_PATTERN).fillna(False).all()):
        return UUID_PATTERN, "every value is a UUID"
    if semantic == SemanticType.postal_code:
        for label, pattern in POSTAL_PATTERNS_BY_SHAPE.items():
            if bool(text.str.fullmatch(pattern).fillna(False).all()):
                return pattern, f"every value is a {label}"
    shaped = _shape_pattern(text)
    if shaped is not None:
        return shaped, f"every value has the shape {shaped}"
    return None, ""


def _shape_pattern(text: pd.Series) -> str | None:
    """A regex for values that all share one shape (``C4`` → ``[A-Z][0-9]``), else None.

    Letters and digits become classes with exact run lengths; runs that are the same text in
    every value (``term_`` in ``term_36``) stay literal.
    """
    if len(text) < 2:
        return None
    lengths = text.str.len()
    if lengths.nunique() != 1 or int(lengths.iloc[0]) == 0:
        return None
    shapes = text.str.translate(_SHAPE_TABLE)
    if shapes.nunique() != 1:
        return None
    shape = str(shapes.iloc[0])
    runs = [(m.start(), m.end()) for m in re.finditer(r"(.)\1*", shape)]
    parts: list[str] = []
    has_class = False
    position = 0
    while position < len(runs):
        start, end = runs[position]
        piece = text.str.slice(start, end)
        if piece.nunique() == 1 or shape[start] not in _SHAPE_CLASS:
            # the same text in every value (or punctuation): kept literally
            literal = str(piece.iloc[0])
            parts.append(re.escape(literal))
        else:
            width = end - start
            parts.append(_SHAPE_CLASS[shape[start]] + (f"{{{width}}}" if width > 1 else ""))
            has_class = True
        position += 1
    if not has_class:
        return None
    return "^" + "".join(parts) + "$"


# --------------------------------------------------------------------------------------------
# pairwise constraints


def _sample_positions(rows: int, opts: InferenceOptions) -> npt.NDArray[np.int64]:
    generator = np.random.default_rng(opts.random_state)
    if rows <= opts.sample_rows:
        # shuffled, so that the early chunks of the elimination are a random sample too
        return generator.permutation(rows)
    return generator.choice(rows, size=opts.sample_rows, replace=False)


def _as_float_array(values: pd.Series) -> npt.NDArray[np.float64]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        # microseconds since the epoch: exact in a float64 for any plausible date
        stamps = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        missing = stamps.isna().to_numpy()
        micros = stamps.to_numpy(dtype="datetime64[us]").astype("int64").astype("float64")
        micros[missing] = np.nan
        return micros
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _discover_inequalities(
    profiles: list[_Profile], sample: npt.NDArray[np.int64], opts: InferenceOptions
) -> list[Inequality]:
    found: list[Inequality] = []
    # an inequality compares values in one unit: times with times, clock times written as
    # hhmm with each other, other numbers with other numbers (nycflights13's air_time, minutes,
    # never exceeds its sched_dep_time, hhmm, yet saying so means nothing)
    groups: dict[str, list[_Profile]] = {"numeric": [], "datetime": [], "hhmm": []}
    for profile in profiles:
        values = profile.comparable()
        if values is None:
            continue
        if profile.column.semantic == SemanticType.datetime:
            key = "datetime"
        else:
            key = "hhmm" if _is_hhmm_clock(_as_float_array(values)) else "numeric"
        groups[key].append(profile)
    for members in groups.values():
        if len(members) >= 2:
            found.extend(_inequalities_within(members, sample, opts))
    return found


# distinct values all with minutes below 60 before a column reads as hhmm: an integer column
# spread over 0-2400 has 40% of its values at xx60-xx99, so 60 such values by chance is ~5e-14
_MIN_HHMM_DISTINCT = 60


def _is_hhmm_clock(values: npt.NDArray[np.float64]) -> bool:
    """Whole numbers from 0 to 2400 whose last two digits never reach 60: clock times."""
    distinct = np.unique(values[~np.isnan(values)])
    return bool(
        distinct.size >= _MIN_HHMM_DISTINCT
        and distinct[0] >= 0
        and distinct[-1] <= 2400
        and np.all(distinct == np.round(distinct))
        and np.all(np.mod(distinct, 100) < 60)
    )


def _inequalities_within(
    members: list[_Profile], sample: npt.NDArray[np.int64], opts: InferenceOptions
) -> list[Inequality]:
    # the sample as one matrix; whole columns only for the few pairs that survive it
    matrix = np.column_stack([_as_float_array(m.comparable())[sample] for m in members])  # type: ignore[arg-type]
    whole: dict[int, npt.NDArray[np.float64]] = {}

    def full(index: int) -> npt.NDArray[np.float64]:
        if index not in whole:
            whole[index] = _as_float_array(members[index].comparable())  # type: ignore[arg-type]
        return whole[index]

    with np.errstate(all="ignore"):
        lows = np.nanmin(matrix, axis=0)
        highs = np.nanmax(matrix, axis=0)
    # low <= high means something only when low's values can exceed high's (ranges overlap)
    overlapping = highs[:, None] > lows[None, :]
    np.fill_diagonal(overlapping, False)
    left, right = np.nonzero(overlapping)
    candidate_pairs = int(left.size)
    if left.size > opts.max_candidate_pairs:
        left, right = left[: opts.max_candidate_pairs], right[: opts.max_candidate_pairs]

    survivors = _pairs_never_greater(matrix, left, right)
    left, right = left[survivors], right[survivors]
    sorted_sample = [np.sort(column[~np.isnan(column)]) for column in matrix.T]
    # the more pairs tried, the more hold by luck: ask for more evidence (e^-needed per pair)
    tried = max(1, candidate_pairs)
    needed = max(opts.min_expected_violations_if_independent, math.log(tried))

    edges: dict[tuple[int, int], tuple[bool, list[str]]] = {}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        low_full, high_full = full(i), full(j)
        both = ~np.isnan(low_full) & ~np.isnan(high_full)
        present = int(both.sum())
        if present < opts.min_rows_for_constraint:
            continue
        low_values, high_values = low_full[both], high_full[both]
        if np.any(low_values > high_values):
            continue  # broken outside the sample
        equal_rows = int(np.count_nonzero(low_values == high_values))
        if equal_rows == present:
            continue  # the same column twice: an identity, not an inequality
        violation_rate = _violation_rate_if_independent(sorted_sample[i], sorted_sample[j])
        expected = violation_rate * present
        if expected < needed:
            continue
        strict = equal_rows == 0
        evidence = [
            f"holds in {present:,}/{present:,} rows where both present",
            "never equal → strict" if strict else f"equal in {equal_rows:,} rows",
            f"about {expected:,.0f} rows would break it were the columns independent"
            f" ({needed:.1f} needed with {tried:,} column pairs tried)",
        ]
        edges[(i, j)] = (strict, evidence)

    names = [m.column.name for m in members]
    implied = _implied_edges(edges)
    return [
        Inequality(low=names[i], high=names[j], strict=strict, evidence=evidence)
        for (i, j), (strict, evidence) in edges.items()
        if (i, j) not in implied
    ]


def _pairs_never_greater(
    matrix: npt.NDArray[np.float64], left: npt.NDArray[np.intp], right: npt.NDArray[np.intp]
) -> npt.NDArray[np.bool_]:
    """For each pair, whether ``matrix[:, left] <= matrix[:, right]`` wherever both are present.

    Rows are scanned in chunks sized so that a chunk holds a few million comparisons; most
    pairs break in the first rows, so later chunks are wide in rows and narrow in pairs.
    """
    alive = np.ones(left.size, dtype=bool)
    budget = 4_000_000
    start = 0
    rows = matrix.shape[0]
    while start < rows and alive.any():
        candidates = np.flatnonzero(alive)
        step = max(32, budget // max(1, candidates.size))
        chunk = matrix[start : start + step]
        with np.errstate(invalid="ignore"):
            broken = (chunk[:, left[candidates]] > chunk[:, right[candidates]]).any(axis=0)
        alive[candidates[broken]] = False
        start += step
    return alive


def _violation_rate_if_independent(
    low_sorted: npt.NDArray[np.float64], high_sorted: npt.NDArray[np.float64]
) -> float:
    """P(low > high) for a low and a high drawn independently from their (sorted) values."""
    if low_sorted.size == 0 or high_sorted.size == 0:
        return 0.0
    # only lows above the smallest high can break it, and only against highs below the largest
    # low: for most pairs both tails are tiny, so this costs next to nothing
    lows = low_sorted[np.searchsorted(low_sorted, high_sorted[0], side="right") :]
    highs = high_sorted[: np.searchsorted(high_sorted, low_sorted[-1], side="left")]
    if lows.size == 0 or highs.size == 0:
        return 0.0
    below = np.searchsorted(highs, lows, side="left")
    return float(below.sum() / (low_sorted.size * high_sorted.size))


def _implied_edges(edges: dict[tuple[int, int], tuple[bool, Any]]) -> set[tuple[int, int]]:
    """Edges a <op> c implied by a path a -> b -> ... -> c of other edges (as strict, if needed)."""
    successors: dict[int, list[int]] = {}
    for i, j in edges:
        successors.setdefault(i, []).append(j)
    implied: set[tuple[int, int]] = set()
    for (start, end), (strict, _) in edges.items():
        # depth-first over paths of length >= 2, tracking whether any step is strict
        stack = [
            (middle, edges[(start, middle)][0])
            for middle in successors.get(start, [])
            if middle != end
        ]
        seen: set[tuple[int, bool]] = set()
        while stack:
            node, path_strict = stack.pop()
            if (node, path_strict) in seen:
                continue
            seen.add((node, path_strict))
            if (node, end) in edges and (path_strict or edges[(node, end)][0] or not strict):
                implied.add((start, end))
                break
            for nxt in successors.get(node, []):
                stack.append((nxt, path_strict or edges[(node, nxt)][0]))
    return implied


# fewest rows holding both a datetime and a whole-number column for one to be read as a part of
# the other (a coincidence over this many rows with a varying part is not plausible)
MIN_DATETIME_PART_ROWS = 20
# zones tried first when a column holds a part of an aware datetime in another zone than its own
# (any IANA zone is tried after them); the first that fits every row names the constraint
_LIKELY_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo", "Asia/Shanghai",
    "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo",
)  # fmt: skip


def _discover_datetime_parts(profiles: list[_Profile]) -> list[DatetimePart]:
    """Whole-number columns that hold the year, month, day, hour or minute of a datetime column in
    every row where both are present (flights' hour of time_hour), read in the datetime's own
    zone or, for an aware one whose parts fit no other way, in the IANA zone that fits them."""
    stamps = [p for p in profiles if p.column.is_datetime and p.parsed_datetimes is not None]
    numbers = [
        (p, pd.to_numeric(p.values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
        for p in profiles
        if p.column.storage in (StorageType.integer, StorageType.float) and not p.column.is_datetime
    ]
    found: list[DatetimePart] = []
    for stamp in stamps:
        times = stamp.parsed_datetimes
        assert times is not None
        parts = _PartsOf(times)
        pairs = []
        for number, values in numbers:
            both = times.notna().to_numpy() & ~np.isnan(values)
            if both.sum() >= MIN_DATETIME_PART_ROWS:
                pairs.append((number, both, values))
        # an hour column tells the zone the parts are read in; the other parts follow it. An
        # aware datetime's parts are read in its own zone first (the checks read it as UTC)
        own = None if times.dt.tz is None else str(times.dt.tz)
        zones: list[str | None] = [own]
        for _, both, values in pairs:
            fitting = _fitting_zone(parts, both, values, "hour", [own])
            if fitting is not None and fitting[0] not in zones:
                zones.append(fitting[0])
        for number, both, values in pairs:
            for part in PARTS:
                fitting = _fitting_zone(parts, both, values, part, zones)
                if fitting is None:
                    continue
                zone = fitting[0]
                found.append(
                    DatetimePart(
                        datetime=stamp.column.name,
                        part=part,
                        column=number.column.name,
                        timezone=zone,
                        evidence=[
                            f"equals the {part} of {stamp.column.name}"
                            + (f" read in {zone}" if zone else "")
                            + f" in all {int(both.sum()):,} rows where both are present"
                        ],
                    )
                )
                break
    return found


class _PartsOf:
    """A datetime column's parts, each computed once per zone."""

    def __init__(self, times: pd.Series) -> None:
        self.times = times
        self._cache: dict[tuple[str, str | None], npt.NDArray[np.float64]] = {}

    def __call__(self, part: str, zone: str | None) -> npt.NDArray[np.float64]:
        if (part, zone) not in self._cache:
            self._cache[part, zone] = part_values(self.times, part, zone).to_numpy()
        return self._cache[part, zone]


def _fitting_zone(
    parts: _PartsOf,
    both: npt.NDArray[np.bool_],
    values: npt.NDArray[np.float64],
    part: str,
    zones: list[str | None],
) -> tuple[str | None] | None:
    """The zone (in a 1-tuple: None is the datetime's own) in which ``part`` of the time equals
    ``values`` in every row of ``both``, when that part varies; None when no zone does. The
    zones already found are tried first; for an aware datetime whose hours are off by a fixed
    set of offsets, any IANA zone then."""
    given = values[both]
    probe = np.flatnonzero(both)[:200]  # a cheap refusal before the whole column is compared

    def fits(read: Callable[[], npt.NDArray[np.float64]]) -> bool:
        if not np.array_equal(read()[probe], values[probe]):
            return False
        held = read()[both]
        return bool(np.array_equal(held, given) and np.unique(held).size > 1)

    for zone in zones:
        if fits(lambda zone=zone: parts(part, zone)):
            return (zone,)
    if parts.times.dt.tz is None or part != "hour":
        return None
    offsets = np.unique((given - parts("hour", zones[0])[both]) % 24)
    if offsets.size > 2:  # a zone's offset takes one value, or two across a clock change
        return None
    sample = parts.times[both].iloc[:: max(1, len(given) // 500)]
    wanted = given[:: max(1, len(given) // 500)]
    for zone in [*_LIKELY_ZONES, *sorted(zoneinfo.available_timezones())]:
        if np.array_equal(part_values(sample, part, zone).to_numpy(), wanted) and fits(
            lambda zone=zone: parts(part, zone)
        ):
            return (zone,)
    return None


def _discover_fixed_combinations(
    profiles: list[_Profile], sample: npt.NDArray[np.int64], opts: InferenceOptions
) -> list[FixedCombination]:
    members = [
        p for p in profiles if p.column.semantic in {SemanticType.categorical, SemanticType.boolean}
    ]
    if len(members) < 2:
        return []
    coded = [pd.factorize(m.values, use_na_sentinel=True) for m in members]
    # one int32 array per column (-1 = null); the sample as one matrix for the elimination
    codes = [c.astype(np.int32) for c, _ in coded]
    levels = [uniques for _, uniques in coded]
    cardinality = np.array([len(u) for u in levels])
    sample_codes = np.column_stack([c[sample] for c in codes])
    probe = sample_codes[: min(len(sample), 2_000)]
    sample_is_everything = len(sample) == len(codes[0])

    holds: dict[tuple[int, int], tuple[int, int, npt.NDArray[np.integer[Any]]]] = {}
    for d in range(len(members)):
        if not 2 <= cardinality[d] <= opts.max_determinant_levels:
            continue
        dependents = np.array([e for e in range(len(members)) if e != d and cardinality[e] >= 2])
        for stage in (probe, sample_codes):
            if dependents.size == 0:
                break
            ok, _ = _functional_dependency(stage[:, d], stage[:, dependents])
            dependents = dependents[ok]
        for e in dependents.tolist():
            if not sample_is_everything:
                ok, _ = _functional_dependency(codes[d], codes[e][:, None])
                if not ok[0]:
                    continue  # broken outside the sample
            applies = codes[d] >= 0
            present = int(applies.sum())
            if present < opts.min_rows_for_constraint:
                continue
            determinant_seen, group_sizes = np.unique(codes[d][applies], return_counts=True)
            if present / determinant_seen.size < opts.min_rows_per_determinant_value:
                continue
            _, outcome = _functional_dependency(codes[d], codes[e][:, None])
            # two outcomes must each be confirmed by a determinant value seen twice or more,
            # else one rare row (a singleton mapping to a singleton) makes the whole pattern
            if np.unique(outcome[group_sizes >= 2, 0]).size < 2:
                continue
            holds[(d, e)] = (present, determinant_seen.size, outcome)

    # a one-to-one pair is one fact: keep the string → code direction, else the earlier column
    def rank(index: int) -> tuple[int, int]:
        return (0 if members[index].column.storage == StorageType.string else 1, index)

    found: dict[tuple[int, int], list[str]] = {}
    for (d, e), (present, determinant_values, _) in holds.items():
        evidence = [
            f"holds in {present:,}/{present:,} rows where {members[d].column.name} is present",
            f"each of {determinant_values:,} values of {members[d].column.name} maps to one value"
            f" of {members[e].column.name} ({present / determinant_values:,.1f} rows per value)",
        ]
        if (e, d) in holds:
            if rank(d) > rank(e):
                continue
            reason = (
                "the string → code direction"
                if rank(d)[0] < rank(e)[0]
                else "the direction from the earlier column"
            )
            evidence.append(
                f"one-to-one with {members[e].column.name} -> {members[d].column.name}; kept {reason}"
            )
        found[(d, e)] = evidence

    implied = _implied_edges({pair: (False, None) for pair in found})
    result: list[FixedCombination] = []
    for (d, e), evidence in found.items():
        if (d, e) in implied:
            continue
        present, _, group_codes = holds[(d, e)]
        mapping = _mapping(codes[d], group_codes, levels[d], levels[e])
        result.append(
            FixedCombination(
                determinant=members[d].column.name,
                dependent=members[e].column.name,
                mapping=mapping,
                evidence=evidence,
            )
        )
    return result


def _functional_dependency(
    determinant: npt.NDArray[np.integer[Any]], dependents: npt.NDArray[np.integer[Any]]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.integer[Any]]]:
    """Which dependents take one value per determinant value, wherever the determinant is present.

    Codes are ``pd.factorize`` codes; -1 (null) in a dependent counts as a value of its own, as
    the constraint checks read it (a mapping to null means the dependent must be null). Returns
    the verdict per dependent column and, per determinant value in sorted code order, the
    dependent code it maps to (the largest seen, when it does not hold).
    """
    present = determinant >= 0
    det = determinant[present]
    deps = dependents[present]
    if det.size == 0:
        empty = np.empty((0, dependents.shape[1]), dtype=dependents.dtype)
        return np.zeros(dependents.shape[1], dtype=bool), empty
    order = np.argsort(det, kind="stable")
    det_sorted = det[order]
    starts = np.flatnonzero(np.r_[True, det_sorted[1:] != det_sorted[:-1]])
    deps_sorted = deps[order]
    highest = np.maximum.reduceat(deps_sorted, starts, axis=0)
    lowest = np.minimum.reduceat(deps_sorted, starts, axis=0)
    return np.all(highest == lowest, axis=0), highest


def _mapping(
    determinant: npt.NDArray[np.integer[Any]],
    group_codes: npt.NDArray[np.integer[Any]],
    determinant_levels: Any,
    dependent_levels: Any,
) -> dict[str, Scalar | None]:
    observed = np.unique(determinant[determinant >= 0])
    mapping: dict[str, Scalar | None] = {}
    for det_code, dep_code in zip(observed.tolist(), group_codes[:, 0].tolist(), strict=True):
        key = str(_json_scalar(determinant_levels[det_code]))
        mapping[key] = None if dep_code < 0 else _json_scalar(dependent_levels[dep_code])
    return mapping


# --------------------------------------------------------------------------------------------
# small helpers


def _json_scalar(value: Any) -> Scalar:
    """A plain Python scalar that survives JSON and YAML."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _percent(fraction: float) -> str:
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction:.1%}"


def _describe(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(repr(v) for v in value[:5])
        return f"[{shown}{', ...' if len(value) > 5 else ''}]"
    if isinstance(value, SemanticType | StorageType):
        return value.value
    return repr(value)


def _describe_update(update: dict[str, Any]) -> list[str]:
    return [f"{field}={_describe(value)}" for field, value in update.items()]
