"""Data for a schema with no real rows: priors, vocabularies and fakes, keys that resolve.

``generate_from_schema`` fills every table of a multi-table :class:`~synthtab.schema.Schema`
in foreign-key order. Each column draws from what the schema says about it — a ``prior``,
``allowed_values`` or ``examples`` (Zipf-like weights when none are given), a ``fake`` kind, a
``pattern`` — and, where it says nothing, from defaults chosen by the column's name and range
(prices lognormal, ages 18-90, quantities small positive integers...). Child rows per parent
follow each foreign key's cardinality; every key resolves; primary, unique and composite keys
are unique. Rows that break a rule or constraint are repaired where the fix is unique, and
otherwise have their non-key values redrawn — keys stay, so foreign keys and cardinalities hold
— for a bounded number of rounds; what still fails raises :class:`SchemaFirstError`, so
violating rows are never delivered.

Everything is vectorised numpy and seeded per table and column: the same seed gives the same
data, bit for bit. A model never reads files: this module takes a Schema and returns frames.
"""

from __future__ import annotations

import math
import re
import re._constants as sre_constants  # the parser's opcodes: read a pattern, never run code
import re._parser as sre_parse
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthtab.schema.model import (
    Cardinality,
    Column,
    FixedCombination,
    ForeignKey,
    Schema,
    SemanticType,
    StorageType,
    Table,
    UniqueKey,
)
from synthtab.schema.rules import (
    Implies,
    RuleError,
    RuleNode,
    compile_rule,
    evaluate_rule,
    referenced_columns,
    repair_rule,
)
from synthtab.tools.constraints import (
    repair_table,
    validate_rules_against_columns,
    validate_table,
    violation_mask,
)
from synthtab.tools.pii import fake_column, fake_emails, name_tokens

__all__ = [
    "DEFAULT_CHILDREN_PER_PARENT",
    "DEFAULT_ROOT_ROWS",
    "MAX_REDRAW_ROUNDS",
    "SchemaFirstError",
    "generate_from_schema",
    "resolve_row_counts",
    "table_order",
]

DEFAULT_ROOT_ROWS = 100  # a table with no row count and no parent
DEFAULT_CHILDREN_PER_PARENT = 3.0  # a child table with neither row count nor cardinality mean
MAX_REDRAW_ROUNDS = 8
SELF_REFERENCE_ROOT_SHARE = 0.05  # rows of a hierarchy with no parent (employees without manager)
ZIPF_EXPONENT = 1.1
DEFAULT_DATE_RANGE = ("2021-01-01", "2024-12-31")
BIRTH_DATE_RANGE = ("1940-01-01", "2006-12-31")
DEFAULT_CATEGORY_COUNT = 5

# column-name vocabularies for defaults (tokens come from pii.name_tokens)
_MONEY_TOKENS = frozenset(
    {
        "price",
        "amount",
        "cost",
        "salary",
        "revenue",
        "total",
        "balance",
        "fee",
        "income",
        "payment",
        "wage",
        "spend",
        "value",
        "subtotal",
        "tax",
        "budget",
    }
)
_QUANTITY_TOKENS = frozenset({"quantity", "qty", "units", "count", "items", "stock", "seats"})
_RATE_TOKENS = frozenset({"rate", "ratio", "share", "pct", "percent", "percentage", "discount"})
_RATING_TOKENS = frozenset({"rating", "stars", "score"})
_BIRTH_TOKENS = frozenset({"birth", "dob", "birthday", "birthdate"})
_TEXT_TOKENS = frozenset({"description", "comment", "comments", "notes", "note", "text", "review"})
_WORDS = (
    "quick",
    "reliable",
    "delivery",
    "quality",
    "service",
    "order",
    "great",
    "late",
    "friendly",
    "package",
    "price",
    "support",
    "product",
    "excellent",
    "average",
    "request",
    "update",
    "customer",
    "issue",
    "resolved",
)
_ADJECTIVES = ("Classic", "Premium", "Compact", "Deluxe", "Eco", "Smart", "Ultra", "Basic", "Pro")
_NOUNS = ("Widget", "Lamp", "Chair", "Backpack", "Kettle", "Speaker", "Notebook", "Mug", "Jacket")


class SchemaFirstError(ValueError):
    """A schema that cannot be filled as declared; the message names table, key or rule."""


# ---------------------------------------------------------------------------------------------
# order and row counts


def _is_self_reference(table: Table, fk: ForeignKey) -> bool:
    return fk.ref_table == table.name


def table_order(schema: Schema) -> list[str]:
    """Table names parents first (Kahn's algorithm); raises on a cycle or a NOT NULL self-key."""
    by_name = {t.name: t for t in schema.tables}
    for table in schema.tables:
        for fk in table.foreign_keys:
            if _is_self_reference(table, fk):
                not_nullable = [c for c in fk.columns if not table.column(c).nullable]
                if not_nullable:
                    raise SchemaFirstError(
                        f"table {table.name!r}: the self-reference {fk.columns} -> "
                        f"{fk.ref_columns} must be nullable (the first rows of a hierarchy "
                        f"have no parent); mark column {not_nullable[0]!r} nullable"
                    )
    parents = {
        t.name: {fk.ref_table for fk in t.foreign_keys if not _is_self_reference(t, fk)}
        for t in schema.tables
    }
    order: list[str] = []
    ready = [t.name for t in schema.tables if not parents[t.name]]
    remaining = {name: set(p) for name, p in parents.items() if p}
    while ready:
        name = ready.pop(0)
        order.append(name)
        for child in [c for c, p in remaining.items() if name in p]:
            remaining[child].discard(name)
            if not remaining[child]:
                del remaining[child]
                ready.append(child)
    if remaining:
        cycle = sorted(remaining)
        links = [
            f"{child} -> {parent}"
            for child in cycle
            for parent in sorted(parents[child])
            if parent in remaining
        ]
        raise SchemaFirstError(
            f"the foreign keys between tables {cycle} form a cycle ({'; '.join(links)}); "
            "only a nullable self-reference can be generated — drop one of these keys"
        )
    assert set(order) == set(by_name)
    return order


def _cardinality_bounds(card: Cardinality, parents: int) -> tuple[int, float]:
    high = math.inf if card.max is None else card.max * parents
    return card.min * parents, high


def _implied_rows(card: Cardinality | None, parents: int) -> int:
    if card is None:
        return round(parents * DEFAULT_CHILDREN_PER_PARENT)
    if card.mean is not None:
        per_parent = card.mean
    elif card.max is not None:
        per_parent = (card.min + card.max) / 2
    else:
        per_parent = max(float(card.min), DEFAULT_CHILDREN_PER_PARENT)
    return round(parents * per_parent)


def resolve_row_counts(
    schema: Schema, row_counts: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Rows per table: given counts (argument over schema), else derived from cardinalities.

    Raises SchemaFirstError when a given count lies outside what a foreign key's cardinality
    allows for its parent's rows.
    """
    wanted = dict(row_counts or {})
    unknown = sorted(set(wanted) - {t.name for t in schema.tables})
    if unknown:
        raise SchemaFirstError(f"row counts name unknown tables {unknown}")
    counts: dict[str, int] = {}
    for name in table_order(schema):
        table = schema.table(name)
        given = wanted.get(name, table.row_count)
        if given is not None and given < 0:
            raise SchemaFirstError(f"table {name!r}: row count {given} is negative")
        outer = [fk for fk in table.foreign_keys if not _is_self_reference(table, fk)]
        if given is None:
            with_card = [fk for fk in outer if fk.cardinality is not None]
            if with_card:
                fk = with_card[0]
                given = _implied_rows(fk.cardinality, counts[fk.ref_table])
            elif outer:
                given = _implied_rows(None, max(counts[fk.ref_table] for fk in outer))
            else:
                given = DEFAULT_ROOT_ROWS
        for fk in outer:
            if fk.cardinality is None:
                continue
            parents = counts[fk.ref_table]
            low, high = _cardinality_bounds(fk.cardinality, parents)
            if not low <= given <= high:
                most = "no maximum" if high == math.inf else f"at most {int(high):,}"
                raise SchemaFirstError(
                    f"table {name!r}: {given:,} rows do not fit foreign key {fk.columns} -> "
                    f"{fk.ref_table!r}: {parents:,} parent rows with "
                    f"{fk.cardinality.min} to "
                    f"{'any number of' if fk.cardinality.max is None else fk.cardinality.max} "
                    f"children each allow at least {low:,} and {most} rows"
                )
        counts[name] = int(given)
    return counts


# ---------------------------------------------------------------------------------------------
# random sources


def _rng(seed: int, *labels: str) -> np.random.Generator:
    """A generator for one (table, column, round), stable across runs and processes."""
    keys = [zlib.crc32(label.encode()) for label in labels]
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _zipf_weights(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** ZIPF_EXPONENT
    return weights / weights.sum()


def _vocabulary_draw(
    values: Sequence[Any], weights: Sequence[float] | None, n: int, rng: np.random.Generator
) -> np.ndarray:
    probabilities = (
        np.asarray(weights, dtype=float) / float(sum(weights))
        if weights is not None
        else _zipf_weights(len(values))
    )
    picks = rng.choice(len(values), size=n, p=probabilities)
    return np.asarray(list(values), dtype=object)[picks]


# ---------------------------------------------------------------------------------------------
# patterns: a sampler over Python's own regex parse tree (a subset: literals, classes, repeats,
# groups, alternation); what it cannot sample raises, naming the column


_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_WORD = _UPPER + _LOWER + _DIGITS + "_"
_PRINTABLE = _UPPER + _LOWER + _DIGITS
_MAX_OPEN_REPEAT = 3  # extra repetitions drawn for + and *


def _category_chars(category: Any) -> str:
    if category == sre_constants.CATEGORY_DIGIT:
        return _DIGITS
    if category == sre_constants.CATEGORY_WORD:
        return _WORD
    if category == sre_constants.CATEGORY_SPACE:
        return " "
    if category == sre_constants.CATEGORY_NOT_DIGIT:
        return _UPPER + _LOWER
    raise ValueError(f"unsupported class {category}")


def _class_chars(items: list[tuple[Any, Any]]) -> str:
    chars: list[str] = []
    negate = False
    for op, arg in items:
        if op == sre_constants.NEGATE:
            negate = True
        elif op == sre_constants.LITERAL:
            chars.append(chr(arg))
        elif op == sre_constants.RANGE:
            chars.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op == sre_constants.CATEGORY:
            chars.extend(_category_chars(arg))
        else:
            raise ValueError(f"unsupported class item {op}")
    if negate:
        chars = [c for c in _PRINTABLE if c not in set(chars)]
    if not chars:
        raise ValueError("an empty character class")
    return "".join(dict.fromkeys(chars))


def _sample_nodes(nodes: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    for op, arg in nodes:
        out = out + _sample_node(op, arg, n, rng)
    return out


def _pick_chars(chars: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(list(chars), dtype=object)[rng.integers(0, len(chars), size=n)]


def _sample_node(op: Any, arg: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    if op == sre_constants.LITERAL:
        return np.full(n, chr(arg), dtype=object)
    if op == sre_constants.NOT_LITERAL:
        return _pick_chars(_PRINTABLE.replace(chr(arg), ""), n, rng)
    if op == sre_constants.ANY:
        return _pick_chars(_PRINTABLE, n, rng)
    if op == sre_constants.IN:
        return _pick_chars(_class_chars(arg), n, rng)
    if op == sre_constants.CATEGORY:
        return _pick_chars(_category_chars(arg), n, rng)
    if op == sre_constants.AT:
        return np.full(n, "", dtype=object)
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
        low, high, sub = arg
        top = low + _MAX_OPEN_REPEAT if high == sre_constants.MAXREPEAT else high
        times = rng.integers(low, top + 1, size=n)
        out = np.full(n, "", dtype=object)
        for k in range(top):
            piece = _sample_nodes(sub, n, rng)
            out = out + np.where(k < times, piece, "")
        return out
    if op == sre_constants.SUBPATTERN:
        return _sample_nodes(arg[-1], n, rng)
    if op == sre_constants.ATOMIC_GROUP:
        return _sample_nodes(arg, n, rng)
    if op == sre_constants.BRANCH:
        alternatives = [_sample_nodes(alt, n, rng) for alt in arg[1]]
        choice = rng.integers(0, len(alternatives), size=n)
        return np.choose(choice, alternatives)
    raise ValueError(f"unsupported regular expression element {op}")


def _pattern_values(pattern: str, n: int, rng: np.random.Generator, where: str) -> np.ndarray:
    try:
        parsed = sre_parse.parse(pattern)
        return _sample_nodes(parsed, n, rng)
    except (re.error, ValueError) as error:
        raise SchemaFirstError(
            f"{where}: cannot make values for pattern {pattern!r} ({error}); "
            "give examples or allowed values instead"
        ) from error


_SEQUENTIAL_PATTERN = re.compile(
    r"^\^?(?P<prefix>[A-Za-z_\-#/]*)(?:\\d|\[0-9\])\{(?P<width>\d+)\}\$?$"
)


# ---------------------------------------------------------------------------------------------
# values per column


@dataclass(frozen=True)
class _Context:
    table: Table
    n: int
    seed: int
    label: str  # the round, so redrawn rows get fresh values

    def rng(self, column: str) -> np.random.Generator:
        return _rng(self.seed, self.table.name, column, self.label)

    def where(self, column: str) -> str:
        return f"table {self.table.name!r}, column {column!r}"


def _bounds(column: Column) -> tuple[float | None, float | None]:
    def number(value: float | str | None) -> float | None:
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SchemaFirstError(
                f"column {column.name!r}: bound {value!r} is not a number"
            ) from None

    return number(column.minimum), number(column.maximum)


def _effective_bounds(column: Column, tokens: set[str]) -> tuple[float | None, float | None]:
    """The column's bounds, with defaults a reader would assume from its name."""
    low, high = _bounds(column)
    if "age" in tokens:
        return (18.0 if low is None else low), (90.0 if high is None else high)
    if tokens & _RATING_TOKENS and low is None and high is None:
        return 1.0, 5.0
    if tokens & _QUANTITY_TOKENS and low is None:
        return 1.0, high
    if tokens & (_MONEY_TOKENS - {"balance", "value"}) and low is None:
        return 0.0, high
    return low, high


def _default_numeric(
    column: Column, tokens: set[str], n: int, rng: np.random.Generator
) -> np.ndarray:
    low, high = _effective_bounds(column, tokens)
    if "age" in tokens:
        return rng.normal(40.0, 15.0, size=n)
    if tokens & _QUANTITY_TOKENS:
        return (low or 0.0) + rng.poisson(2.0, size=n)
    if low is not None and high is not None and not tokens & _MONEY_TOKENS:
        return rng.uniform(low, high, size=n)
    if tokens & _RATE_TOKENS:
        return rng.uniform(low or 0.0, high if high is not None else 1.0, size=n)
    if "year" in tokens:
        return rng.integers(int(low or 1990), int(high or 2024) + 1, size=n).astype(float)
    if tokens & _MONEY_TOKENS:
        if low is not None and high is not None and low > 0:
            median = math.sqrt(low * high)
        elif high is not None and high > 0:
            median = high / 4
        else:
            median = 50_000.0 if tokens & {"salary", "income", "wage"} else 40.0
        return median * rng.lognormal(0.0, 0.8, size=n)
    if low is not None:
        return low + rng.exponential(max(abs(low), 10.0), size=n)
    if high is not None:
        return high - rng.exponential(max(abs(high), 10.0), size=n)
    if column.storage == StorageType.integer:
        return rng.integers(0, 101, size=n).astype(float)
    return 50.0 * rng.lognormal(0.0, 0.6, size=n)


def _prior_numeric(column: Column, n: int, rng: np.random.Generator) -> np.ndarray | None:
    prior = column.prior
    if prior is None:
        return None
    low, high = _bounds(column)
    mean = prior.mean
    if mean is None:
        mean = (low + high) / 2 if low is not None and high is not None else (low or 1.0)
    std = prior.std if prior.std is not None else max(abs(mean) / 2, 1.0)
    if prior.distribution == "uniform":
        if low is not None and high is not None:
            return rng.uniform(low, high, size=n)
        return rng.uniform(mean - std * math.sqrt(3), mean + std * math.sqrt(3), size=n)
    if prior.distribution == "normal":
        return rng.normal(mean, std, size=n)
    if prior.distribution == "lognormal":
        # mean and std are the values' own; convert to the log scale's parameters
        positive_mean = max(mean, 1e-9)
        sigma2 = math.log(1.0 + (std / positive_mean) ** 2)
        return rng.lognormal(math.log(positive_mean) - sigma2 / 2, math.sqrt(sigma2), size=n)
    if prior.distribution == "exponential":
        start = low if low is not None else 0.0
        return start + rng.exponential(max(mean - start, 1e-9), size=n)
    return rng.poisson(max(mean, 0.0), size=n).astype(float)


def _into_range(
    values: np.ndarray,
    bounds: tuple[float | None, float | None],
    integer: bool,
    redraw: Callable[[int], np.ndarray],
) -> np.ndarray:
    """Out-of-range values are drawn again a few times (no spikes at the bounds), then clipped."""
    low, high = bounds
    if integer:
        low = None if low is None else float(math.ceil(low))
        high = None if high is None else float(math.floor(high))
    if low is None and high is None:
        return values
    lower = -np.inf if low is None else low
    upper = np.inf if high is None else high
    for _ in range(4):
        outside = (values < lower) | (values > upper)
        if not outside.any():
            break
        values[outside] = redraw(int(outside.sum()))
    return np.clip(values, lower, upper)


def _numeric_values(column: Column, ctx: _Context) -> pd.Series:
    rng = ctx.rng(column.name)
    tokens = name_tokens(column.name)
    bounds = _effective_bounds(column, tokens) if column.prior is None else _bounds(column)
    integer = column.storage == StorageType.integer

    def draw(k: int) -> np.ndarray:
        prior = _prior_numeric(column, k, rng)
        drawn = prior if prior is not None else _default_numeric(column, tokens, k, rng)
        return drawn.astype(float)

    values = _into_range(draw(ctx.n), bounds, integer, draw)
    if integer:
        return pd.Series(np.round(values).astype(np.int64), dtype="Int64")
    decimals = column.decimals
    if decimals is None and tokens & _MONEY_TOKENS:
        decimals = 2
    if decimals is not None:
        # rounding may step over a bound that is not a round number: clip once more
        low, high = bounds
        values = np.clip(
            np.round(values, decimals),
            -np.inf if low is None else low,
            np.inf if high is None else high,
        )
    return pd.Series(values, dtype="Float64")


def _date_range(column: Column, tokens: set[str]) -> tuple[pd.Timestamp, pd.Timestamp]:
    default = BIRTH_DATE_RANGE if tokens & _BIRTH_TOKENS else DEFAULT_DATE_RANGE
    try:
        low = pd.Timestamp(column.minimum if column.minimum is not None else default[0])
        high = pd.Timestamp(column.maximum if column.maximum is not None else default[1])
    except (TypeError, ValueError) as error:
        raise SchemaFirstError(
            f"column {column.name!r}: bounds {column.minimum!r}..{column.maximum!r} are not "
            f"dates ({error})"
        ) from None
    if column.minimum is None and low > high:
        low = high - pd.Timedelta(days=365 * 3)
    if column.maximum is None and low > high:
        high = low + pd.Timedelta(days=365 * 3)
    if low > high:
        raise SchemaFirstError(f"column {column.name!r}: minimum {low} is after maximum {high}")
    return low, high


def _is_date_only(column: Column, low: pd.Timestamp, high: pd.Timestamp) -> bool:
    fmt = column.datetime_format
    if fmt is not None:
        return not any(code in fmt for code in ("%H", "%I", "%M", "%S", "%T", "%X", "%c"))
    at_midnight = low == low.normalize() and high == high.normalize()
    return at_midnight and not name_tokens(column.name) & {"time", "timestamp", "at", "ts"}


def _datetime_values(column: Column, ctx: _Context) -> pd.Series:
    rng = ctx.rng(column.name)
    low, high = _date_range(column, name_tokens(column.name))
    date_only = _is_date_only(column, low, high)
    if date_only:
        days = (high.normalize() - low.normalize()).days
        first = low.normalize() + pd.Timedelta(days=1) if low != low.normalize() else low
        offsets = rng.integers(0, max(days, 0) + 1, size=ctx.n)
        stamps = first + pd.to_timedelta(offsets, unit="D")
        stamps = stamps.where(stamps <= high, low.normalize())
    else:
        span = int((high - low).total_seconds())
        stamps = low + pd.to_timedelta(rng.integers(0, span + 1, size=ctx.n), unit="s")
    series = pd.Series(pd.DatetimeIndex(stamps).astype("datetime64[us]"))
    if column.datetime_format:
        return series.dt.strftime(column.datetime_format).astype("string")
    if column.storage != StorageType.datetime:
        return series.dt.strftime("%Y-%m-%d" if date_only else "%Y-%m-%dT%H:%M:%S").astype("string")
    return series


def _boolean_values(column: Column, ctx: _Context) -> pd.Series:
    rng = ctx.rng(column.name)
    probability = 0.5
    if column.prior is not None and column.prior.mean is not None:
        probability = min(max(column.prior.mean, 0.0), 1.0)
    return pd.Series(rng.random(ctx.n) < probability, dtype="boolean")


def _vocabulary(column: Column, table: Table) -> tuple[list[Any], list[float] | None] | None:
    weights = column.prior.weights if column.prior else None
    if column.allowed_values:
        return list(column.allowed_values), weights
    if column.examples:
        return list(column.examples), weights
    for constraint in table.constraints:
        if isinstance(constraint, FixedCombination) and constraint.determinant == column.name:
            keys = list(constraint.mapping)
            if keys:
                return keys, None
    return None


MAX_FINITE_DAYS = 100_000


def _finite_values(column: Column, table: Table) -> list[Any] | None:
    """Every value a column can take, when that is a short list: its vocabulary, or the days
    of a date-only range (as the column stores them)."""
    vocabulary = _vocabulary(column, table)
    if vocabulary is not None:
        return vocabulary[0]
    if column.semantic != SemanticType.datetime and column.storage != StorageType.datetime:
        return None
    low, high = _date_range(column, name_tokens(column.name))
    if not _is_date_only(column, low, high) or (high - low).days > MAX_FINITE_DAYS:
        return None
    days = pd.date_range(low.normalize(), high.normalize(), freq="D")
    days = days[(days >= low) & (days <= high)]
    if column.datetime_format:
        return list(days.strftime(column.datetime_format))
    if column.storage != StorageType.datetime:
        return list(days.strftime("%Y-%m-%d"))
    return list(days)


def _typed(values: np.ndarray, column: Column) -> pd.Series:
    """Drawn values in the column's storage type (nullable pandas dtypes)."""
    storage = column.storage
    if storage == StorageType.integer:
        return pd.Series(pd.to_numeric(pd.Series(values, dtype=object)), dtype="Int64")
    if storage == StorageType.float:
        return pd.Series(pd.to_numeric(pd.Series(values, dtype=object)), dtype="Float64")
    if storage == StorageType.boolean:
        text = pd.Series(values, dtype=object).map(lambda v: str(v).strip().lower())
        return text.isin(["true", "1", "yes", "y", "t"]).astype("boolean")
    if storage == StorageType.datetime and not column.datetime_format:
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[us]")
    return pd.Series(values, dtype=object).map(str).astype("string")


def _fake_kind(column: Column) -> str | None:
    if column.fake is not None:
        return column.fake
    tokens = name_tokens(column.name)
    if column.semantic == SemanticType.email or "email" in tokens:
        return "email"
    if column.semantic == SemanticType.phone or tokens & {"phone", "mobile", "telephone"}:
        return "phone"
    if tokens & {"firstname", "givenname", "forename"}:
        return "first_name"
    if tokens & {"lastname", "surname", "familyname"}:
        return "last_name"
    person = {"customer", "client", "patient", "person", "employee", "user", "contact", "owner"}
    person |= {"member", "student", "teacher", "doctor", "author", "manager", "full"}
    if "name" in tokens and (tokens & person or tokens == {"name"}):
        return "full_name"
    if "name" in tokens and tokens & {"company", "supplier", "vendor", "employer", "carrier"}:
        return "company"
    if tokens & {"company", "employer", "supplier", "vendor"}:
        return "company"
    if tokens & {"address", "street"} and not tokens & {"email", "ip", "mac", "web"}:
        return "address"
    if "city" in tokens:
        return "city"
    if "country" in tokens:
        return "country"
    if tokens & {"ssn", "nationalid", "passport"}:
        return "national_id"
    return None


def _text_values(column: Column, ctx: _Context) -> np.ndarray:
    rng = ctx.rng(column.name)
    n = ctx.n
    tokens = name_tokens(column.name)
    if column.semantic == SemanticType.url or tokens & {"url", "website", "link"}:
        numbers = rng.integers(1, 1_000_000, size=n).astype(str)
        return np.full(n, f"https://example.com/{ctx.table.name}/", dtype=object) + numbers
    if column.semantic == SemanticType.postal_code or tokens & {"zip", "postcode", "zipcode"}:
        return _pattern_values(r"\d{5}", n, rng, ctx.where(column.name))
    if column.semantic == SemanticType.text and tokens & _TEXT_TOKENS:
        words = np.asarray(_WORDS, dtype=object)
        length = rng.integers(3, 9, size=n)
        picks = words[rng.integers(0, len(words), size=(n, 8))]
        return np.asarray(
            [" ".join(row[:k]).capitalize() + "." for row, k in zip(picks, length, strict=True)],
            dtype=object,
        )
    if "name" in tokens or "title" in tokens:
        adjectives = np.asarray(_ADJECTIVES, dtype=object)[rng.integers(0, 9, size=n)]
        nouns = np.asarray(_NOUNS, dtype=object)[rng.integers(0, 9, size=n)]
        return adjectives + " " + nouns
    levels = [f"{column.name}_{k}" for k in range(1, DEFAULT_CATEGORY_COUNT + 1)]
    return _vocabulary_draw(levels, None, n, rng)


def _column_values(column: Column, ctx: _Context, frame: pd.DataFrame) -> pd.Series:
    """Values for a column that is not a key: vocabulary, fake, pattern, prior or default."""
    rng = ctx.rng(column.name)
    vocabulary = _vocabulary(column, ctx.table)
    if column.semantic == SemanticType.empty:
        return pd.Series([pd.NA] * ctx.n, dtype=_dtype(column))
    if column.semantic == SemanticType.constant and vocabulary:
        return _typed(np.full(ctx.n, vocabulary[0][0], dtype=object), column)
    if vocabulary is not None:
        values, weights = vocabulary
        return _typed(_vocabulary_draw(values, weights, ctx.n, rng), column)
    if column.storage == StorageType.boolean or column.semantic == SemanticType.boolean:
        return _typed(_boolean_values(column, ctx).to_numpy(dtype=object), column)
    if column.semantic == SemanticType.datetime or column.storage == StorageType.datetime:
        return _datetime_values(column, ctx)
    if column.storage in (StorageType.integer, StorageType.float):
        return _numeric_values(column, ctx)
    if column.pattern is not None:
        return _typed(_pattern_values(column.pattern, ctx.n, rng, ctx.where(column.name)), column)
    kind = _fake_kind(column)
    if kind == "email":
        names = _row_names(ctx.table, frame)
        if names is not None:
            return _typed(fake_emails(names[0], names[1], rng), column)
    if kind is not None:
        return _typed(fake_column(kind, ctx.n, rng), column)
    return _typed(_text_values(column, ctx), column)


def _row_names(table: Table, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(first, last) names of each row from a name column already made, for matching emails."""
    kinds = {c.name: _fake_kind(c) for c in table.columns if c.name in frame.columns}
    first = next((n for n, k in kinds.items() if k == "first_name"), None)
    last = next((n for n, k in kinds.items() if k == "last_name"), None)
    if first and last:
        return _as_words(frame[first]), _as_words(frame[last])
    full = next((n for n, k in kinds.items() if k == "full_name"), None)
    if full:
        parts = frame[full].astype("string").fillna("").str.split(" ", n=1, expand=True)
        if parts.shape[1] == 2:
            return _as_words(parts[0]), _as_words(parts[1].fillna(""))
    return None


def _as_words(values: pd.Series) -> np.ndarray:
    cleaned = values.astype("string").fillna("x").str.replace(r"[^A-Za-z]", "", regex=True)
    return cleaned.mask(cleaned == "", "x").to_numpy(dtype=object)


def _dtype(column: Column) -> str:
    return {
        StorageType.integer: "Int64",
        StorageType.float: "Float64",
        StorageType.boolean: "boolean",
        StorageType.datetime: "datetime64[us]" if not column.datetime_format else "string",
        StorageType.string: "string",
    }[column.storage]


# ---------------------------------------------------------------------------------------------
# keys


def _single_unique_columns(table: Table) -> set[str]:
    names = {c.name for c in table.columns if c.unique}
    if table.primary_key and len(table.primary_key) == 1:
        names.add(table.primary_key[0])
    names |= {
        k.columns[0] for k in table.constraints if isinstance(k, UniqueKey) and len(k.columns) == 1
    }
    return names


def _composite_keys(table: Table) -> list[list[str]]:
    keys = [list(table.primary_key)] if table.primary_key and len(table.primary_key) > 1 else []
    keys += [
        list(k.columns)
        for k in table.constraints
        if isinstance(k, UniqueKey) and len(k.columns) > 1
    ]
    return keys


def _identifier_values(column: Column, ctx: _Context, start: int) -> pd.Series:
    """Unique values for a single-column key: 1..n, or prefixed text ``CUS-00001``."""
    numbers = np.arange(start, start + ctx.n)
    if column.storage == StorageType.integer or column.storage == StorageType.float:
        return pd.Series(numbers, dtype=_dtype(column))
    if column.storage != StorageType.string:
        raise SchemaFirstError(
            f"{ctx.where(column.name)}: a {column.storage.value} column cannot be a generated "
            "key; use an integer or text key"
        )
    if column.pattern is not None:
        sequential = _SEQUENTIAL_PATTERN.match(column.pattern)
        if sequential is None:
            return _unique_pattern_values(column, ctx)
        prefix, width = sequential["prefix"], int(sequential["width"])
        if start + ctx.n > 10**width:
            raise SchemaFirstError(
                f"{ctx.where(column.name)}: pattern {column.pattern!r} has room for "
                f"{10**width - 1:,} ids, and {start + ctx.n - 1:,} are needed"
            )
    else:
        letters = re.sub(r"[^A-Za-z]", "", ctx.table.name).upper()[:3] or "ID"
        prefix, width = f"{letters}-", max(5, len(str(start + ctx.n)))
    return pd.Series([f"{prefix}{k:0{width}d}" for k in numbers], dtype="string")


def _unique_pattern_values(column: Column, ctx: _Context) -> pd.Series:
    rng = ctx.rng(column.name)
    where = ctx.where(column.name)
    values = pd.Series(_pattern_values(column.pattern or "", ctx.n, rng, where), dtype=object)
    for _ in range(20):
        repeated = values.duplicated().to_numpy()
        if not repeated.any():
            return values.astype("string")
        redrawn = _pattern_values(column.pattern or "", int(repeated.sum()), rng, where)
        values[repeated] = redrawn
    raise SchemaFirstError(
        f"{where}: pattern {column.pattern!r} does not yield {ctx.n:,} distinct values"
    )


def _children_per_parent(
    rows: int, parents: int, card: Cardinality | None, rng: np.random.Generator
) -> np.ndarray:
    """How many child rows each parent gets: within [min, max], summing to ``rows``.

    Above the minimum, rows are spread by gamma-weighted multinomials (some parents have many
    children, some few, as real data does); parents at their maximum take no more.
    """
    low = card.min if card else 0
    high = card.max if card and card.max is not None else None
    counts = np.full(parents, low, dtype=np.int64)
    remaining = rows - int(counts.sum())
    for _ in range(100):
        if remaining <= 0:
            break
        weights = rng.gamma(2.0, size=parents)
        if high is not None:
            weights[counts >= high] = 0.0
        extra = rng.multinomial(remaining, weights / weights.sum())
        if high is not None:
            extra = np.minimum(extra, high - counts)
        counts += extra
        remaining = rows - int(counts.sum())
    if remaining > 0:  # the random spread stalled near the cap: fill the rest in order
        room = (high - counts) if high is not None else np.full(parents, remaining)
        take = np.minimum(
            room, np.maximum(remaining - np.concatenate([[0], np.cumsum(room)[:-1]]), 0)
        )
        counts += take
    return counts


def _parent_rows(
    table: Table,
    fk: ForeignKey,
    rows: int,
    parent: pd.DataFrame,
    rng: np.random.Generator,
    unique: bool,
) -> np.ndarray:
    """For each child row, the position of its parent row in ``parent``."""
    parents = len(parent)
    if rows == 0:
        return np.zeros(0, dtype=np.int64)
    if parents == 0:
        raise SchemaFirstError(
            f"table {table.name!r}: foreign key {fk.columns} -> {fk.ref_table!r} needs parent "
            f"rows, and {fk.ref_table!r} has none"
        )
    if fk.cardinality is not None or unique:
        card = fk.cardinality
        if unique:
            capped = Cardinality(min=min(card.min, 1) if card else 0, max=1)
            if rows > parents:
                raise SchemaFirstError(
                    f"table {table.name!r}: {fk.columns} is unique, so at most {parents:,} rows "
                    f"can reference {fk.ref_table!r}, and {rows:,} are asked for"
                )
            card = capped
        counts = _children_per_parent(rows, parents, card, rng)
        return rng.permutation(np.repeat(np.arange(parents), counts))
    return rng.integers(0, parents, size=rows)


def _distinct_within_groups(
    groups: np.ndarray, partner_count: int, rng: np.random.Generator
) -> np.ndarray:
    """A partner index per row, distinct within each group (an order's products differ)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    rank = np.arange(len(groups)) - np.repeat(starts, sizes)
    offset = rng.integers(0, partner_count, size=len(starts))
    permutation = rng.permutation(partner_count)
    picked = permutation[(np.repeat(offset, sizes) + rank) % partner_count]
    out = np.empty(len(groups), dtype=np.int64)
    out[order] = picked
    return out


def _distinct_pairs_within_cardinality(
    groups: np.ndarray,
    partners: np.ndarray,
    partner_count: int,
    fk: ForeignKey,
    rng: np.random.Generator,
    table: Table,
    key: list[str],
) -> np.ndarray:
    """Distinct (group, partner) pairs whose partners keep ``fk``'s cardinality: first by
    swapping partners between rows (every partner keeps its count), and where the pairs are
    too dense for that, by spreading partners evenly within groups, if that stays in bounds."""
    where = f"table {table.name!r}: key {key}"
    try:
        return _distinct_by_swaps(groups, partners, rng, where)
    except SchemaFirstError:
        spread = _distinct_within_groups(groups, partner_count, rng)
        counts = np.bincount(spread, minlength=partner_count)
        card = fk.cardinality or Cardinality()
        if counts.min() >= card.min and (card.max is None or counts.max() <= card.max):
            return spread
        raise


def _distinct_by_swaps(
    groups: np.ndarray, partners: np.ndarray, rng: np.random.Generator, where: str
) -> np.ndarray:
    """``partners`` permuted until no (group, partner) pair repeats; every value keeps its
    count, so both foreign keys keep their children per parent."""
    out = partners.copy()
    width = int(out.max()) + 1 if len(out) else 1
    for _ in range(200):
        repeated = np.flatnonzero(pd.Series(groups * width + out).duplicated().to_numpy())
        if len(repeated) == 0:
            return out
        for row, other in zip(repeated, rng.integers(0, len(out), size=len(repeated)), strict=True):
            out[row], out[other] = out[other], out[row]
    raise SchemaFirstError(
        f"{where}: cannot make the pairs distinct within the declared cardinalities; "
        "lower the cardinalities or add parent rows"
    )


def _group_rank(groups: pd.DataFrame) -> np.ndarray:
    """1, 2, 3... within each group of equal keys (a line number per order)."""
    return groups.groupby(list(groups.columns), sort=False, dropna=False).cumcount().to_numpy() + 1


# ---------------------------------------------------------------------------------------------
# one table


@dataclass(frozen=True)
class _KeyPlan:
    """Which columns of a table are keys (kept when a row's values are redrawn)."""

    foreign: set[str]
    unique: set[str]
    line_numbers: set[str]

    @property
    def kept(self) -> set[str]:
        return self.foreign | self.unique | self.line_numbers


def _foreign_key_columns(
    table: Table,
    rows: int,
    frames: Mapping[str, pd.DataFrame],
    seed: int,
) -> tuple[dict[str, pd.Series], list[ForeignKey]]:
    """Values of every column that references another table; the self-references, for later."""
    values: dict[str, pd.Series] = {}
    self_references: list[ForeignKey] = []
    unique_single = _single_unique_columns(table)
    composite = _composite_keys(table)
    positions: dict[int, np.ndarray] = {}
    for index, fk in enumerate(table.foreign_keys):
        if _is_self_reference(table, fk):
            self_references.append(fk)
            continue
        rng = _rng(seed, table.name, "fk", str(index))
        unique = len(fk.columns) == 1 and fk.columns[0] in unique_single
        unique |= any(sorted(k) == sorted(fk.columns) for k in composite)
        positions[index] = _parent_rows(table, fk, rows, frames[fk.ref_table], rng, unique)
    # a composite key made of two foreign keys (a junction table): the later key's parents are
    # made distinct within each of the earlier key's parents
    for key in composite:
        parts = [
            i
            for i, fk in enumerate(table.foreign_keys)
            if i in positions and set(fk.columns) <= set(key)
        ]
        covered = {c for i in parts for c in table.foreign_keys[i].columns}
        if len(parts) >= 2 and covered == set(key):
            first, second = parts[0], parts[-1]
            fk = table.foreign_keys[second]
            partners = len(frames[fk.ref_table])
            largest = int(np.bincount(positions[first]).max()) if rows else 0
            if largest > partners:
                raise SchemaFirstError(
                    f"table {table.name!r}: key {key} needs up to {largest:,} distinct "
                    f"{fk.ref_table!r} rows per {table.foreign_keys[first].ref_table!r} row, and "
                    f"{fk.ref_table!r} has {partners:,}; lower the cardinality or add rows"
                )
            rng = _rng(seed, table.name, "junction", str(second))
            if fk.cardinality is None:
                positions[second] = _distinct_within_groups(positions[first], partners, rng)
            else:
                positions[second] = _distinct_pairs_within_cardinality(
                    positions[first], positions[second], partners, fk, rng, table, key
                )
    for index, picked in positions.items():
        fk = table.foreign_keys[index]
        parent = frames[fk.ref_table]
        for child_column, parent_column in zip(fk.columns, fk.ref_columns, strict=True):
            column = parent[parent_column].iloc[picked].reset_index(drop=True)
            values[child_column] = column
    return values, self_references


def _self_reference_values(
    table: Table, fk: ForeignKey, frame: pd.DataFrame, seed: int
) -> dict[str, pd.Series]:
    """Each row's parent is an earlier row, so the hierarchy has no cycle; the first rows
    (a share of them) are its roots and reference nothing."""
    rows = len(frame)
    rng = _rng(seed, table.name, "self", "-".join(fk.columns))
    roots = max(1, math.ceil(rows * SELF_REFERENCE_ROOT_SHARE)) if rows else 0
    positions = np.arange(rows)
    parent = np.floor(rng.random(rows) * np.maximum(positions, 1)).astype(np.int64)
    has_parent = positions >= roots
    out: dict[str, pd.Series] = {}
    for child_column, parent_column in zip(fk.columns, fk.ref_columns, strict=True):
        source = frame[parent_column].reset_index(drop=True)
        picked = source.iloc[parent].reset_index(drop=True)
        out[child_column] = picked.where(pd.Series(has_parent), None).astype(source.dtype)
    return out


def _nulls(frame: pd.DataFrame, table: Table, keys: _KeyPlan, ctx: _Context) -> pd.DataFrame:
    primary = set(table.primary_key or [])
    for column in table.columns:
        fraction = column.null_fraction or 0.0
        if (
            not column.nullable
            or fraction <= 0
            or column.name in primary
            or column.name in keys.kept
        ):
            continue
        rng = ctx.rng(f"{column.name}#null")
        blank = rng.random(len(frame)) < fraction
        frame[column.name] = frame[column.name].mask(pd.Series(blank, index=frame.index))
    return frame


def _value_columns(table: Table, keys: _KeyPlan, ctx: _Context, frame: pd.DataFrame) -> None:
    """Fill every non-key column of ``frame`` in place; name columns before emails."""

    unique_columns = _single_unique_columns(table)

    def later(column: Column) -> int:
        return 1 if _fake_kind(column) == "email" else 0

    for column in sorted(table.columns, key=later):
        if column.name in keys.kept:
            continue
        values = _column_values(column, ctx, frame)
        if column.name in unique_columns and _is_plain_text(column):
            values = _distinct_text(values, _fake_kind(column))
        frame[column.name] = values.to_numpy()
        frame[column.name] = frame[column.name].astype(_dtype(column))


def _is_plain_text(column: Column) -> bool:
    """Text with no pattern or value list to keep: a suffix can make its values distinct."""
    return (
        column.storage == StorageType.string
        and column.pattern is None
        and not column.allowed_values
        and column.semantic != SemanticType.datetime
    )


def _distinct_text(values: pd.Series, kind: str | None) -> pd.Series:
    """Repeated values get a counter (``ana.kim7.2@example.com``, ``Acme Foods Ltd 2``)."""
    text = values.astype("string").reset_index(drop=True)
    repeat = text.groupby(text, dropna=True).cumcount()
    again = (repeat > 0).to_numpy() & text.notna().to_numpy()
    if not again.any():
        return text
    counter = (repeat[again] + 1).astype(str)
    if kind == "email":
        parts = text[again].str.split("@", n=1, expand=True)
        text[again] = parts[0] + "." + counter + "@" + parts[1]
    else:
        text[again] = text[again] + " " + counter
    return text


def _draw_table(
    table: Table, rows: int, frames: Mapping[str, pd.DataFrame], seed: int
) -> tuple[pd.DataFrame, _KeyPlan]:
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    foreign, self_references = _foreign_key_columns(table, rows, frames, seed)
    for name, values in foreign.items():
        frame[name] = values.to_numpy()
        frame[name] = frame[name].astype(values.dtype)
    # generated identifiers: a one-column primary key and unique id columns; other unique
    # columns (an email) get ordinary values, made distinct
    unique = {
        c
        for c in _single_unique_columns(table)
        if c not in foreign
        and (table.primary_key == [c] or table.column(c).semantic == SemanticType.id)
    }
    unique -= {c for fk in self_references for c in fk.columns}
    line_numbers: set[str] = set()
    ctx = _Context(table, rows, seed, "0")
    for name in sorted(unique, key=table.column_names.index):
        frame[name] = _identifier_values(table.column(name), ctx, start=1).to_numpy()
        frame[name] = frame[name].astype(_dtype(table.column(name)))
    for key in _composite_keys(table):
        missing = [c for c in key if c not in frame.columns]
        integer = [c for c in missing if table.column(c).storage == StorageType.integer]
        if len(missing) == 1 and integer and len(key) > 1:
            # (order_id, line_no): the free column numbers the rows of each group
            frame[integer[0]] = pd.Series(_group_rank(frame[[c for c in key if c != integer[0]]]))
            frame[integer[0]] = frame[integer[0]].astype("Int64")
            line_numbers.add(integer[0])
        finite = [c for c in missing if _finite_values(table.column(c), table) is not None]
        if len(missing) == 1 and finite and len(key) > 1:
            # (subscriber_id, billing_month), (meter_id, reading_date): each group's differ
            name = finite[0]
            values = _finite_values(table.column(name), table) or []
            groups = frame[[c for c in key if c != name]].astype("string").agg("|".join, axis=1)
            codes = pd.factorize(groups)[0]
            largest = int(np.bincount(codes).max()) if len(codes) else 0
            if largest > len(values):
                raise SchemaFirstError(
                    f"table {table.name!r}: key {key} needs up to {largest:,} distinct values "
                    f"of {name!r} in one group, and it has {len(values)}"
                )
            rng = _rng(seed, table.name, "distinct", name)
            picked = np.asarray(values, dtype=object)[
                _distinct_within_groups(codes, len(values), rng)
            ]
            frame[name] = _typed(picked, table.column(name)).to_numpy()
            frame[name] = frame[name].astype(_dtype(table.column(name)))
            line_numbers.add(name)
    keys = _KeyPlan(foreign=set(foreign), unique=unique, line_numbers=line_numbers)
    _value_columns(table, keys, ctx, frame)
    for fk in self_references:
        for name, values in _self_reference_values(table, fk, frame, seed).items():
            frame[name] = values
    keys = _KeyPlan(
        foreign=keys.foreign | {c for fk in self_references for c in fk.columns},
        unique=unique,
        line_numbers=line_numbers,
    )
    frame = _nulls(frame, table, keys, ctx)
    return frame[table.column_names], keys


def _redraw_values(
    frame: pd.DataFrame, bad: np.ndarray, table: Table, keys: _KeyPlan, seed: int, round_: int
) -> pd.DataFrame:
    """``frame`` with the non-key values of the ``bad`` rows drawn again."""
    count = int(bad.sum())
    ctx = _Context(table, count, seed, f"redraw-{round_}")
    fresh = pd.DataFrame(index=pd.RangeIndex(count))
    for name in keys.kept:
        fresh[name] = frame.loc[bad, name].to_numpy()
        fresh[name] = fresh[name].astype(frame[name].dtype)
    _value_columns(table, keys, ctx, fresh)
    fresh = _nulls(fresh, table, keys, ctx)
    out = frame.copy()
    for name in table.column_names:
        if name in keys.kept:
            continue
        column = out[name].copy()
        column[bad] = fresh[name].to_numpy()
        out[name] = column
    return _swap_checked_keys(out, bad, table, keys, _rng(seed, table.name, "swap", str(round_)))


def _checked_foreign_keys(table: Table, keys: _KeyPlan) -> list[list[str]]:
    """Foreign keys that a rule, constraint or composite key reads: (origin, destination)
    airports that must differ. Self-references and numbered keys are left alone."""
    read: set[str] = set()
    dtypes = {c.name: c.storage.value for c in table.columns}
    for rule in table.rules:
        read |= referenced_columns(
            compile_rule(rule.expression, table.column_names, rule.name, dtypes)
        )
    for constraint in table.constraints:
        read |= set(constraint.columns)
    for key in _composite_keys(table):
        if not set(key) & keys.line_numbers:
            read |= set(key)
    return [
        list(fk.columns)
        for fk in table.foreign_keys
        if not _is_self_reference(table, fk) and set(fk.columns) & read
    ]


def _swap_checked_keys(
    frame: pd.DataFrame, bad: np.ndarray, table: Table, keys: _KeyPlan, rng: np.random.Generator
) -> pd.DataFrame:
    """The bad rows trade such foreign keys with random rows: each parent keeps its count of
    children, so cardinalities hold, and the pair that broke a rule is split up."""
    rows = np.flatnonzero(bad)
    good = np.flatnonzero(~bad)
    checked = _checked_foreign_keys(table, keys)
    if len(rows) == 0 or not checked or len(good) == 0:
        return frame
    # one key moves (the other stays as a reference point); partners are rows that were fine
    others = good[rng.integers(0, len(good), size=len(rows))]
    for name in checked[-1]:
        values = frame[name].to_numpy(copy=True)
        for row, other in zip(rows, others, strict=True):
            values[row], values[other] = values[other], values[row]
        frame[name] = pd.array(values, dtype=frame[name].dtype)
    return frame


def _implications(table: Table) -> list[RuleNode]:
    """The table's ``if A then B`` rules, compiled."""
    out: list[RuleNode] = []
    dtypes = {c.name: c.storage.value for c in table.columns}
    for rule in table.rules:
        node = compile_rule(rule.expression, table.column_names, rule.name, dtypes)
        if isinstance(node.body, Implies):
            out.append(node)
    return out


def _enforce_consequences(
    frame: pd.DataFrame, implications: Sequence[RuleNode], keys: _KeyPlan
) -> pd.DataFrame:
    """Rows where ``if A then B`` fails get B made true where B has a simple fix.

    Data that does not exist yet has no "right" repair, so unlike the validator's repairs
    (which must be unique) any fix that makes the row valid will do: B's own fix is applied.
    Key columns are never changed here.
    """
    for node in implications:
        assert isinstance(node.body, Implies)
        consequence = RuleNode(node.body.consequence, node.expression, node.name)
        if referenced_columns(consequence) & keys.kept:
            continue
        try:
            failing = ~evaluate_rule(node, frame).to_numpy()
            if not failing.any():
                continue
            repaired = repair_rule(consequence, frame, failing)
        except (RuleError, TypeError, ValueError):
            continue  # a rule over text dates and the like: redrawing takes care of it
        if repaired is not None:
            frame = repaired
    return frame


def _compliant_table(
    table: Table, rows: int, frames: Mapping[str, pd.DataFrame], seed: int
) -> pd.DataFrame:
    frame, keys = _draw_table(table, rows, frames, seed)
    implications = _implications(table)
    for round_ in range(1, MAX_REDRAW_ROUNDS + 1):
        frame = _enforce_consequences(frame, implications, keys)
        frame, _ = repair_table(frame, table)
        bad = violation_mask(frame, table).to_numpy()
        if not bad.any():
            return frame
        if round_ == MAX_REDRAW_ROUNDS:
            break
        frame = _redraw_values(frame, bad, table, keys, seed, round_)
    result = validate_table(frame, table)
    failed = sorted(result.failed_checks, key=lambda c: -c.violations)
    named = "; ".join(f"{c.name} ({c.violations:,} rows)" for c in failed[:3])
    raise SchemaFirstError(
        f"table {table.name!r}: after {MAX_REDRAW_ROUNDS} rounds of repair and redrawing, "
        f"{result.violating_rows:,} of {rows:,} rows still break {named}; the rule or "
        "constraint may be impossible with these columns' ranges and values — relax it or "
        "give the columns values that can satisfy it"
    )


# ---------------------------------------------------------------------------------------------
# the dataset


def _check_rules_compile(schema: Schema) -> None:
    for table in schema.tables:
        try:
            validate_rules_against_columns(table)
        except RuleError as error:
            raise SchemaFirstError(f"table {table.name!r}: {error}") from error


def generate_from_schema(
    schema: Schema, *, seed: int = 0, row_counts: Mapping[str, int] | None = None
) -> dict[str, pd.DataFrame]:
    """One DataFrame per table of ``schema``, made from the schema alone (no real rows).

    ``row_counts`` overrides the tables' own ``row_count``. Tables come back in foreign-key
    order (parents first). Every foreign key resolves, child counts per parent follow the
    declared cardinalities, keys are unique, and every rule and constraint holds in every row;
    otherwise SchemaFirstError says which table, key or rule is at fault.
    """
    _check_rules_compile(schema)
    counts = resolve_row_counts(schema, row_counts)
    frames: dict[str, pd.DataFrame] = {}
    for name in table_order(schema):
        table = schema.table(name)
        frames[name] = _compliant_table(table, counts[name], frames, seed)
    return frames
