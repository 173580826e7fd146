"""Reading what a user hands us: tables, schema declarations, business rules.

Every problem with the input becomes an :class:`InputError` that names the file and, where it
can, the line, row or field — never a pandas or pyarrow traceback. Input files are only ever
opened for reading.

Column types are inferred the same way for every text format: whole numbers become ``int64``
(``Int64`` when some are missing, so ``age`` with gaps stays an integer), other numbers
``float64``, ``true``/``false`` booleans, ISO-8601 dates and timestamps ``datetime64``, and
everything else stays text (pandas ``str``). Digit strings with a leading zero (``"02134"``) are
codes, not numbers, and stay text.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import gzip
import hashlib
import io
import json
import math
import os
import re
import stat
import types
import typing
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import BaseModel, ValidationError

from synthtab.io.errors import InputError, InputWarning, RowLabel
from synthtab.schema.model import Rule, Schema, SchemaDeclaration

PathLike = str | os.PathLike[str]

DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
# Text formats may also come gzip-compressed: data.csv.gz.
SUPPORTED_TABLE_SUFFIXES = DELIMITED_SUFFIXES + PARQUET_SUFFIXES + JSON_SUFFIXES + EXCEL_SUFFIXES
SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")
RULES_SUFFIXES = (".yaml", ".yml", ".json", ".txt", ".rules")

DEMO_DATASET = "adult_sample.csv"

# The strings pandas reads as missing by default; Excel text cells use them too.
_NA_TOKENS = frozenset(
    {
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    }
)  # fmt: skip
_CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_INTEGER = r"[+-]?\d+"
_LEADING_ZERO = r"[+-]?0\d+"
_ISO_DATETIME = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# an offset after a time; a bare date's "-05" is its day, not an offset
_UTC_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_LISTED_PROBLEMS = 10
_PROBE_VALUES = 64
_PLAIN_TYPES = frozenset({bool, int, float, str, type(None)})


# --------------------------------------------------------------------------------------------
# files


def file_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def demo_dataset_path() -> Path:
    """The bundled 2,000-row UCI Adult sample, for users who have no data at hand."""
    resource = resources.files("synthtab").joinpath("data").joinpath(DEMO_DATASET)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"the demo dataset {DEMO_DATASET} is missing from the installed package ({path})"
        )
    return path


def _check_input_file(path: Path) -> None:
    name = str(path)
    try:
        info = path.stat()
    except FileNotFoundError as error:
        raise InputError("no such file", file=name) from error
    except PermissionError as error:
        raise InputError("permission denied: cannot reach this file", file=name) from error
    except OSError as error:
        raise InputError(
            f"cannot reach this file ({error.strerror or error})", file=name
        ) from error
    if stat.S_ISDIR(info.st_mode):
        raise InputError("this is a directory, not a file", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise InputError("this is not a regular file", file=name)
    if info.st_size == 0:
        raise InputError("the file is empty (0 bytes)", file=name)


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read()
    except PermissionError as error:
        raise InputError("permission denied: cannot read this file", file=str(path)) from error
    except OSError as error:
        raise InputError(
            f"cannot read this file ({error.strerror or error})", file=str(path)
        ) from error


def _decode_text(data: bytes, file: str) -> str:
    """Text from bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 /
    Latin-1 with a warning, because a wrongly guessed encoding silently changes values."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise InputError(f"not valid UTF-16 text ({error.reason})", file=file) from error
    if b"\x00" in data[:_SNIFF_CHARS]:
        raise InputError("this looks like a binary file, not text", file=file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        first_bad = error.object[error.start : error.start + 1].hex()
        for fallback in ("cp1252", "latin-1"):
            try:
                text = data.decode(fallback)
            except UnicodeDecodeError:
                continue
            warnings.warn(
                InputWarning(
                    f"{file}, line {line}: not valid UTF-8 (byte 0x{first_bad}); read the file as "
                    f"{'Windows-1252' if fallback == 'cp1252' else 'Latin-1'} instead: check "
                    "accented characters, or save the file as UTF-8"
                ),
                stacklevel=3,
            )
            return text
        raise InputError("cannot decode this file as text", file=file, row=line) from error


def _maybe_gunzip(data: bytes, path: Path) -> bytes:
    if path.suffix.lower() != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"not a valid gzip file ({error})", file=str(path)) from error


def _format_of(path: Path) -> tuple[str, str]:
    """(kind, suffix) where kind is delimited/parquet/json/excel; ``.gz`` looks inside."""
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-1] if suffixes else ""
    compressed = suffix == ".gz"
    if compressed:
        suffix = suffixes[-2] if len(suffixes) >= 2 else ""
    kind = None
    if suffix in DELIMITED_SUFFIXES:
        kind = "delimited"
    elif suffix in JSON_SUFFIXES:
        kind = "json"
    elif suffix in PARQUET_SUFFIXES and not compressed:
        kind = "parquet"
    elif suffix in EXCEL_SUFFIXES and not compressed:
        kind = "excel"
    if kind is None:
        shown = "".join(suffixes[-2:]) if compressed else suffix
        supported = ", ".join(SUPPORTED_TABLE_SUFFIXES)
        raise InputError(
            f"unsupported file type {shown or '(no extension)'!r}; SynthTab reads {supported} "
            "(text formats also as .gz)",
            file=str(path),
        )
    return kind, suffix


def _split_sheet(path: Path) -> tuple[Path, str | None]:
    """``book.xlsx#Sales`` names a sheet, unless a file is really called that."""
    text = str(path)
    if path.exists() or "#" not in text:
        return path, None
    base, _, sheet = text.rpartition("#")
    if Path(base).suffix.lower() in EXCEL_SUFFIXES and sheet:
        return Path(base), sheet
    return path, None


# --------------------------------------------------------------------------------------------
# tables


def read_table(path: PathLike, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a table from CSV/TSV/TXT, Parquet, JSON lines / JSON array, or Excel.

    ``sheet`` (or a ``book.xlsx#Sheet`` path) picks an Excel sheet; the first one by default.
    Raises :class:`InputError` for anything wrong with the file; the file is never modified.
    """
    file_path, sheet_in_path = _split_sheet(Path(path))
    sheet = sheet if sheet is not None else sheet_in_path
    _check_input_file(file_path)
    kind, suffix = _format_of(file_path)
    if kind == "parquet":
        frame = _read_parquet(file_path)
    elif kind == "excel":
        frame = _read_excel(file_path, suffix, sheet)
    else:
        text = _decode_text(_maybe_gunzip(_read_bytes(file_path), file_path), str(file_path))
        if kind == "delimited":
            frame = _read_delimited(file_path, text, suffix)
        else:
            frame = _read_json_table(file_path, text, suffix)
    if frame.shape[1] == 0:
        raise InputError("the file has no columns", file=str(path))
    if len(frame) == 0:
        raise InputError("the file has a header but no data rows", file=str(path))
    return frame


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    skip_initial_space: bool


def _non_blank_records(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [r for r in reader if not _is_blank_record(r)]
    except csv.Error:
        return []


def _sniff_dialect(text: str, preferred: str) -> _Dialect:
    """The delimiter that splits the header into several fields and agrees best with the rows;
    ties go to the one the extension implies."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rfind("\n") + 1]  # a cut record would look ragged
    best: tuple[float, str] | None = None
    candidates = (preferred, *(d for d in _CANDIDATE_DELIMITERS if d != preferred))
    for delimiter in candidates:
        records = _non_blank_records(sample, delimiter)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        rows = records[1:]
        agreement = sum(len(r) == width for r in rows) / len(rows) if rows else 1.0
        if best is None or agreement > best[0]:
            best = (agreement, delimiter)
    delimiter = best[1] if best else preferred
    later_fields = [
        f for r in _non_blank_records(sample, delimiter) for f in r[1:] if f and not f.isspace()
    ]
    skip_space = bool(later_fields) and all(f.startswith(" ") for f in later_fields)
    return _Dialect(delimiter, skip_space)


def _is_blank_record(record: Sequence[str]) -> bool:
    # pandas skips lines that are empty or only whitespace; count them the same way
    return not record or (len(record) == 1 and not record[0].strip())


def _scan_delimited(text: str, dialect: _Dialect, file: str) -> tuple[list[str], int, int]:
    """Header fields, header line, data record count; ragged rows raise with their line."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=dialect.delimiter,
        skipinitialspace=dialect.skip_initial_space,
    )
    header: list[str] | None = None
    header_line = 0
    data_records = 0
    first_bad: tuple[int, int, list[str]] | None = None  # start line, end line, record
    bad_count = 0
    previous_end = 0
    try:
        for record in reader:
            start, end = previous_end + 1, reader.line_num
            previous_end = end
            if _is_blank_record(record):
                continue
            if header is None:
                header, header_line = record, start
                continue
            data_records += 1
            if len(record) != len(header):
                bad_count += 1
                if first_bad is None:
                    first_bad = (start, end, record)
    except csv.Error as error:
        raise InputError(
            f"cannot parse this line as CSV ({error})", file=file, row=reader.line_num
        ) from error
    if header is None:
        raise InputError("the file holds only blank lines: no header, no data", file=file)
    if first_bad is not None:
        start, end, record = first_bad
        message = f"expected {len(header)} fields (as in the header), saw {len(record)}"
        extra = record[len(header) :]
        if extra and all(not f.strip() for f in extra):
            message += "; the extra fields are empty (a delimiter at the end of the line?)"
        elif extra:
            shown = "tab" if dialect.delimiter == "\t" else repr(dialect.delimiter)
            message += f"; a value that contains {shown} must be enclosed in double quotes"
        elif end > start:
            message += f"; this record runs on to line {end}: is a quote left open?"
        if bad_count > 1:
            message += f" ({bad_count} lines in all have the wrong number of fields)"
        raise InputError(message, file=file, row=start)
    return header, header_line, data_records


def _column_names(raw: Sequence[Any], file: str, row: int | None, row_label: RowLabel) -> list[str]:
    """Header cells as clean, unique column names; a blank one gets pandas' ``Unnamed: i``."""
    names = [
        f"Unnamed: {i}" if value is None or not str(value).strip() else _header_text(value)
        for i, value in enumerate(raw)
    ]
    _reject_duplicate_names(names, file, row, row_label)
    if len(names) > 1 and all(_looks_numeric(n) for n in names):
        warnings.warn(
            InputWarning(
                f"{file}: the first row looks like data, not a header (columns are named "
                f"{', '.join(repr(n) for n in names[:5])}...); add a header row if it is data"
            ),
            stacklevel=4,
        )
    return names


def _reject_duplicate_names(
    names: Sequence[str], file: str, row: int | None, row_label: RowLabel = "line"
) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputError(
                f"duplicate column name {name!r} (columns {seen[name]} and {position}); "
                "column names must be unique",
                file=file,
                row=row,
                row_label=row_label,
            )
        seen[name] = position


def _header_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_delimited(path: Path, text: str, suffix: str) -> pd.DataFrame:
    file = str(path)
    if not text.strip():
        raise InputError("the file holds only blank lines: no header, no data", file=file)
    dialect = _sniff_dialect(text, "\t" if suffix == ".tsv" else ",")
    header, header_line, data_records = _scan_delimited(text, dialect, file)
    names = _column_names(header, file, header_line, "line")
    if data_records == 0:
        raise InputError(
            f"the file has a header ({len(names)} columns) but no data rows", file=file
        )
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=dialect.delimiter,
            skipinitialspace=dialect.skip_initial_space,
            header=0,
            names=names,
            index_col=False,
            dtype=str,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise InputError(
            f"cannot parse this file as CSV ({_first_line(error)})", file=file
        ) from error
    return pd.DataFrame({name: _typed_column_from_text(raw[name]) for name in names})


def _read_parquet(path: Path) -> pd.DataFrame:
    file = str(path)
    try:
        names = pq.read_schema(path).names
    except PermissionError as error:
        raise InputError("permission denied: cannot read this file", file=file) from error
    except (pa.ArrowException, OSError, ValueError) as error:
        raise InputError(
            f"not a readable Parquet file ({_first_line(error)})", file=file
        ) from error
    _reject_duplicate_names(names, file, None)
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError, TypeError) as error:
        raise InputError(
            f"not a readable Parquet file ({_first_line(error)})", file=file
        ) from error
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()  # a stored index is data the user sees as columns
    frame.columns = [str(c) for c in frame.columns]
    for name in frame.columns:
        # nested (list/struct), decimal and date columns arrive as Python objects
        if frame[name].dtype == object:
            frame[name] = _typed_column_from_values(frame[name].tolist()).set_axis(frame.index)
    return frame


def _read_excel(path: Path, suffix: str, sheet: str | None) -> pd.DataFrame:
    file = str(path)
    try:
        handle = path.open("rb")
    except PermissionError as error:
        raise InputError("permission denied: cannot read this file", file=file) from error
    except OSError as error:
        raise InputError(f"cannot read this file ({error.strerror or error})", file=file) from error
    # our own handle, closed here: a read-only workbook abandoned mid-sheet (on an error)
    # would otherwise keep the file open until garbage collection
    with handle:
        workbook = _open_workbook(handle, file, suffix)
        try:
            worksheet = workbook[_pick_sheet(workbook.sheetnames, sheet, path)]
            if not hasattr(worksheet, "iter_rows"):
                raise InputError(f"sheet {worksheet.title!r} is a chart, not a table", file=file)
            worksheet.reset_dimensions()  # stored dimensions are often wrong; read what is there
            rows = worksheet.iter_rows(values_only=True)
            try:
                return _frame_from_sheet(rows, f"{file}#{worksheet.title}")
            finally:
                rows.close()
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as error:
            raise InputError(
                f"not a readable Excel workbook ({_first_line(error)})", file=file
            ) from error
        finally:
            workbook.close()


def _open_workbook(handle: typing.BinaryIO, file: str, suffix: str) -> Any:
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        TypeError,
    ) as error:
        if suffix == ".xls":
            raise InputError(
                "legacy .xls (Excel 97-2003) workbooks cannot be read; save it as .xlsx or CSV",
                file=file,
            ) from error
        raise InputError(
            f"not a readable Excel workbook ({_first_line(error)})", file=file
        ) from error


def _pick_sheet(names: Sequence[str], sheet: str | None, path: Path) -> str:
    if sheet is None:
        if len(names) > 1:
            warnings.warn(
                InputWarning(
                    f"{path} has {len(names)} sheets; reading the first, {names[0]!r} "
                    f"(name another as {path.name}#SHEET)"
                ),
                stacklevel=4,
            )
        return names[0]
    if sheet not in names:
        raise InputError(
            f"no sheet named {sheet!r}; the sheets are {', '.join(map(repr, names))}",
            file=str(path),
        )
    return sheet


def _is_empty_cell(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _frame_from_sheet(rows: Iterator[tuple[Any, ...]], where: str) -> pd.DataFrame:
    header: list[Any] | None = None
    header_row = 0
    width = 0
    records: list[tuple[Any, ...]] = []
    for row_number, row in enumerate(rows, start=1):
        if all(_is_empty_cell(v) for v in row):
            continue
        if header is None:
            width = max(i for i, v in enumerate(row) if not _is_empty_cell(v)) + 1
            header, header_row = list(row[:width]), row_number
            continue
        outside = [i for i, v in enumerate(row[width:], start=width) if not _is_empty_cell(v)]
        if outside:
            raise InputError(
                f"a value in column {get_column_letter(outside[0] + 1)}, which has no header; "
                "give it a header or clear it",
                file=where,
                row=row_number,
                row_label="row",
            )
        records.append(tuple(row[:width]) + (None,) * (width - len(row)))
    if header is None:
        raise InputError("the sheet is empty", file=where)
    names = _column_names(header, where, header_row, "row")
    if not records:
        raise InputError(
            f"the sheet has a header ({len(names)} columns) but no data rows", file=where
        )
    return pd.DataFrame(
        {
            name: _typed_column_from_values([r[j] for r in records], na_tokens=_NA_TOKENS)
            for j, name in enumerate(names)
        }
    )


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):  # only then look for the culprit, key by key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


# one decoder for every line: building one per call costs more than decoding a short line
_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicate_keys)


def _load_json_text(text: str, file: str, row: int | None = None) -> Any:
    try:
        return _JSON_DECODER.decode(text)
    except json.JSONDecodeError as error:
        line = row if row is not None else error.lineno
        raise InputError(
            f"not valid JSON: {error.msg} (column {error.colno})", file=file, row=line
        ) from error
    except _DuplicateKeyError as error:
        raise InputError(f"{error} in a JSON object", file=file, row=row) from error


def _json_records(path: Path, text: str, suffix: str) -> tuple[list[Any], list[int], RowLabel]:
    """The records of a JSON array or of JSON lines, with where each one is in the file."""
    file = str(path)
    if text.lstrip().startswith("["):
        if suffix != ".json":
            raise InputError(
                f"a {suffix} file holds one JSON object per line, but this one starts with '['; "
                "rename it to .json if it is a JSON array of records",
                file=file,
                row=1,
            )
        records = _load_json_text(text, file)
        return records, list(range(1, len(records) + 1)), "record"
    records, lines = [], []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(_load_json_text(line, file, row=line_number))
        except InputError as error:
            if suffix == ".json" and not records:
                error.message += (
                    "; a .json file must hold a JSON array of records or one JSON object per line"
                )
            raise
        lines.append(line_number)
    return records, lines, "line"


def _read_json_table(path: Path, text: str, suffix: str) -> pd.DataFrame:
    file = str(path)
    if not text.strip():
        raise InputError("the file holds only blank lines: no records", file=file)
    records, places, label = _json_records(path, text, suffix)
    if not records:
        raise InputError("the file holds no records", file=file)
    for record, place in zip(records, places, strict=True):
        if not isinstance(record, dict):
            raise InputError(
                f"expected a JSON object (one record), saw {_json_type_name(record)}",
                file=file,
                row=place,
                row_label=label,
            )
    # columns in order of first appearance; a key missing from a record is a null there
    as_objects = pd.DataFrame(records, dtype=object)
    return pd.DataFrame(
        {
            str(name): _typed_column_from_values(as_objects[name].tolist())
            for name in as_objects.columns
        }
    )


def _json_type_name(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# --------------------------------------------------------------------------------------------
# column types


def _typed_column_from_text(raw: pd.Series) -> pd.Series:
    """A column read as text (missing values already null) given its natural type."""
    present = raw.dropna()
    if present.empty:
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    stripped = present.str.strip()
    probe = stripped.head(_PROBE_VALUES)  # most text columns are ruled out by a few values
    if probe.str.fullmatch(_INTEGER).all() and stripped.str.fullmatch(_INTEGER).all():
        if stripped.str.fullmatch(_LEADING_ZERO).any():
            return raw  # "02134" is a code; as a number it would lose its zero
        try:
            integers = stripped.astype("int64")
        except (OverflowError, ValueError):
            return raw  # beyond int64: keep every digit as text
        return _with_nulls(integers, raw.index, "Int64")
    if pd.to_numeric(probe, errors="coerce").notna().all():
        numbers = pd.to_numeric(stripped, errors="coerce")
    else:
        numbers = None
    if numbers is not None and numbers.notna().all():
        return numbers.astype("float64").reindex(raw.index)
    if probe.str.lower().isin(("true", "false")).all():
        lowered = stripped.str.lower()
        if lowered.isin(("true", "false")).all():
            return _with_nulls(lowered == "true", raw.index, "boolean")
    return _maybe_datetime(raw)


def _with_nulls(values: pd.Series, index: pd.Index, nullable_dtype: str) -> pd.Series:
    if len(values) == len(index):
        return values.reindex(index)
    result = pd.Series(pd.NA, index=index, dtype=nullable_dtype)
    result.loc[values.index] = values.astype(nullable_dtype)
    return result


def _maybe_datetime(text: pd.Series) -> pd.Series:
    """ISO-8601 text becomes datetimes; times with different UTC offsets (a zone with
    daylight saving) become UTC; anything else, naive mixed with offsets included, stays text."""
    present = text.dropna()
    if present.empty or not present.head(_PROBE_VALUES).str.fullmatch(_ISO_DATETIME).all():
        return text
    if not present.str.fullmatch(_ISO_DATETIME).all():
        return text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(text, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            pass
        if present.str.contains(_UTC_OFFSET).all():
            with contextlib.suppress(ValueError, TypeError, OverflowError):
                return pd.to_datetime(text, format="ISO8601", utc=True)
    return text


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain_value(value: Any, na_tokens: frozenset[str]) -> Any:
    """A Python scalar, None for null, JSON text for nested values."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if _is_null(value):
        return None
    if isinstance(value, str) and value in na_tokens:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _value_kind(value_type: type) -> str:
    if issubclass(value_type, bool):
        return "bool"
    if issubclass(value_type, int):
        return "int"
    if issubclass(value_type, float):
        return "float"
    if issubclass(value_type, str):
        return "str"
    if issubclass(value_type, datetime | date):
        return "datetime"
    return "other"


def _typed_column_from_values(
    values: Sequence[Any], na_tokens: frozenset[str] = frozenset()
) -> pd.Series:
    """A column from Python values (JSON, Excel cells, object columns) given its natural type."""
    if set(map(type, values)) <= _PLAIN_TYPES and not na_tokens:
        # JSON's own types need no per-value cleaning beyond NaN (which JSON lacks anyway)
        cleaned = [None if v != v else v for v in values]  # NaN is the one value unequal to itself
    else:
        cleaned = [_plain_value(v, na_tokens) for v in values]
    present = [v for v in cleaned if v is not None]
    if not present:
        return pd.Series(np.nan, index=range(len(cleaned)), dtype="float64")
    has_nulls = len(present) < len(cleaned)
    kinds = {_value_kind(t) for t in set(map(type, present))}
    if kinds == {"bool"}:
        return pd.Series(cleaned, dtype="boolean" if has_nulls else "bool")
    if kinds == {"int"} and _INT64_MIN <= min(present) and max(present) <= _INT64_MAX:
        return pd.Series(cleaned, dtype="Int64" if has_nulls else "int64")
    if kinds <= {"int", "float"}:
        return pd.Series([np.nan if v is None else float(v) for v in cleaned], dtype="float64")
    if kinds == {"datetime"}:
        try:
            return pd.Series(pd.to_datetime(pd.Series(cleaned, dtype=object)))
        except (ValueError, TypeError, OverflowError):
            pass  # mixed time zones: keep them readable as text
    if kinds == {"str"}:
        return _maybe_datetime(pd.Series(cleaned, dtype="str"))
    return pd.Series([None if v is None else _value_text(v) for v in cleaned], dtype="str")


def _value_text(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------------------------
# schema declarations and rules


class _StrictYamlLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error
    (plain YAML silently keeps the last one, which hides typos in hand-written files)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicated = key in seen
            except TypeError:
                continue  # unhashable keys are rejected by the base class with its own message
            if duplicated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class _Document:
    """A parsed JSON/YAML file, with its YAML node tree to find line numbers in."""

    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        """1-based line of the deepest part of ``loc`` the file has: a mapping entry's key
        line, a list item's first line (None for JSON, which keeps no positions)."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                entry = next(((k, v) for k, v in node.value if k.value == part), None)
                if entry is None:
                    break
                line, node = entry[0].start_mark.line + 1, entry[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


def _read_structured(path: Path, allowed: Sequence[str], what: str) -> _Document:
    _check_input_file(path)
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"unsupported {what} file type {suffix or '(no extension)'!r}; use {', '.join(allowed)}",
            file=file,
        )
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            "not valid UTF-8 text; save the file as UTF-8", file=file, row=line
        ) from error
    if not text.strip():
        raise InputError("the file is empty", file=file)
    if suffix == ".json":
        return _Document(_load_json_text(text, file), None)
    loader = _StrictYamlLoader(text)
    try:
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "syntax error"
        if "'`'" in problem:
            # backticks quote column names in rules, but YAML reserves them
            problem += '; put text that starts with ` in quotes: "`my col` > 1"'
        raise InputError(
            f"not valid YAML: {problem}", file=file, row=mark.line + 1 if mark else None
        ) from error
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {_first_line(error)}", file=file) from error
    finally:
        loader.dispose()
    if document is None:
        raise InputError("the file is empty", file=file)
    return _Document(document, root)


def read_schema_declaration(path: PathLike) -> SchemaDeclaration:
    """A user's (possibly partial) schema, from JSON or YAML.

    Validation problems name the field path, e.g. ``tables[0].columns[2].semantic``, and in a
    YAML file its line.
    """
    path = Path(path)
    document = _read_structured(path, SCHEMA_SUFFIXES, "schema")
    data = document.data
    # The single-table shorthand puts a table's fields at the top level; report paths the
    # way the user wrote them, without the ``tables[0]`` the model adds.
    shorthand = isinstance(data, dict) and "tables" not in data
    try:
        declaration = SchemaDeclaration.model_validate(data)
    except ValidationError as error:
        raise _validation_input_error(
            error, SchemaDeclaration, document, str(path), strip=("tables", 0) if shorthand else ()
        ) from error
    _check_declared_names(declaration, document, str(path), shorthand)
    return declaration


def read_full_schema(path: PathLike) -> Schema:
    """A complete multi-table schema (every table, column, key and row count), from YAML or
    JSON, for generation without data; problems name the file, field and line."""
    path = Path(path)
    document = _read_structured(path, SCHEMA_SUFFIXES, "schema")
    try:
        return Schema.model_validate(document.data)
    except ValidationError as error:
        raise _validation_input_error(error, Schema, document, str(path)) from error


def _check_declared_names(
    declaration: SchemaDeclaration, document: _Document, file: str, shorthand: bool
) -> None:
    for t, table in enumerate(declaration.tables):
        where: tuple[int | str, ...] = () if shorthand else ("tables", t)
        for field, names in (
            ("columns", [c.name for c in table.columns]),
            ("rules", [r.name for r in table.rules]),
        ):
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    loc = (*where, field, i)
                    raise InputError(
                        f"{_render_loc(loc)}: {field[:-1]} {name!r} is declared twice",
                        file=file,
                        row=document.line_of(loc),
                    )
                seen.add(name)
    table_names = [t.name for t in declaration.tables if t.name is not None]
    duplicated = sorted({n for n in table_names if table_names.count(n) > 1})
    if duplicated:
        raise InputError(f"table {duplicated[0]!r} is declared twice", file=file)


def read_rules(path: PathLike) -> list[Rule]:
    """Business rules from YAML/JSON or a text file; expressions are kept as written.

    YAML/JSON: ``rules:`` holding a list (of ``{name, expression, description?}`` or of
    expressions) or a mapping ``name: expression``; or such a list at the top level.
    Text: one rule per line, ``name: expression`` or just the expression (named
    ``rule_<line>``); blank lines and lines starting with ``#`` are skipped.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".txt", ".rules") or (suffix == "" and path.is_file()):
        rules = _rules_from_text(path)
    else:
        rules = _rules_from_document(path, _read_structured(path, RULES_SUFFIXES, "rules"))
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in seen:
            raise InputError(
                f"rule name {rule.name!r} is used twice (first {seen[rule.name].evidence[0]}); "
                "rule names must be unique",
                file=str(path),
                row=_evidence_line(rule),
            )
        seen[rule.name] = rule
    return rules


_NAMED_RULE = re.compile(r"\s*([^\W\d][\w.-]*)\s*:\s*(.*?)\s*")


def _rules_from_text(path: Path) -> list[Rule]:
    _check_input_file(path)
    file = str(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            "not valid UTF-8 text; save the file as UTF-8", file=file, row=line
        ) from error
    rules: list[Rule] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        content = line.strip()
        if not content or content.startswith("#"):
            continue
        named = _NAMED_RULE.fullmatch(content)
        name, expression = (
            (named.group(1), named.group(2)) if named else (f"rule_{line_number}", content)
        )
        if not expression:
            raise InputError(
                f"rule {name!r} has no expression after ':'", file=file, row=line_number
            )
        rules.append(
            Rule(
                name=name,
                expression=expression,
                evidence=[f"declared in {path.name}, line {line_number}"],
            )
        )
    return rules


def _rules_from_document(path: Path, document: _Document) -> list[Rule]:
    file = str(path)
    data = document.data
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict):
        unknown = [k for k in data if k != "rules"]
        if unknown:
            raise InputError(
                f"unknown top-level key {unknown[0]!r}; a rules file holds `rules:`",
                file=file,
                row=document.line_of((unknown[0],)),
            )
        data, prefix = data.get("rules"), ("rules",)
        if data is None:
            return []
    items: list[tuple[tuple[int | str, ...], Any, str | None]]
    if isinstance(data, list):
        items = [((*prefix, i), item, None) for i, item in enumerate(data)]
    elif isinstance(data, dict) and prefix:
        items = [((*prefix, str(name)), item, str(name)) for name, item in data.items()]
    else:
        raise InputError(
            "expected `rules:` with a list of rules, or a list of rules at the top level",
            file=file,
            row=document.line_of(prefix),
        )
    rules: list[Rule] = []
    for position, (loc, item, mapped_name) in enumerate(items, start=1):
        line = document.line_of(loc)
        place = f"line {line}" if line is not None else f"rule {position}"
        evidence = [f"declared in {path.name}, {place}"]
        if isinstance(item, str):
            fields: dict[str, Any] = {"expression": item.strip()}
        elif isinstance(item, dict):
            fields = dict(item)
        else:
            raise InputError(
                f"{_render_loc(loc)}: expected a rule (an expression, or name and expression), "
                f"saw {_json_type_name(item)}",
                file=file,
                row=line,
            )
        if mapped_name is not None:
            fields.setdefault("name", mapped_name)
        fields.setdefault("name", f"rule_{position}")
        try:
            rule = Rule.model_validate({**fields, "evidence": evidence})
        except ValidationError as error:
            raise _validation_input_error(error, Rule, document, file, prefix=loc) from error
        if not rule.expression.strip():
            raise InputError(
                f"{_render_loc(loc)}: rule {rule.name!r} has no expression", file=file, row=line
            )
        rules.append(rule)
    return rules


def _evidence_line(rule: Rule) -> int | None:
    match = re.search(r", line (\d+)$", rule.evidence[0]) if rule.evidence else None
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------
# pydantic errors in the user's words


def _render_loc(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _strip_annotation(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    return [
        m
        for m in (_strip_annotation(a) for a in typing.get_args(annotation))
        if isinstance(m, type) and issubclass(m, BaseModel)
    ]


def _walk_loc(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[list[int | str], Any]:
    """The loc without discriminator tags (which the user never wrote), and the annotation
    it ends at (None where the walk loses track)."""
    shown: list[int | str] = []
    current: Any = model
    for part in loc:
        current = _strip_annotation(current) if current is not None else None
        if current is None:
            shown.append(part)
            continue
        if isinstance(part, int):
            current = typing.get_args(current)[0] if typing.get_origin(current) is list else None
            shown.append(part)
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field is not None else None
            shown.append(part)
            continue
        tagged = [m for m in _union_models(current) if _kind_tag(m) == part]
        if tagged:
            current = tagged[0]  # a discriminator tag: not shown
            continue
        current = None
        shown.append(part)
    return shown, (_strip_annotation(current) if current is not None else None)


def _kind_tag(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("kind")
    return field.default if field is not None else None


def _quoted_values(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _suggest(word: Any, choices: Sequence[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_EXPECTED_BY_ERROR_TYPE = {
    "model_type": "expected a mapping of fields (key: value)",
    "model_attributes_type": "expected a mapping of fields (key: value)",
    "dict_type": "expected a mapping (key: value)",
    "list_type": "expected a list",
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
}


def _describe_error(
    error: Any, model: type[BaseModel], loc: Sequence[int | str]
) -> tuple[list[int | str], str, list[int | str]]:
    """(field path as the user wrote it, message, path of the line to point at) for one
    pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    shown, _ = _walk_loc(model, loc)
    if kind in ("enum", "literal_error"):
        allowed = _quoted_values(str(ctx.get("expected", "")))
        choices = ", ".join(allowed) if allowed else str(ctx.get("expected", ""))
        return shown, f"{given!r} is not one of {choices}{_suggest(given, allowed)}", shown
    if kind == "union_tag_invalid":
        allowed = _quoted_values(str(ctx.get("expected_tags", "")))
        tag, field = ctx.get("tag"), str(ctx.get("discriminator", "kind")).strip("'")
        message = f"{tag!r} is not one of {', '.join(allowed)}{_suggest(tag, allowed)}"
        return [*shown, field], message, [*shown, field]
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return shown, f"missing {field!r}, which says what kind of item this is", shown
    if kind == "missing" and shown:
        return shown[:-1], f"required field {shown[-1]!r} is missing", shown[:-1]
    if kind == "extra_forbidden" and shown:
        _, parent = _walk_loc(model, loc[:-1])
        is_model = isinstance(parent, type) and issubclass(parent, BaseModel)
        fields = list(parent.model_fields) if is_model else []
        allowed = f"; allowed: {', '.join(fields)}" if fields else ""
        message = f"unknown field {shown[-1]!r}{_suggest(shown[-1], fields)}{allowed}"
        return shown[:-1], message, shown
    message = _EXPECTED_BY_ERROR_TYPE.get(kind) or str(error.get("msg", "invalid value"))

    if isinstance(given, dict):
        message += ", got a mapping"
    elif isinstance(given, list):
        message += ", got a list"
    elif given is not None or kind in _EXPECTED_BY_ERROR_TYPE:
        message += f", got {given!r}"
    if kind == "string_type" and isinstance(given, bool | int | float):
        # YAML reads 2020 as a number and yes/no/on/off as booleans
        message += " (put the value in quotes to make it text)"
    return shown, message, shown


def _without_misspelt_missing(errors: list[Any]) -> list[Any]:
    """Drop "field X is missing" where an unknown field next to it is X misspelt: the
    did-you-mean on the unknown field says it all."""
    unknown = {
        (tuple(e["loc"][:-1]), e["loc"][-1])
        for e in errors
        if e["type"] == "extra_forbidden" and e["loc"] and isinstance(e["loc"][-1], str)
    }

    def misspelt(e: Any) -> bool:
        if e["type"] != "missing" or not e["loc"] or not isinstance(e["loc"][-1], str):
            return False
        parent, name = tuple(e["loc"][:-1]), e["loc"][-1]
        typos = [key for where, key in unknown if where == parent]
        return bool(difflib.get_close_matches(name, typos, n=1, cutoff=0.6))

    kept = [e for e in errors if not misspelt(e)]
    return kept or errors


def _validation_input_error(
    error: ValidationError,
    model: type[BaseModel],
    document: _Document,
    file: str,
    *,
    strip: tuple[int | str, ...] = (),
    prefix: tuple[int | str, ...] = (),
) -> InputError:
    """One InputError listing every problem pydantic found, paths as the user wrote them.

    ``strip`` drops a loc prefix the model added (the single-table shorthand's
    ``tables[0]``); ``prefix`` places a sub-model's errors inside the file (``rules[3]``).
    """
    problems: list[tuple[str, str, int | None]] = []
    for item in _without_misspelt_missing(error.errors()):
        shown, message, at = _describe_error(item, model, tuple(item["loc"]))
        if strip and tuple(shown[: len(strip)]) == strip:
            shown, at = shown[len(strip) :], at[len(strip) :]
        line = document.line_of([*prefix, *at])
        problems.append((_render_loc([*prefix, *shown]), message, line))
    path, message, line = problems[0]
    if len(problems) == 1:
        return InputError(f"{path}: {message}", file=file, row=line)
    listed = [
        f"  - {p}: {m}" + (f" (line {n})" if n is not None else "")
        for p, m, n in problems[:_MAX_LISTED_PROBLEMS]
    ]
    if len(problems) > _MAX_LISTED_PROBLEMS:
        listed.append(f"  ... and {len(problems) - _MAX_LISTED_PROBLEMS} more")
    # each listed problem carries its own line; one line up front would point at only one
    return InputError(f"{len(problems)} problems:\n" + "\n".join(listed), file=file)


__all__ = [
    "DEMO_DATASET",
    "SUPPORTED_TABLE_SUFFIXES",
    "demo_dataset_path",
    "file_sha256",
    "read_rules",
    "read_schema_declaration",
    "read_table",
]
