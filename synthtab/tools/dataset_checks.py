"""Checks over a whole multi-table dataset: each table's constraints and rules, and the links.

``check_dataset`` runs :func:`~synthtab.tools.constraints.validate_table` on every table (types,
ranges, NOT NULL, primary and unique keys, inequalities, rules) and adds what no single table
can say: every foreign key resolves to a row of its parent (orphans counted, with examples),
child rows per parent stay within the declared cardinality, and each table has the rows the
schema asks for. A foreign key with a null part references nothing and passes, as in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, computed_field

from synthtab.schema.model import Cardinality, Schema, Table
from synthtab.tools.constraints import CheckResult, validate_table

__all__ = [
    "CardinalityCheck",
    "DatasetCheck",
    "ForeignKeyCheck",
    "TableCheck",
    "check_dataset",
]

MAX_EXAMPLES = 5


class TableCheck(BaseModel):
    """One table's own checks (a ValidationResult, summarised) and its row count."""

    table: str
    rows: int
    expected_rows: int | None = None
    violating_rows: int
    failed_checks: list[CheckResult] = Field(default_factory=list)
    checks_run: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        rows_ok = self.expected_rows is None or self.rows == self.expected_rows
        return self.violating_rows == 0 and rows_ok


class CardinalityCheck(BaseModel):
    """Child rows per parent row against the declared bounds."""

    declared: Cardinality
    parents: int
    smallest: int
    largest: int
    mean: float
    parents_below_min: int
    parents_above_max: int
    example_parents: list[dict[str, Any]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.parents_below_min == 0 and self.parents_above_max == 0


class ForeignKeyCheck(BaseModel):
    table: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    checked_rows: int
    orphans: int
    orphan_examples: list[dict[str, Any]] = Field(default_factory=list)
    cardinality: CardinalityCheck | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.orphans == 0 and (self.cardinality is None or self.cardinality.ok)

    @property
    def name(self) -> str:
        return (
            f"{self.table}({', '.join(self.columns)}) -> "
            f"{self.ref_table}({', '.join(self.ref_columns)})"
        )


class DatasetCheck(BaseModel):
    ok: bool
    tables: dict[str, TableCheck]
    foreign_keys: list[ForeignKeyCheck]
    foreign_key_violations: int = Field(description="orphan rows over every foreign key")
    missing_tables: list[str] = Field(default_factory=list)
    extra_tables: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="one line per failed check")


def _key_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Key columns as comparable text (5, 5.0 and '5' are one key, as a database sees them)."""
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values.dtype):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(numbers) & (np.floor(numbers) == numbers)
            text = values.astype("string")
            integral = pd.Series(numbers, index=values.index).where(whole).astype("Int64")
            out[column] = text.mask(whole, integral.astype("string"))
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[column] = values.map(lambda v: None if pd.isna(v) else v.isoformat()).astype(
                "string"
            )
        else:
            out[column] = values.astype("string")
    return out


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, bool | int | float | str) else str(value)


def _check_foreign_key(
    child: pd.DataFrame,
    table: Table,
    index: int,
    parent: pd.DataFrame,
) -> ForeignKeyCheck:
    fk = table.foreign_keys[index]
    child_keys = _key_text(child, fk.columns)
    parent_keys = _key_text(parent, fk.ref_columns)
    parent_keys.columns = fk.columns
    complete = child_keys.notna().all(axis=1).to_numpy()
    known = pd.MultiIndex.from_frame(parent_keys.dropna())
    present = pd.MultiIndex.from_frame(child_keys.fillna(""))
    resolves = present.isin(known)
    orphan = complete & ~resolves
    examples = [
        {"_row": int(i), **{c: _json_value(child[c].iat[i]) for c in fk.columns}}
        for i in np.flatnonzero(orphan)[:MAX_EXAMPLES]
    ]
    cardinality = None
    if fk.cardinality is not None:
        cardinality = _check_cardinality(child_keys[complete], parent_keys, fk.cardinality)
    return ForeignKeyCheck(
        table=table.name,
        columns=list(fk.columns),
        ref_table=fk.ref_table,
        ref_columns=list(fk.ref_columns),
        checked_rows=int(complete.sum()),
        orphans=int(orphan.sum()),
        orphan_examples=examples,
        cardinality=cardinality,
    )


def _check_cardinality(
    child_keys: pd.DataFrame, parent_keys: pd.DataFrame, declared: Cardinality
) -> CardinalityCheck:
    parents = parent_keys.dropna().drop_duplicates()
    counts = child_keys.value_counts()
    per_parent = (
        counts.reindex(pd.MultiIndex.from_frame(parents), fill_value=0).to_numpy()
        if len(parents)
        else np.zeros(0, dtype=np.int64)
    )
    below = per_parent < declared.min
    above = (
        per_parent > declared.max if declared.max is not None else np.zeros_like(below, dtype=bool)
    )
    bad = np.flatnonzero(below | above)[:MAX_EXAMPLES]
    examples = [
        {**{c: parents[c].iat[i] for c in parents.columns}, "_children": int(per_parent[i])}
        for i in bad
    ]
    return CardinalityCheck(
        declared=declared,
        parents=len(parents),
        smallest=int(per_parent.min()) if len(per_parent) else 0,
        largest=int(per_parent.max()) if len(per_parent) else 0,
        mean=float(per_parent.mean()) if len(per_parent) else 0.0,
        parents_below_min=int(below.sum()),
        parents_above_max=int(above.sum()),
        example_parents=examples,
    )


def check_dataset(
    frames: Mapping[str, pd.DataFrame],
    schema: Schema,
    expected_rows: Mapping[str, int] | None = None,
) -> DatasetCheck:
    """Every table and every link of ``frames`` checked against ``schema``.

    ``expected_rows`` (table -> rows) defaults to the tables' ``row_count``; a table with
    neither is not checked for its count. Raises ValueError when a frame lacks a column of its
    table (see validate_table).
    """
    wanted = {t.name: t.row_count for t in schema.tables} | dict(expected_rows or {})
    names = [t.name for t in schema.tables]
    missing = [n for n in names if n not in frames]
    extra = sorted(set(frames) - set(names))
    problems = [f"table {n!r} is missing" for n in missing]
    problems += [f"table {n!r} is not in the schema" for n in extra]
    tables: dict[str, TableCheck] = {}
    for table in schema.tables:
        if table.name not in frames:
            continue
        frame = frames[table.name]
        result = validate_table(frame, table)
        check = TableCheck(
            table=table.name,
            rows=len(frame),
            expected_rows=wanted.get(table.name),
            violating_rows=result.violating_rows,
            failed_checks=result.failed_checks,
            checks_run=len(result.checks),
        )
        tables[table.name] = check
        for failed in check.failed_checks:
            problems.append(
                f"table {table.name!r}: {failed.name} fails in {failed.violations:,} rows"
            )
        if check.expected_rows is not None and check.rows != check.expected_rows:
            problems.append(
                f"table {table.name!r}: {check.rows:,} rows, {check.expected_rows:,} expected"
            )
    links: list[ForeignKeyCheck] = []
    for table in schema.tables:
        for index, fk in enumerate(table.foreign_keys):
            if table.name not in frames or fk.ref_table not in frames:
                continue
            link = _check_foreign_key(frames[table.name], table, index, frames[fk.ref_table])
            links.append(link)
            if link.orphans:
                problems.append(
                    f"foreign key {link.name}: {link.orphans:,} rows reference no parent row"
                )
            if link.cardinality is not None and not link.cardinality.ok:
                card = link.cardinality
                problems.append(
                    f"foreign key {link.name}: {card.parents_below_min:,} parents have fewer "
                    f"than {card.declared.min} children and {card.parents_above_max:,} more "
                    f"than {card.declared.max}"
                )
    return DatasetCheck(
        ok=not problems,
        tables=tables,
        foreign_keys=links,
        foreign_key_violations=sum(link.orphans for link in links),
        missing_tables=missing,
        extra_tables=extra,
        problems=problems,
    )
