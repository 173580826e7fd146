"""Writing outputs so that a file is either complete or not there at all.

Every writer goes through :func:`atomic_destination`: the bytes go to a hidden temporary file
in the target's directory, are flushed to disk, and then ``os.replace`` puts the file in place
in one step. A crash or an error leaves the old file (or nothing), never half a file.

Round trips through :func:`synthtab.io.readers.read_table` give back the same frame for
integers (nullable too), floats, text, booleans and datetimes, with what each format cannot
hold: CSV cannot tell an empty string or the text ``NA`` from a missing value, and text made
of digits reads back as a number; Excel keeps datetimes to the millisecond.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import typing
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from pydantic import BaseModel

from synthtab.io.errors import OutputError
from synthtab.schema.request import OutputFormat

PathLike = str | os.PathLike[str]

SUPPORTED_OUTPUT_FORMATS: tuple[OutputFormat, ...] = typing.get_args(OutputFormat)
_SUFFIX_BY_FORMAT: Mapping[str, str] = {
    "csv": ".csv",
    "parquet": ".parquet",
    "json": ".jsonl",
    "xlsx": ".xlsx",
}
EXCEL_MAX_ROWS = 1_048_576  # including the header row
EXCEL_MAX_DATA_ROWS = EXCEL_MAX_ROWS - 1
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CELL_CHARS = 32_767
_EXCEL_SHEET_NAME = "data"


def output_suffix(fmt: OutputFormat) -> str:
    """The file extension for an output format (``json`` is JSON lines: ``.jsonl``)."""
    try:
        return _SUFFIX_BY_FORMAT[fmt]
    except KeyError:
        raise ValueError(_unknown_format_message(fmt)) from None


def _unknown_format_message(fmt: object) -> str:
    return f"unknown output format {fmt!r}; choose one of {', '.join(SUPPORTED_OUTPUT_FORMATS)}"


# --------------------------------------------------------------------------------------------
# atomic files


@contextlib.contextmanager
def atomic_destination(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one step.

    The temporary file already exists (empty) with the permissions a new file would get, or
    those of the file it replaces. On any exception it is removed and ``path`` is untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError("this is a directory; give a file name", file=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    # same directory, so os.replace never crosses file systems; hidden, so no one mistakes it
    temp = target.with_name(f".{target.name[:200]}.{secrets.token_hex(6)}.tmp")
    # os.open applies the umask to 0o666, as creating the file normally would
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        if target.exists():
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        yield temp
        _fsync_file(temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_directory(target.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    # makes the rename itself durable; not every platform or file system allows it
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(text: str, path: PathLike, encoding: str = "utf-8") -> Path:
    """Write text atomically; line endings are written as given."""
    with atomic_destination(path) as temp:
        with temp.open("w", encoding=encoding, newline="") as handle:
            handle.write(text)
    return Path(path)


def write_bytes(data: bytes, path: PathLike) -> Path:
    """Write bytes atomically."""
    with atomic_destination(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def write_json(obj: Any, path: PathLike) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically.

    Pydantic models, dates, paths, enums, sets and numpy values are converted; NaN and
    infinities become ``null`` so that the file stays valid JSON for every reader.
    """
    text = json.dumps(to_json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text(text + "\n", path)


def to_json_safe(obj: Any) -> Any:
    """``obj`` as plain JSON data (dict, list, str, int, float, bool, None)."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)  # also IntEnum and other int subclasses
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, BaseModel):
        return to_json_safe(obj.model_dump(mode="json"))
    if isinstance(obj, Mapping):
        return {_json_key(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, set | frozenset):
        items = [to_json_safe(v) for v in obj]
        with contextlib.suppress(TypeError):
            items.sort()  # a stable order makes files comparable across runs
        return items
    if isinstance(obj, list | tuple):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray | pd.Series | pd.Index):
        return [to_json_safe(v) for v in obj.tolist()]
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.generic):
        return to_json_safe(obj.item())
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return to_json_safe(obj.value)
    if isinstance(obj, Decimal):
        return to_json_safe(float(obj))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return str(obj)


def _json_key(key: Any) -> str:
    safe = to_json_safe(key)
    return safe if isinstance(safe, str) else json.dumps(safe)


# --------------------------------------------------------------------------------------------
# tables


def write_table(df: pd.DataFrame, path: PathLike, fmt: OutputFormat) -> Path:
    """Write ``df`` (its columns, not its index) as csv, parquet, json (JSON lines) or xlsx,
    atomically; returns ``path``.

    Datetimes are written as ISO-8601 text in csv and json, native in parquet and xlsx
    (time-zone-aware ones as ISO text in xlsx, which has no time zones).
    """
    if fmt not in SUPPORTED_OUTPUT_FORMATS:
        raise ValueError(_unknown_format_message(fmt))
    target = Path(path)
    _check_column_names(df, target)
    if fmt == "xlsx":
        check_excel_limits(df, target)  # before any file is created
    with atomic_destination(target) as temp:
        if fmt == "csv":
            _as_text_datetimes(df).to_csv(temp, index=False, lineterminator="\n", encoding="utf-8")
        elif fmt == "parquet":
            _write_parquet(df, temp, target)
        elif fmt == "json":
            _write_json_lines(df, temp)
        else:
            _write_xlsx(df, temp, target)
    return target


def _check_column_names(df: pd.DataFrame, target: Path) -> None:
    names = list(df.columns)
    not_text = [n for n in names if not isinstance(n, str)]
    if not_text:
        raise OutputError(
            f"column names must be text; {not_text[0]!r} is {type(not_text[0]).__name__}",
            file=str(target),
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise OutputError(f"duplicate column name {duplicated[0]!r}", file=str(target))


def _iso_text(values: pd.Series) -> pd.Series:
    """Datetimes as ISO-8601 text, as short as exact allows; nulls stay null."""
    present = values.dropna()
    if values.dt.tz is not None:
        text = present.map(lambda t: t.isoformat())
    elif present.empty or (present == present.dt.normalize()).all():
        text = present.dt.strftime("%Y-%m-%d")
    elif (present.dt.microsecond == 0).all() and (present.dt.nanosecond == 0).all():
        text = present.dt.strftime("%Y-%m-%dT%H:%M:%S")
    elif (present.dt.nanosecond == 0).all():
        text = present.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    else:
        text = present.map(lambda t: t.isoformat())
    return text.astype("str").reindex(values.index)


def _as_text_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    converted = {
        name: _iso_text(df[name])
        for name in df.columns
        if pd.api.types.is_datetime64_any_dtype(df[name].dtype)
    }
    return df.assign(**converted) if converted else df


def _write_parquet(df: pd.DataFrame, temp: Path, target: Path) -> None:
    try:
        df.to_parquet(temp, index=False, engine="pyarrow")
    except (pa.ArrowException, ValueError, TypeError) as error:
        first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise OutputError(f"cannot write Parquet ({first_line})", file=str(target)) from error


def python_column(values: pd.Series) -> list[Any]:
    """JSON-ready Python values for one column; None for every kind of null."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = _iso_text(values)
    plain = values.astype(object).where(values.notna(), None).tolist()
    if values.dtype.kind in "iufb" or isinstance(values.dtype, pd.StringDtype):
        return plain  # already JSON's own types
    return [_json_value(v) for v in plain]  # categories, timedeltas, decimals, nested values


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def _python_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return to_json_safe(value)  # dates, decimals, timedeltas, nested values


def _write_json_lines(df: pd.DataFrame, temp: Path) -> None:
    names = list(df.columns)
    columns = [python_column(df[name]) for name in names]
    with temp.open("w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*columns, strict=True):
            # allow_nan: infinities survive as Infinity, which Python and pandas read back
            line = json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False)
            handle.write(line + "\n")


def check_excel_limits(df: pd.DataFrame, target: Path) -> None:
    if len(df) > EXCEL_MAX_DATA_ROWS:
        raise OutputError(
            f"Excel holds at most {EXCEL_MAX_DATA_ROWS:,} data rows per sheet, and this table "
            f"has {len(df):,}; write csv or parquet, or fewer rows",
            file=str(target),
        )
    if df.shape[1] > EXCEL_MAX_COLUMNS:
        raise OutputError(
            f"Excel holds at most {EXCEL_MAX_COLUMNS:,} columns, and this table has "
            f"{df.shape[1]:,}; write csv or parquet",
            file=str(target),
        )


def excel_column(values: pd.Series, name: str, target: Path) -> list[Any]:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = _iso_text(values)  # Excel has no time zones: keep the offset as text
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        return [None if v is pd.NaT else v.to_pydatetime() for v in values.astype(object)]
    column = [_excel_value(v) for v in values.astype(object).tolist()]
    for row, value in enumerate(column, start=2):
        if isinstance(value, str):
            check_excel_text(value, name, row, target)
    return column


def _excel_value(value: Any) -> Any:
    if _is_null(value):
        return None
    value = _python_scalar(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"  # Excel has no infinities
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float | str | datetime | date | time | timedelta):
        return value
    return str(value)


def check_excel_text(text: str, column: str, row: int, target: Path) -> None:
    if len(text) > EXCEL_MAX_CELL_CHARS:
        raise OutputError(
            f"a value of {len(text):,} characters; an Excel cell holds at most "
            f"{EXCEL_MAX_CELL_CHARS:,} (write csv or parquet)",
            file=str(target),
            column=column,
            row=row,
            row_label="row",
        )
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise OutputError(
            "a value contains a control character Excel cannot store (write csv or parquet)",
            file=str(target),
            column=column,
            row=row,
            row_label="row",
        )


def _write_xlsx(df: pd.DataFrame, temp: Path, target: Path) -> None:
    names = [str(n) for n in df.columns]
    for name in names:
        check_excel_text(name, name, 1, target)
    # every value is checked before the workbook exists: a write-only workbook left
    # unsaved keeps a temporary file open
    columns = [excel_column(df[name], name, target) for name in names]
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_EXCEL_SHEET_NAME)
    sheet.append(names)
    for row in zip(*columns, strict=True):
        sheet.append([excel_cell(sheet, v) for v in row])
    workbook.save(temp)


def excel_cell(sheet: Any, value: Any) -> Any:
    # openpyxl turns text starting with "=" into a live formula; data must stay data
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


__all__ = [
    "EXCEL_MAX_COLUMNS",
    "EXCEL_MAX_DATA_ROWS",
    "SUPPORTED_OUTPUT_FORMATS",
    "atomic_destination",
    "output_suffix",
    "to_json_safe",
    "write_bytes",
    "write_json",
    "write_table",
    "write_text",
]
