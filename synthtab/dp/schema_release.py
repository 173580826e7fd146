"""The schema of a differentially private run: what inference read off the data is dropped, and
the bounds and category sets are the DP model's releases (or declared).

Why the model releases them, not the profiler: the model's fit is one zCDP block, and bounds and
category sets inside it cost a share of its rho; a separate (epsilon, delta) step before it
would compose sequentially, and at epsilon 1 a schema step with a tenth of the rho would cost
about a third of the epsilon (epsilon grows like the square root of rho).

What stays as inferred: column names, storage and semantic types, precision (decimals, date
formats): format metadata, treated as public, as ``synthtab.dp.domain`` does (declare them with
--schema to keep them out of the data's hands entirely). What goes: ranges, value lists, null
fractions, value patterns, examples, evidence strings, uniqueness and every constraint found in
the data; the declared ones stay (they are public and cost nothing).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from synthtab.dp.domain import ColumnDomain, needs_bounds, needs_categories
from synthtab.schema import Column, SemanticType, Table, TableDeclaration


@runtime_checkable
class PrivateSynthesizer(Protocol):
    """A DP model: it says what its fit spent, which domains it released and the noisy row
    count it may state."""

    def privacy_spent(self) -> dict[str, Any]: ...

    def released_domains(self) -> list[ColumnDomain]: ...

    def released_row_count(self) -> int | None: ...


def _declared_fields(declaration: TableDeclaration | None) -> dict[str, set[str]]:
    if declaration is None:
        return {}
    return {c.name: set(c.model_dump(exclude_none=True)) - {"name"} for c in declaration.columns}


def strip_inferred(table: Table, declaration: TableDeclaration | None) -> tuple[Table, list[str]]:
    """The table without what inference read off the values (declared fields kept), and a
    list of what was dropped, for the report."""
    declared = _declared_fields(declaration)
    dropped: list[str] = []
    columns: list[Column] = []
    for column in table.columns:
        kept = declared.get(column.name, set())
        update: dict[str, Any] = {}
        for name, empty in (
            ("minimum", None),
            ("maximum", None),
            ("allowed_values", None),
            ("null_fraction", None),
            ("pattern", None),
            ("examples", None),
            ("prior", None),
        ):
            if name not in kept and getattr(column, name) is not None:
                update[name] = empty
        if "nullable" not in kept and not column.nullable:
            update["nullable"] = True  # "no nulls seen" is a fact about the rows
        if "unique" not in kept and column.unique and column.semantic != SemanticType.id:
            update["unique"] = False
        if column.evidence:
            update["evidence"] = []
        if update:
            dropped.append(
                f"{column.name}: {', '.join(k for k in update if k != 'evidence') or 'evidence'}"
            )
            columns.append(column.model_copy(update=update))
        else:
            columns.append(column)
    constraints = [c for c in table.constraints if c.source == "declared"]
    if len(constraints) < len(table.constraints):
        dropped.append(
            f"{len(table.constraints) - len(constraints)} constraint(s) found in the data"
        )
    primary_key = table.primary_key if declaration and declaration.primary_key else None
    stripped = table.model_copy(
        update={
            "columns": columns,
            "constraints": constraints,
            "primary_key": primary_key,
            "row_count": None,
        }
    )
    return stripped, dropped


def _bound(value: float, domain: ColumnDomain) -> float | str:
    if domain.kind == "datetime":
        stamp = pd.Timestamp(np.datetime64(int(round(value)), domain.unit))
        return stamp.isoformat()
    if domain.resolution >= 1.0:
        return float(round(value))
    return float(value)


def table_with_domains(table: Table, domains: list[ColumnDomain]) -> Table:
    """The table with the bounds and category sets a DP model released (post-processing of its
    release, free): the validator then holds the synthetic rows to them, and schema.json shows
    them."""
    by_name = {domain.name: domain for domain in domains}
    columns: list[Column] = []
    for column in table.columns:
        domain = by_name.get(column.name)
        update: dict[str, Any] = {}
        if domain is not None and needs_bounds(column) and domain.kind in ("numeric", "datetime"):
            if column.minimum is None:
                update["minimum"] = _bound(domain.low, domain)
            if column.maximum is None:
                update["maximum"] = _bound(domain.high, domain)
        if domain is not None and needs_categories(column) and domain.kind == "categorical":
            update["allowed_values"] = list(domain.categories)
        columns.append(column.model_copy(update=update) if update else column)
    return table.model_copy(update={"columns": columns})
