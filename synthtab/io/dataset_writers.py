"""Writing a multi-table dataset: CSV, Excel, SQL, Parquet, JSON, or straight into a database.

Every file is written atomically (see :mod:`synthtab.io.writers`): it is complete or absent.
Tables go out parents first, so a script or a database with foreign keys switched on accepts
each row as it arrives.

The SQL script is portable between SQLite and PostgreSQL: identifiers in double quotes, text in
single quotes with quotes doubled (no backslash escapes), ``TRUE``/``FALSE``, datetimes as ISO
text, BIGINT / DOUBLE PRECISION / TEXT / BOOLEAN / DATE / TIMESTAMP columns.
"""

from __future__ import annotations

import json
import math
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd

from synthtab.io.errors import OutputError
from synthtab.io.writers import (
    atomic_destination,
    check_excel_limits,
    check_excel_text,
    excel_cell,
    excel_column,
    python_column,
    write_table,
    write_text,
)
from synthtab.schema.chat_request import DATASET_FORMATS, DatasetFormat
from synthtab.schema.model import Column, Schema, StorageType, Table, UniqueKey

__all__ = [
    "DATASET_FORMATS",
    "DatasetFormat",
    "dataset_table_order",
    "excel_sheet_names",
    "parse_formats",
    "sql_script",
    "write_dataset",
    "write_to_database",
]

INSERT_BATCH_ROWS = 500
EXCEL_WORKBOOK_NAME = "dataset.xlsx"
SQL_SCRIPT_NAME = "dataset.sql"
EXCEL_SHEET_NAME_MAX = 31
_EXCEL_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def parse_formats(text: str) -> list[DatasetFormat]:
    """``"csv,xlsx"`` -> ``["csv", "xlsx"]`` (case and spaces ignored, repeats dropped)."""
    chosen: list[DatasetFormat] = []
    words = [w.strip().lower() for w in text.split(",")]
    if not any(words):
        raise OutputError(f"no output format given; choose from {', '.join(DATASET_FORMATS)}")
    for word in words:
        if not word:
            continue
        if word == "excel":
            word = "xlsx"
        if word not in DATASET_FORMATS:
            raise OutputError(
                f"unknown output format {word!r}; choose from {', '.join(DATASET_FORMATS)} "
                "(several may be given, comma-separated)"
            )
        fmt = typing.cast(DatasetFormat, word)
        if fmt not in chosen:
            chosen.append(fmt)
    return chosen


def dataset_table_order(schema: Schema) -> list[str]:
    """Table names parents first (self-references ignored); cycles keep the schema's order."""
    parents = {
        t.name: {fk.ref_table for fk in t.foreign_keys if fk.ref_table != t.name}
        for t in schema.tables
    }
    order: list[str] = []
    pending = [t.name for t in schema.tables]
    while pending:
        ready = [n for n in pending if parents[n] <= set(order)]
        chosen = ready[0] if ready else pending[0]  # a cycle: no order satisfies it anyway
        order.append(chosen)
        pending.remove(chosen)
    return order


def _frame_of(frames: Mapping[str, pd.DataFrame], table: Table) -> pd.DataFrame:
    if table.name not in frames:
        raise OutputError(f"no data for table {table.name!r}", table=table.name)
    frame = frames[table.name]
    missing = [c for c in table.column_names if c not in frame.columns]
    if missing:
        raise OutputError(f"the data lacks column(s) {missing}", table=table.name)
    return frame[table.column_names]


# --------------------------------------------------------------------------------------------
# files


def excel_sheet_names(tables: Sequence[str]) -> dict[str, str]:
    """A valid, distinct Excel sheet name per table: at most 31 characters, none of ``[]:*?/\\``,
    distinct ignoring case (Excel's rule), not the reserved ``History``."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for table in tables:
        base = _EXCEL_SHEET_FORBIDDEN.sub("_", table).strip("'") or "table"
        if base.lower() == "history":
            base = f"{base}_"
        candidate = base[:EXCEL_SHEET_NAME_MAX]
        counter = 2
        while candidate.lower() in taken:
            suffix = f"~{counter}"
            candidate = base[: EXCEL_SHEET_NAME_MAX - len(suffix)] + suffix
            counter += 1
        taken.add(candidate.lower())
        names[table] = candidate
    return names


def _write_workbook(frames: Mapping[str, pd.DataFrame], target: Path) -> None:
    sheets = excel_sheet_names(list(frames))
    prepared: list[tuple[str, list[str], list[list[Any]]]] = []
    for table, frame in frames.items():
        check_excel_limits(frame, target)
        names = [str(n) for n in frame.columns]
        for name in names:
            check_excel_text(name, name, 1, target)
        prepared.append((sheets[table], names, [excel_column(frame[n], n, target) for n in names]))
    with atomic_destination(target) as temp:
        workbook = openpyxl.Workbook(write_only=True)
        for title, names, columns in prepared:
            sheet = workbook.create_sheet(title=title)
            sheet.append(names)
            for row in zip(*columns, strict=True):
                sheet.append([excel_cell(sheet, v) for v in row])
        workbook.save(temp)


def _json_records(frame: pd.DataFrame) -> str:
    names = [str(n) for n in frame.columns]
    columns = [python_column(frame[n]) for n in frame.columns]
    records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return json.dumps(records, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def write_dataset(
    frames: Mapping[str, pd.DataFrame],
    schema: Schema,
    out_dir: Path,
    formats: Sequence[DatasetFormat],
) -> list[Path]:
    """Write every table in every format under ``out_dir``; returns the paths written.

    csv, parquet, json: one file per table (``<table>.csv``; json is an array of records);
    xlsx: ``dataset.xlsx`` with one sheet per table; sql: ``dataset.sql``.
    """
    out_dir = Path(out_dir)
    unknown = [f for f in formats if f not in DATASET_FORMATS]
    if unknown:
        raise OutputError(
            f"unknown output format {unknown[0]!r}; choose from {', '.join(DATASET_FORMATS)}"
        )
    ordered = {name: _frame_of(frames, schema.table(name)) for name in dataset_table_order(schema)}
    paths: list[Path] = []
    for fmt in formats:
        if fmt in ("csv", "parquet"):
            for name, frame in ordered.items():
                paths.append(write_table(frame, out_dir / f"{name}.{fmt}", fmt))
        elif fmt == "json":
            for name, frame in ordered.items():
                paths.append(write_text(_json_records(frame), out_dir / f"{name}.json"))
        elif fmt == "xlsx":
            target = out_dir / EXCEL_WORKBOOK_NAME
            _write_workbook(ordered, target)
            paths.append(target)
        else:
            paths.append(write_text(sql_script(ordered, schema), out_dir / SQL_SCRIPT_NAME))
    return paths


# --------------------------------------------------------------------------------------------
# SQL


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_date_only(values: pd.Series) -> bool:
    present = values.dropna()
    return bool(len(present)) and bool((present == present.dt.normalize()).all())


def _as_datetimes(values: pd.Series, column: Column, table: str) -> pd.Series:
    """A datetime column's values as datetimes, whether held as datetimes or as text."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            return values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values
    parsed = pd.to_datetime(values, format=column.datetime_format or "ISO8601", errors="coerce")
    bad = parsed.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise OutputError(
            f"value {values.iat[row]!r} is not a date"
            + (f" in format {column.datetime_format!r}" if column.datetime_format else ""),
            table=table,
            column=column.name,
            row=row + 1,
            row_label="row",
        )
    return parsed


def _sql_type(column: Column, values: pd.Series) -> str:
    if column.storage == StorageType.integer:
        return "BIGINT"
    if column.storage == StorageType.float:
        return "DOUBLE PRECISION"
    if column.storage == StorageType.boolean:
        return "BOOLEAN"
    if column.storage == StorageType.datetime:
        return "DATE" if _is_date_only(values) else "TIMESTAMP"
    return "TEXT"


def _sql_literals(values: pd.Series, column: Column, table: str) -> list[str]:
    """Every value of a column as an SQL literal, NULL for every kind of null."""
    null = values.isna().to_numpy()
    if column.storage == StorageType.datetime:
        stamps = _as_datetimes(values, column, table)
        null = stamps.isna().to_numpy()
        fmt = "%Y-%m-%d" if _is_date_only(stamps) else "%Y-%m-%d %H:%M:%S"
        text = stamps.dt.strftime(fmt).to_numpy(dtype=object)
        return ["NULL" if n else f"'{t}'" for n, t in zip(null, text, strict=True)]
    plain = values.astype(object).tolist()
    out: list[str] = []
    for row, (value, missing) in enumerate(zip(plain, null, strict=True), start=1):
        if missing:
            out.append("NULL")
        elif column.storage == StorageType.boolean:
            out.append("TRUE" if _truth(value, column, table, row) else "FALSE")
        elif column.storage in (StorageType.integer, StorageType.float):
            out.append(_number_literal(value, column, table, row))
        else:
            out.append(_text_literal(str(value), column, table, row))
    return out


def _truth(value: Any, column: Column, table: str, row: int) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"true", "t", "yes", "y", "1", "1.0"}:
        return True
    if text in {"false", "f", "no", "n", "0", "0.0"}:
        return False
    raise OutputError(
        f"value {value!r} is not a boolean",
        table=table,
        column=column.name,
        row=row,
        row_label="row",
    )


def _number_literal(value: Any, column: Column, table: str, row: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OutputError(
            f"value {value!r} is not a number",
            table=table,
            column=column.name,
            row=row,
            row_label="row",
        ) from None
    if not math.isfinite(number):
        raise OutputError(
            f"value {value!r} has no SQL literal; SQL numbers are finite",
            table=table,
            column=column.name,
            row=row,
            row_label="row",
        )
    if column.storage == StorageType.integer:
        if not number.is_integer():
            raise OutputError(
                f"value {value!r} is not a whole number",
                table=table,
                column=column.name,
                row=row,
                row_label="row",
            )
        return str(int(value) if isinstance(value, int | np.integer) else int(number))
    return repr(number)


def _text_literal(text: str, column: Column, table: str, row: int) -> str:
    if "\x00" in text:
        raise OutputError(
            "a value holds a NUL character, which PostgreSQL text cannot store",
            table=table,
            column=column.name,
            row=row,
            row_label="row",
        )
    return "'" + text.replace("'", "''") + "'"


def _unique_keys(table: Table) -> list[list[str]]:
    keys = [[c.name] for c in table.columns if c.unique and [c.name] != table.primary_key]
    keys += [
        list(k.columns)
        for k in table.constraints
        if isinstance(k, UniqueKey) and list(k.columns) != table.primary_key
    ]
    distinct: list[list[str]] = []
    for key in keys:
        if key not in distinct:
            distinct.append(key)
    return distinct


def _create_table(table: Table, frame: pd.DataFrame) -> str:
    primary = set(table.primary_key or [])
    lines = []
    for column in table.columns:
        values = frame[column.name]
        if column.storage == StorageType.datetime:
            values = _as_datetimes(values, column, table.name)
        not_null = " NOT NULL" if not column.nullable or column.name in primary else ""
        lines.append(f"  {quote_identifier(column.name)} {_sql_type(column, values)}{not_null}")

    def listed(names: Sequence[str]) -> str:
        return ", ".join(quote_identifier(n) for n in names)

    if table.primary_key:
        lines.append(f"  PRIMARY KEY ({listed(table.primary_key)})")
    for key in _unique_keys(table):
        lines.append(f"  UNIQUE ({listed(key)})")
    for fk in table.foreign_keys:
        lines.append(
            f"  FOREIGN KEY ({listed(fk.columns)}) REFERENCES "
            f"{quote_identifier(fk.ref_table)} ({listed(fk.ref_columns)})"
        )
    return f"CREATE TABLE {quote_identifier(table.name)} (\n" + ",\n".join(lines) + "\n);\n"


def _insert_statements(table: Table, frame: pd.DataFrame) -> Iterator[str]:
    if frame.empty:
        return
    columns = [_sql_literals(frame[c.name], c, table.name) for c in table.columns]
    rows = [f"({', '.join(values)})" for values in zip(*columns, strict=True)]
    head = (
        f"INSERT INTO {quote_identifier(table.name)} "
        f"({', '.join(quote_identifier(c) for c in table.column_names)}) VALUES\n"
    )
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        yield head + ",\n".join(rows[start : start + INSERT_BATCH_ROWS]) + ";\n"


def sql_script(frames: Mapping[str, pd.DataFrame], schema: Schema) -> str:
    """CREATE TABLE statements with their keys, then INSERTs in batches, parents first, in one
    transaction; loads into SQLite (with ``PRAGMA foreign_keys=ON``) and PostgreSQL."""
    order = dataset_table_order(schema)
    parts = ["-- written by SynthTab: tables parents first, then their rows\n", "BEGIN;\n\n"]
    for name in order:
        table = schema.table(name)
        parts.append(_create_table(table, _frame_of(frames, table)) + "\n")
    for name in order:
        table = schema.table(name)
        parts.extend(_insert_statements(table, _frame_of(frames, table)))
    parts.append("\nCOMMIT;\n")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# databases


def _sqlalchemy_table(table: Table, frame: pd.DataFrame, metadata: Any) -> Any:
    import sqlalchemy as sa

    types: dict[StorageType, Any] = {
        StorageType.integer: sa.BigInteger(),
        StorageType.float: sa.Float(),
        StorageType.boolean: sa.Boolean(),
        StorageType.string: sa.Text(),
    }
    primary = set(table.primary_key or [])
    columns = []
    for column in table.columns:
        kind = types.get(column.storage)
        if kind is None:  # datetime
            values = _as_datetimes(frame[column.name], column, table.name)
            kind = sa.Date() if _is_date_only(values) else sa.DateTime()
        not_null = not column.nullable or column.name in primary
        columns.append(sa.Column(column.name, kind, nullable=not not_null))
    constraints: list[Any] = []
    if table.primary_key:
        constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
    constraints += [sa.UniqueConstraint(*key) for key in _unique_keys(table)]
    constraints += [
        sa.ForeignKeyConstraint(fk.columns, [f"{fk.ref_table}.{c}" for c in fk.ref_columns])
        for fk in table.foreign_keys
    ]
    return sa.Table(table.name, metadata, *columns, *constraints)


def _python_rows(table: Table, frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns: dict[str, list[Any]] = {}
    for column in table.columns:
        values = frame[column.name]
        if column.storage == StorageType.datetime:
            stamps = _as_datetimes(values, column, table.name)
            date_only = _is_date_only(stamps)
            columns[column.name] = [
                None
                if pd.isna(v)
                else (v.to_pydatetime().date() if date_only else v.to_pydatetime())
                for v in stamps
            ]
            continue
        plain = values.astype(object).where(values.notna(), None).tolist()
        if column.storage == StorageType.boolean:
            plain = [
                None if v is None else _truth(v, column, table.name, i)
                for i, v in enumerate(plain, 1)
            ]
        elif column.storage == StorageType.integer:
            plain = [None if v is None else int(v) for v in plain]
        elif column.storage == StorageType.float:
            plain = [None if v is None else float(v) for v in plain]
        else:
            plain = [None if v is None else str(v) for v in plain]
        columns[column.name] = plain
    names = table.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def write_to_database(frames: Mapping[str, pd.DataFrame], schema: Schema, url: str) -> None:
    """Create the tables (keys included) in the database at SQLAlchemy ``url`` and insert every
    row, parents first, in one transaction: on any error nothing is left behind.

    Raises OutputError when the URL is not understood, the database cannot be reached or a
    table already exists there.
    """
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        engine = sa.create_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        raise OutputError(f"cannot use database URL {url!r}: {error}") from error
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _foreign_keys_on(connection: Any, _: Any) -> None:
            # Python's sqlite3 commits before DDL on its own; take the transaction over so that
            # CREATE TABLE is rolled back with the rows on an error (SQLAlchemy's recipe)
            connection.isolation_level = None
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

    order = dataset_table_order(schema)
    metadata = sa.MetaData()
    prepared = {name: _frame_of(frames, schema.table(name)) for name in order}
    tables = {
        name: _sqlalchemy_table(schema.table(name), prepared[name], metadata) for name in order
    }
    try:
        with engine.begin() as connection:
            existing = set(sa.inspect(connection).get_table_names())
            clash = [name for name in order if name in existing]
            if clash:
                raise OutputError(
                    f"table {clash[0]!r} already exists in the database; "
                    "drop it or choose another database"
                )
            metadata.create_all(connection)
            for name in order:
                rows = _python_rows(schema.table(name), prepared[name])
                for start in range(0, len(rows), INSERT_BATCH_ROWS * 10):
                    batch = rows[start : start + INSERT_BATCH_ROWS * 10]
                    if batch:
                        connection.execute(tables[name].insert(), batch)
    except SQLAlchemyError as error:
        first_line = str(error).strip().splitlines()[0]
        raise OutputError(f"writing to the database failed: {first_line}") from error
    finally:
        engine.dispose()
