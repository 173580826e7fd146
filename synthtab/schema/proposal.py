"""What the LLM may propose for a dataset, and how a proposal becomes a checked ``Schema``.

A small model writes a compact proposal (``SchemaProposal``): tables, columns with one of a
few plain types, references, row counts, value lists and rules. Deterministic code turns it
into the full schema model: names become safe identifiers, types become storage + semantic
types, references become foreign keys with cardinalities, and every rule is compiled against
its table. ``proposal_problems`` lists what is wrong in words the LLM can act on; a proposal
with problems is sent back, never used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthtab.schema.model import (
    Cardinality,
    Column,
    ForeignKey,
    Rule,
    Schema,
    SemanticType,
    StorageType,
    Table,
    UniqueKey,
)
from synthtab.schema.rules import RuleError, compile_rule, referenced_columns

ColumnKind = Literal[
    "id",
    "integer",
    "decimal",
    "money",
    "text",
    "category",
    "boolean",
    "date",
    "datetime",
    "email",
    "phone",
    "person_name",
    "first_name",
    "last_name",
    "address",
    "city",
    "country",
    "company",
]
MAX_TABLES = 12
MAX_COLUMNS = 40
MAX_ROWS_PER_TABLE = 1_000_000
DEFAULT_ROWS = 100
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _Proposal(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ColumnProposal(_Proposal):
    name: str = Field(description="snake_case column name")
    type: ColumnKind
    references: str | None = Field(
        default=None, description="for a foreign key: 'table.column' of the referenced key"
    )
    values: list[str] | None = Field(
        default=None, description="for a category: its possible values"
    )
    min: float | None = None
    max: float | None = None
    nullable: bool = False


class TableProposal(_Proposal):
    name: str = Field(description="snake_case plural table name")
    template_table: str | None = Field(
        default=None, description="'template.table' of a listed table this one copies"
    )
    rows: int | None = Field(default=None, description="how many rows")
    primary_key: list[str] = Field(default_factory=list)
    columns: list[ColumnProposal] = Field(
        default_factory=list, description="columns; for a template table only extra ones"
    )
    rules: list[str] = Field(
        default_factory=list, description="business rules such as 'end_date >= start_date'"
    )


class SchemaProposal(_Proposal):
    tables: list[TableProposal]
    questions: list[str] = Field(
        default_factory=list, description="questions for the user where the request is unclear"
    )


class Grounding(BaseModel):
    """The nearest schema templates: whole tables a proposal may copy (by 'template.table'),
    and their columns by name, to fill in what a proposal leaves out."""

    tables: dict[str, Table] = Field(default_factory=dict)
    columns: dict[str, Column] = Field(default_factory=dict)


def safe_identifier(name: str) -> str:
    """A lower-case SQL- and file-safe identifier: letters, digits and underscores."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    if not text:
        return "unnamed"
    if text[0].isdigit():
        text = f"t_{text}"
    return text[:63]


# plurals in -ies whose singular ends in -ie, not -y
_IE_PLURALS = frozenset({"movies", "cookies", "pies", "ties", "lies", "rookies", "calories"})


def singular(word: str) -> str:
    """'customers' -> 'customer', 'categories' -> 'category', 'movies' -> 'movie'."""
    if word in _IE_PLURALS or word.endswith(tuple(f"_{w}" for w in _IE_PLURALS)):
        return word[:-1]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def table_aliases(name: str) -> set[str]:
    """Ways a request may name a table: ``order_items`` is also 'order item', 'items'."""
    words = safe_identifier(name).split("_")
    last = words[-1]
    variants = {last, singular(last)}
    whole = " ".join(words)
    return {whole, " ".join([*words[:-1], singular(last)]), *variants} - {""}


def _reference_target(
    reference: str, tables: Mapping[str, TableProposal]
) -> tuple[str, str | None] | None:
    parts = [p for p in reference.strip().split(".") if p]
    if not parts:
        return None
    # "template.table.column" (a small model copies the listed name): the last two parts count
    table, column = (parts[-2], parts[-1]) if len(parts) >= 2 else (parts[0], None)
    table = safe_identifier(table)
    if table not in tables:
        by_alias = {alias: t for t in tables for alias in table_aliases(t)}
        table = by_alias.get(table.replace("_", " "), by_alias.get(singular(table), table))
    if table not in tables:
        return None
    return table, (safe_identifier(column) if column else None)


def _primary_key(table: TableProposal, grounding: Grounding | None = None) -> list[str]:
    copied = _copied_table(table, grounding)
    if copied is not None and copied.primary_key:
        return list(copied.primary_key)
    names = [safe_identifier(c.name) for c in table.columns]
    declared = [safe_identifier(k) for k in table.primary_key if safe_identifier(k) in names]
    if declared:
        return declared
    ids = [safe_identifier(c.name) for c in table.columns if c.type == "id" and not c.references]
    if ids:
        return ids[:1]
    references = [safe_identifier(c.name) for c in table.columns if c.references]
    return references if len(references) >= 2 else []


def resolve_template_table(reference: str, grounding: Grounding) -> str | None:
    """The listed 'template.table' a proposal means: exact, else the nearest template's table
    of that name (a small model often writes the wrong template in front of the right table)."""
    text = reference.strip()
    if text in grounding.tables:
        return text
    wanted = safe_identifier(text.rsplit(".", 1)[-1])
    by_name = next(
        (label for label in grounding.tables if label.rsplit(".", 1)[-1] == wanted), None
    )
    if by_name is not None:
        return by_name
    # a table the template keeps inside another ("grades" are enrolments with a letter_grade)
    word = singular(wanted.rsplit("_", 1)[-1])
    if len(word) < 4:
        return None
    for holds in (lambda c: c.split("_")[-1] == word, lambda c: word in c.split("_")):
        for label, table in grounding.tables.items():
            if any(holds(column) for column in table.column_names):
                return label
    return None


def _copied_table(table: TableProposal, grounding: Grounding | None) -> Table | None:
    if grounding is None or not table.template_table:
        return None
    label = resolve_template_table(table.template_table, grounding)
    return grounding.tables[label] if label is not None else None


def _column_names(table: TableProposal, grounding: Grounding | None) -> list[str]:
    copied = _copied_table(table, grounding)
    own = [safe_identifier(c.name) for c in table.columns]
    return [*(copied.column_names if copied is not None else []), *own]


def proposal_problems(proposal: SchemaProposal, grounding: Grounding | None = None) -> list[str]:
    """Everything that keeps a proposal from becoming a valid schema, phrased as instructions."""
    grounding = grounding or Grounding()
    problems: list[str] = []
    if not proposal.tables:
        return ["propose at least one table"]
    if len(proposal.tables) > MAX_TABLES:
        problems.append(f"propose at most {MAX_TABLES} tables")
    tables: dict[str, TableProposal] = {}
    for table in proposal.tables:
        name = safe_identifier(table.name)
        if name in tables:
            problems.append(f"table {name!r} appears twice; merge it into one table")
        tables[name] = table
    for name, table in tables.items():
        if table.template_table and _copied_table(table, grounding) is None:
            listed = sorted(grounding.tables) or "none"
            problems.append(
                f"table {name!r}: template_table {table.template_table!r} is not a listed "
                f"table (listed: {listed}); use a listed name or set it to null and give columns"
            )
            continue
        columns = _column_names(table, grounding)
        own = [safe_identifier(c.name) for c in table.columns]
        if not columns:
            problems.append(f"table {name!r} has no columns; give columns or a template_table")
            continue
        if len(columns) > MAX_COLUMNS:
            problems.append(f"table {name!r}: use at most {MAX_COLUMNS} columns")
        # a copied table's columns repeated among its own are ignored, not a problem
        duplicated = sorted({c for c in own if own.count(c) > 1})
        if duplicated:
            problems.append(f"table {name!r}: column names {duplicated} appear twice")
        for key in table.primary_key:
            if safe_identifier(key) not in columns:
                problems.append(f"table {name!r}: primary key {key!r} is not one of its columns")
        for column in table.columns:
            problems.extend(_column_problems(name, column, tables, grounding))
    if problems:
        return problems
    try:
        schema = proposal_to_schema(proposal, grounding, {})
    except (ValueError, ValidationError) as error:
        return [_first_line(error)]
    problems.extend(_rule_problems(proposal, schema))
    return problems


def _column_problems(
    table: str, column: ColumnProposal, tables: Mapping[str, TableProposal], grounding: Grounding
) -> list[str]:
    where = f"table {table!r} column {safe_identifier(column.name)!r}"
    problems: list[str] = []
    if column.min is not None and column.max is not None and column.min > column.max:
        problems.append(f"{where}: min {column.min} is above max {column.max}")
    if column.references:
        target = _reference_target(column.references, tables)
        if target is not None:
            ref_table, ref_column = target
            key = _primary_key(tables[ref_table], grounding)
            if len(key) != 1:
                problems.append(
                    f"{where} references {ref_table!r}, which needs a single-column primary key"
                )
            elif ref_column is not None and ref_column != key[0]:
                problems.append(
                    f"{where} references {ref_table}.{ref_column}; reference the primary key "
                    f"{ref_table}.{key[0]} instead"
                )
    if column.type == "category" and column.values is not None and len(set(column.values)) < 2:
        problems.append(f"{where}: a category needs at least two distinct values")
    return problems


def _rule_problems(proposal: SchemaProposal, schema: Schema) -> list[str]:
    problems: list[str] = []
    for table_proposal in proposal.tables:
        table = schema.table(safe_identifier(table_proposal.name))
        dtypes = {c.name: c.storage for c in table.columns}
        for expression in table_proposal.rules:
            try:
                compile_rule(expression, table.column_names, dtypes=dtypes)
            except RuleError as error:
                problems.append(
                    f"table {table.name!r} rule {expression!r}: {error}. A rule may only use "
                    f"this table's columns: {table.column_names}"
                )
    return problems


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(e.get("msg", "")) for e in error.errors())
    return str(error).splitlines()[0]


_KIND_TYPES: dict[str, tuple[StorageType, SemanticType, dict[str, Any]]] = {
    "id": (StorageType.integer, SemanticType.id, {}),
    "integer": (StorageType.integer, SemanticType.numeric, {"decimals": 0}),
    "decimal": (StorageType.float, SemanticType.numeric, {"decimals": 2}),
    "money": (StorageType.float, SemanticType.numeric, {"decimals": 2}),
    "text": (StorageType.string, SemanticType.text, {}),
    "category": (StorageType.string, SemanticType.categorical, {}),
    "boolean": (StorageType.boolean, SemanticType.boolean, {}),
    "date": (StorageType.datetime, SemanticType.datetime, {"datetime_format": "%Y-%m-%d"}),
    "datetime": (
        StorageType.datetime,
        SemanticType.datetime,
        {"datetime_format": "%Y-%m-%d %H:%M:%S"},
    ),
    "email": (StorageType.string, SemanticType.email, {"fake": "email"}),
    "phone": (StorageType.string, SemanticType.phone, {"fake": "phone"}),
    "person_name": (StorageType.string, SemanticType.text, {"fake": "full_name"}),
    "first_name": (StorageType.string, SemanticType.text, {"fake": "first_name"}),
    "last_name": (StorageType.string, SemanticType.text, {"fake": "last_name"}),
    "address": (StorageType.string, SemanticType.text, {"fake": "address"}),
    "city": (StorageType.string, SemanticType.categorical, {"fake": "city"}),
    "country": (StorageType.string, SemanticType.categorical, {"fake": "country"}),
    "company": (StorageType.string, SemanticType.text, {"fake": "company"}),
}
# what a template column may lend a proposed column of the same name and kind
_LENDABLE = ("allowed_values", "examples", "prior", "minimum", "maximum", "decimals", "fake")


def _bound(value: float | None, kind: str) -> float | str | None:
    if value is None or not math.isfinite(value):
        return None
    if kind in {"date", "datetime"}:
        return None  # dates as numbers are not meaningful bounds; templates supply them
    return int(value) if kind in {"integer", "id"} else float(value)


_PEOPLE = (
    "customer|employee|patient|student|member|user|doctor|teacher|contact|driver|passenger|"
    "guest|owner|author|manager|agent|client|person|player|applicant|donor|tenant|buyer|seller"
)
_KIND_BY_NAME: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"^(first_name|firstname|given_name|forename)$", "first_name"),
        (r"^(last_name|lastname|surname|family_name)$", "last_name"),
        (rf"^(full_name|person_name|({_PEOPLE})_name)$", "person_name"),
        (r"^(e_?mail|(\w+_)?email(_address)?)$", "email"),
        (r"^((\w+_)?(phone|mobile|telephone)(_number)?)$", "phone"),
        (
            r"^(address|street|street_address|(home|postal|billing|shipping|mailing)_address)$",
            "address",
        ),
        (r"^(city|town|(\w+_)?city)$", "city"),
        (r"^((\w+_)?country)$", "country"),
        (r"^(company|company_name|employer|organization|organisation)$", "company"),
    )
)


def kind_from_name(name: str, kind: str) -> str:
    """A plain text column whose name says what it holds (``email``, ``first_name``) gets that
    kind, so it is filled with realistic fakes; a small model often writes "text" for these."""
    if kind not in {"text", "category"}:
        return kind
    for pattern, named in _KIND_BY_NAME:
        if pattern.match(name):
            return named
    return kind


def _column(
    proposal: ColumnProposal, is_key: bool, grounding: Grounding, referenced: bool
) -> Column:
    name = safe_identifier(proposal.name)
    storage, semantic, extra = _KIND_TYPES[kind_from_name(name, proposal.type)]
    values: dict[str, Any] = {
        "name": name,
        "storage": storage,
        "semantic": semantic,
        "nullable": proposal.nullable and not is_key,
        "unique": is_key,
        "source": "declared",
        **extra,
    }
    minimum, maximum = _bound(proposal.min, proposal.type), _bound(proposal.max, proposal.type)
    if minimum is not None:
        values["minimum"] = minimum
    if maximum is not None:
        values["maximum"] = maximum
    distinct = list(dict.fromkeys(v.strip() for v in proposal.values or [] if v.strip()))
    if proposal.type == "category" and len(distinct) >= 2:
        values["allowed_values"] = distinct
    elif proposal.type in {"text", "category"} and distinct:
        values["examples"] = distinct
    template = grounding.columns.get(name)
    if template is not None and not referenced and template.storage == storage:
        for field in _LENDABLE:
            lent = getattr(template, field)
            if lent is not None and field not in values and not _conflicts(field, values):
                values[field] = lent
    return Column(**values)


def _conflicts(field: str, values: Mapping[str, Any]) -> bool:
    """A template's vocabulary never overrides values the proposal gave itself."""
    has_vocabulary = "allowed_values" in values or "examples" in values
    if field in {"allowed_values", "examples"} and has_vocabulary:
        return True
    if field == "prior" and has_vocabulary:
        return True
    return field in {"minimum", "maximum"} and ("minimum" in values or "maximum" in values)


def _mentioned(name: str, words: str) -> bool:
    return any(re.search(rf"\b{re.escape(alias)}\b", words) for alias in table_aliases(name))


def _parents(
    table: TableProposal,
    tables: Mapping[str, TableProposal],
    copies: Mapping[str, str],
    grounding: Grounding,
) -> set[str]:
    """Tables this one's foreign keys point at, among the proposal's."""
    parents = {
        target[0]
        for c in table.columns
        if c.references and (target := _reference_target(c.references, tables))
    }
    copied = _copied_table(table, grounding)
    if copied is not None:
        template = (resolve_template_table(table.template_table or "", grounding) or "").split(".")[
            0
        ]
        for fk in copied.foreign_keys:
            parent = copies.get(f"{template}.{fk.ref_table}") or (
                fk.ref_table if fk.ref_table in tables else None
            )
            if parent is not None:
                parents.add(parent)
    return parents


def without_unrequested_tables(
    proposal: SchemaProposal, request_text: str, grounding: Grounding
) -> tuple[SchemaProposal, list[str]]:
    """Keep the tables the request names and the tables they point at; a small model tends to
    copy a whole template. A request that names none of the proposed tables keeps them all."""
    tables = {safe_identifier(t.name): t for t in proposal.tables}
    words = " ".join(re.findall(r"[a-z0-9]+", request_text.lower().replace("_", " ")))
    keep = {name for name in tables if _mentioned(name, words)}
    if not keep:
        return proposal, []
    copies = {
        label: name
        for name, t in tables.items()
        if t.template_table and (label := resolve_template_table(t.template_table, grounding))
    }
    frontier = set(keep)
    while frontier:
        parents = set().union(*(_parents(tables[n], tables, copies, grounding) for n in frontier))
        frontier = parents - keep
        keep |= frontier
    dropped = [name for name in tables if name not in keep]
    kept = [t for t in proposal.tables if safe_identifier(t.name) in keep]
    return proposal.model_copy(update={"tables": kept}), dropped


def unresolved_references(proposal: SchemaProposal) -> list[str]:
    """Columns whose reference names a table the proposal does not have: they are kept as
    plain columns (as keys to tables left out of a copied template are dropped)."""
    tables = {safe_identifier(t.name): t for t in proposal.tables}
    return [
        f"{safe_identifier(t.name)}.{safe_identifier(c.name)} -> {c.references}"
        for t in proposal.tables
        for c in t.columns
        if c.references and _reference_target(c.references, tables) is None
    ]


def proposal_to_schema(
    proposal: SchemaProposal, grounding: Grounding, row_counts: Mapping[str, int]
) -> Schema:
    """The full schema for a proposal. ``row_counts`` (from the request's own words) win over
    the proposal's, which win over a copied template table's; a table with none of them gets
    rows from its parents or a default."""
    tables = {safe_identifier(t.name): t for t in proposal.tables}
    copies = {
        label: name
        for name, t in tables.items()
        if t.template_table and (label := resolve_template_table(t.template_table, grounding))
    }
    rows = _row_counts(tables, row_counts, grounding)
    built: list[Table] = []
    for name, table in tables.items():
        base = _adapted_copy(name, table, copies, tables, grounding)
        present = set(base.column_names)
        key = [k for k in _primary_key(table, grounding) if k in present] or _primary_key(table)
        foreign_keys = list(base.foreign_keys)
        columns = list(base.columns)
        for column in table.columns:
            column_name = safe_identifier(column.name)
            if column_name in present:
                continue
            target = _reference_target(column.references, tables) if column.references else None
            if target is not None:
                foreign_keys.append(
                    ForeignKey(
                        columns=[column_name],
                        ref_table=target[0],
                        ref_columns=_primary_key(tables[target[0]], grounding),
                    )
                )
            is_single_key = key == [column_name]
            columns.append(_column(column, is_single_key, grounding, target is not None))
        by_column = {fk.columns[0]: fk for fk in foreign_keys}
        columns = [_as_reference(c, by_column) for c in columns]
        foreign_keys = [
            _with_cardinality(fk, rows[name], rows[fk.ref_table]) for fk in foreign_keys
        ]
        own_rules = [
            Rule(name=f"{name}_rule_{i + 1}", expression=expression.strip(), source="declared")
            for i, expression in enumerate(table.rules)
            if expression.strip()
        ]
        built.append(
            base.model_copy(
                update={
                    "columns": columns,
                    "primary_key": key or None,
                    "foreign_keys": foreign_keys,
                    "rules": [*base.rules, *own_rules],
                    "row_count": rows[name],
                }
            )
        )
    built = _junction_rows_within_reach(built, row_counts)
    return Schema(tables=_keys_typed_as_their_parents(built))


def _junction_rows_within_reach(tables: list[Table], stated: Mapping[str, int]) -> list[Table]:
    """A table keyed by two or more foreign keys (grades by student and course) holds at most one
    row per combination of parents; an unstated row count above a quarter of that is lowered to
    it, so 120 students and 10 courses do not get 7,000 grades."""
    rows = {t.name: t.row_count or DEFAULT_ROWS for t in tables}
    out = []
    for table in tables:
        keys = [set(table.primary_key or [])] + [
            set(k.columns) for k in table.constraints if isinstance(k, UniqueKey)
        ]
        reaches = []
        partners: dict[str, int] = {}  # a key column's most children per parent
        for key in keys:
            parents = [fk for fk in table.foreign_keys if set(fk.columns) <= key]
            if len(parents) >= 2 and {c for fk in parents for c in fk.columns} == key:
                sizes = [rows.get(fk.ref_table, DEFAULT_ROWS) for fk in parents]
                reaches.append(math.prod(sizes))
                for fk, size in zip(parents, sizes, strict=True):
                    partners[fk.columns[0]] = max(1, math.prod(sizes) // size)
        if partners:
            table = table.model_copy(
                update={"foreign_keys": [_bounded(fk, partners) for fk in table.foreign_keys]}
            )
        if not reaches or table.name in stated:
            out.append(table)
            continue
        # a quarter: children per parent vary, and the busiest parent must still find partners
        limit = max(1, min(reaches) // 4)
        if (table.row_count or 0) <= limit:
            out.append(table)
            continue
        out.append(table.model_copy(update={"row_count": limit}))
    # the lowered tables' own keys and their children's keys re-fit to the final row counts
    final = {t.name: t.row_count or DEFAULT_ROWS for t in out}
    return [
        t.model_copy(
            update={
                "foreign_keys": [
                    _with_cardinality(fk, final[t.name], final.get(fk.ref_table, DEFAULT_ROWS))
                    for fk in t.foreign_keys
                ]
            }
        )
        if any(
            final[t.name] != rows[t.name] or final.get(fk.ref_table) != rows.get(fk.ref_table)
            for fk in t.foreign_keys
        )
        else t
        for t in out
    ]


def _bounded(fk: ForeignKey, partners: Mapping[str, int]) -> ForeignKey:
    """A junction key's children per parent never exceed the partners it can pair with."""
    most = partners.get(fk.columns[0])
    card = fk.cardinality
    if most is None or card is None or (card.max is not None and card.max <= most):
        return fk
    low = min(card.min, most)
    mean = None if card.mean is None else min(max(card.mean, low), most)
    return fk.model_copy(update={"cardinality": Cardinality(min=low, max=most, mean=mean)})


def _keys_typed_as_their_parents(tables: list[Table]) -> list[Table]:
    """A foreign key column stores what its parent's key stores: a column the LLM wrote as an
    "id" that points at a copied table keyed by text (airports.airport_code) holds text."""
    by_name = {t.name: t for t in tables}
    out = []
    for table in tables:
        storage: dict[str, StorageType] = {}
        for fk in table.foreign_keys:
            parent = by_name.get(fk.ref_table)
            if parent is None:
                continue
            for child, key in zip(fk.columns, fk.ref_columns, strict=False):
                if key in parent.column_names:
                    storage[child] = parent.column(key).storage
        columns = [
            c.model_copy(update={"storage": storage[c.name]})
            if c.name in storage and c.storage != storage[c.name]
            else c
            for c in table.columns
        ]
        out.append(table.model_copy(update={"columns": columns}))
    return out


def _adapted_copy(
    name: str,
    table: TableProposal,
    copies: Mapping[str, str],
    tables: Mapping[str, TableProposal],
    grounding: Grounding,
) -> Table:
    """A copied template table under its new name: foreign keys point at the proposal's tables;
    a key to a table the proposal left out goes, with its columns and the rules that use them."""
    copied = _copied_table(table, grounding)
    if copied is None:
        return Table(name=name, columns=[])
    template = (resolve_template_table(table.template_table or "", grounding) or "").split(".")[0]
    dropped: set[str] = set()
    foreign_keys: list[ForeignKey] = []
    for fk in copied.foreign_keys:
        parent = copies.get(f"{template}.{fk.ref_table}")
        if fk.ref_table == copied.name:
            parent = name
        elif parent is None and fk.ref_table in tables:
            if _primary_key(tables[fk.ref_table], grounding) == fk.ref_columns:
                parent = fk.ref_table
        if parent is None:
            dropped.update(fk.columns)
            continue
        foreign_keys.append(fk.model_copy(update={"ref_table": parent}))
    key = copied.primary_key or []
    return Table(
        name=name,
        description=copied.description,
        columns=[c for c in copied.columns if c.name not in dropped],
        primary_key=None if set(key) & dropped else copied.primary_key,
        constraints=[c for c in copied.constraints if not set(c.columns) & dropped],
        rules=[
            r
            for r in copied.rules
            if not referenced_columns(compile_rule(r.expression, copied.column_names)) & dropped
        ],
        foreign_keys=foreign_keys,
    )


def _with_cardinality(fk: ForeignKey, child_rows: int, parent_rows: int) -> ForeignKey:
    """A template's bounds are kept when the row counts asked for can meet them."""
    mean = child_rows / max(parent_rows, 1)
    card = fk.cardinality
    if card is not None:
        high = card.max if card.max is not None else math.inf
        if card.min * parent_rows <= child_rows <= high * parent_rows:
            return fk.model_copy(update={"cardinality": card.model_copy(update={"mean": mean})})
    return fk.model_copy(update={"cardinality": Cardinality(min=0, mean=mean)})


def _as_reference(column: Column, foreign_keys: Mapping[str, ForeignKey]) -> Column:
    if column.name not in foreign_keys:
        return column
    return column.model_copy(
        update={"storage": StorageType.integer, "semantic": SemanticType.id, "fake": None}
    )


def _row_counts(
    tables: Mapping[str, TableProposal], requested: Mapping[str, int], grounding: Grounding
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, table in tables.items():
        copied = _copied_table(table, grounding)
        if name in requested:
            counts[name] = int(requested[name])
        elif table.rows is not None and table.rows >= 1:
            counts[name] = min(int(table.rows), MAX_ROWS_PER_TABLE)
        elif copied is not None and copied.row_count:
            counts[name] = copied.row_count
    for name, table in tables.items():
        if name in counts:
            continue
        parents = [
            counts.get(target[0], DEFAULT_ROWS)
            for c in table.columns
            if c.references and (target := _reference_target(c.references, tables))
        ]
        counts[name] = max(parents) * 3 if parents else DEFAULT_ROWS
    return counts


def requested_table_counts(
    schema_tables: Iterable[str], mentions: Mapping[str, int]
) -> dict[str, int]:
    """Counts the request gives by word ('50 customers') matched to the proposal's tables."""
    matched: dict[str, int] = {}
    for table in schema_tables:
        aliases = table_aliases(table)
        for word, count in mentions.items():
            if word in aliases or singular(word) in aliases:
                matched[table] = count
    return matched


def describe_schema(schema: Schema) -> list[str]:
    """One line per table, for the proposal shown to the user."""
    lines: list[str] = []
    for table in schema.tables:
        parts = []
        for column in table.columns:
            mark = " (key)" if column.name in (table.primary_key or []) else ""
            ref = next((fk for fk in table.foreign_keys if column.name in fk.columns), None)
            if ref is not None:
                mark = f" -> {ref.ref_table}.{ref.ref_columns[0]}"
            parts.append(f"{column.name}: {_kind_label(column)}{mark}")
        lines.append(f"{table.name} ({table.row_count:,} rows): " + ", ".join(parts))
        lines.extend(f"    rule: {rule.expression}" for rule in table.rules)
    return lines


def _kind_label(column: Column) -> str:
    if column.fake:
        return column.fake
    if column.allowed_values:
        shown = ", ".join(str(v) for v in column.allowed_values[:5])
        more = ", ..." if len(column.allowed_values) > 5 else ""
        return f"one of [{shown}{more}]"
    return f"{column.semantic.value}"


def compact_table_lines(tables: Mapping[str, Table]) -> list[str]:
    """Template tables shown to the LLM, one short line each under the name it may copy
    ('template.table'), so a 1.5B model reads them fast."""
    lines = []
    for label, table in tables.items():
        columns = []
        for column in table.columns:
            text = column.name
            ref = next((fk for fk in table.foreign_keys if column.name in fk.columns), None)
            if ref is not None:
                text += f"->{ref.ref_table}"
            columns.append(text)
        lines.append(f"{label}: {', '.join(columns)}")
    return lines


# names too generic to say a request wants a template's table of that name
_GENERIC_TABLE_NAMES = frozenset({"tables", "table", "rows", "data", "records", "items", "details"})


def _thing_aliases(names: Iterable[str]) -> set[str]:
    return set().union(*(table_aliases(n) for n in names)) | {safe_identifier(n) for n in names}


def named_template_things(request_text: str, grounding: Grounding) -> list[tuple[str, ...]]:
    """Listed template tables the request names by their plural names ('policyholders')."""
    words = " ".join(re.findall(r"[a-z0-9]+", request_text.lower().replace("_", " ")))
    things: list[tuple[str, ...]] = []
    for label in grounding.tables:
        name = safe_identifier(label.rsplit(".", 1)[-1])
        if name in _GENERIC_TABLE_NAMES:
            continue
        # the table's own (plural) name only: 'check-in' is not a request for 'check_ins'
        spoken = " ".join(name.split("_"))
        if re.search(rf"\b{re.escape(spoken)}\b", words) and (name,) not in things:
            things.append((name,))
    return things


def missing_things(
    proposal: SchemaProposal, things: Iterable[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The things (each a tuple of names a table for it may have) no proposed table holds."""
    held = [table_aliases(t.name) | {safe_identifier(t.name)} for t in proposal.tables]
    return [thing for thing in things if not any(h & _thing_aliases(thing) for h in held)]


def with_template_tables_for(
    proposal: SchemaProposal, things: Iterable[tuple[str, ...]], grounding: Grounding
) -> tuple[SchemaProposal, list[str]]:
    """A thing the request names that the proposal left out, added as a copy of the listed
    template table of that name when there is one (the retrieval found it for the request)."""
    added: list[TableProposal] = []
    for thing in missing_things(proposal, things):
        aliases = _thing_aliases(thing)
        label = next(
            (
                label
                for label in grounding.tables
                if table_aliases(label.rsplit(".", 1)[-1]) & aliases
                and safe_identifier(label.rsplit(".", 1)[-1]) not in _GENERIC_TABLE_NAMES
            ),
            None,
        )
        taken = {safe_identifier(t.name) for t in [*proposal.tables, *added]}
        name = safe_identifier(label.rsplit(".", 1)[-1]) if label else ""
        if label is not None and name not in taken:
            added.append(TableProposal(name=name, template_table=label))
    if not added:
        return proposal, []
    return (
        proposal.model_copy(update={"tables": [*proposal.tables, *added]}),
        [t.name for t in added],
    )


def missing_thing_problem(thing: tuple[str, ...]) -> str:
    return (
        f"the request asks for {thing[0]!r} but no table holds them; add a table named "
        f"{thing[0]!r} (copy a listed table that fits, or give its columns)"
    )


def without_unknown_templates(
    proposal: SchemaProposal, grounding: Grounding
) -> tuple[SchemaProposal, list[str]]:
    """A table that names a template table nobody listed but gives columns of its own keeps
    its columns and drops the made-up template name."""
    fixed: list[str] = []
    tables = []
    for table in proposal.tables:
        if (
            table.template_table
            and table.columns
            and resolve_template_table(table.template_table, grounding) is None
        ):
            fixed.append(f"{safe_identifier(table.name)} ({table.template_table})")
            table = table.model_copy(update={"template_table": None})
        tables.append(table)
    return proposal.model_copy(update={"tables": tables}), fixed


def without_self_key_references(proposal: SchemaProposal) -> SchemaProposal:
    """A key column that 'references' itself ('reviews.review_id' on reviews.review_id) is the
    table's own key, not a relationship: a small model sometimes writes one; the reference goes."""
    tables = {safe_identifier(t.name): t for t in proposal.tables}
    cleaned = []
    for name, table in tables.items():
        columns = []
        for column in table.columns:
            target = _reference_target(column.references, tables) if column.references else None
            own = safe_identifier(column.name)
            if target is not None and target[0] == name and target[1] in (None, own):
                if target[1] == own or own == f"{singular(name)}_id":
                    column = column.model_copy(update={"references": None})
            columns.append(column)
        cleaned.append(table.model_copy(update={"columns": columns}))
    return proposal.model_copy(update={"tables": cleaned})
