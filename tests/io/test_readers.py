"""Reading user input: tables in every supported format, schema declarations and rules, and
every way a file can be wrong turned into an InputError that names the file and the line."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthtab.io.errors import InputError, InputWarning, OutputError
from synthtab.io.readers import (
    SUPPORTED_TABLE_SUFFIXES,
    demo_dataset_path,
    file_sha256,
    read_rules,
    read_schema_declaration,
    read_table,
)
from synthtab.schema.model import SemanticType, StorageType

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def input_error(path: Path, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_table(path, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --------------------------------------------------------------------------------------------
# InputError itself


def test_input_error_renders_location_then_message() -> None:
    error = InputError("expected 15 fields, saw 16", file="data.csv", row=17)
    assert str(error) == "data.csv, line 17: expected 15 fields, saw 16"
    full = InputError("bad", file="b.xlsx", table="t", column="age", row=3, row_label="row")
    assert str(full) == "b.xlsx, table 't', column 'age', row 3: bad"
    assert str(InputError("no location")) == "no location"


def test_input_error_survives_pickling_with_its_fields() -> None:
    error = OutputError("too many rows", file="x.xlsx", column="c", row=4, row_label="row")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is OutputError and isinstance(copy, ValueError)
    assert copy.to_dict() == error.to_dict() and str(copy) == str(error)


# --------------------------------------------------------------------------------------------
# the demo dataset


def test_demo_dataset_loads_with_2000_rows_and_15_columns() -> None:
    path = demo_dataset_path()
    assert path.name == "adult_sample.csv" and path.is_file()
    frame = read_table(path)
    assert frame.shape == (2000, 15)
    assert frame["age"].dtype == np.int64 and frame["hours-per-week"].dtype == np.int64
    assert pd.api.types.is_string_dtype(frame["workclass"].dtype)
    assert frame["workclass"].isna().any()  # the sample keeps the real data's gaps
    assert set(frame["income"].unique()) == {"<=50K", ">50K"}


def test_demo_dataset_is_the_documented_sample_of_adult() -> None:
    source = DATASETS / "adult.parquet"
    if not source.exists():
        pytest.skip("shared datasets are not available")
    expected = pd.read_parquet(source).sample(n=2000, random_state=7).reset_index(drop=True)
    frame = read_table(demo_dataset_path())
    assert list(frame.columns) == list(expected.columns)
    for name in expected.columns:
        assert frame[name].astype(object).where(frame[name].notna(), None).tolist() == (
            expected[name].astype(object).where(expected[name].notna(), None).tolist()
        ), name


# --------------------------------------------------------------------------------------------
# CSV and friends


def test_csv_types_are_inferred_column_by_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.csv",
        "id,age,score,name,flag,day,zip,big\n"
        "1,31,1.5,Ann,true,2024-01-02,02134,123456789012345678901234\n"
        "2,,2.25,,false,2024-02-03,10001,1\n"
        "3,40,,Bob,,,,2\n",
    )
    frame = read_table(path)
    assert frame["id"].dtype == np.int64
    assert frame["age"].dtype == "Int64" and frame["age"].isna().tolist() == [False, True, False]
    assert frame["score"].dtype == np.float64 and np.isnan(frame["score"][2])
    assert pd.api.types.is_string_dtype(frame["name"].dtype) and frame["name"][0] == "Ann"
    assert frame["flag"].dtype == "boolean" and frame["flag"].tolist()[:2] == [True, False]
    assert frame["day"].dtype.kind == "M" and frame["day"][0] == pd.Timestamp("2024-01-02")
    assert frame["zip"].tolist()[:2] == ["02134", "10001"]  # leading zero: a code, kept as text
    assert frame["big"][0] == "123456789012345678901234"  # beyond int64: every digit kept


def test_a_late_value_decides_the_type_as_much_as_an_early_one(tmp_path: Path) -> None:
    rows = [f"{i},{i * 0.5},{'true' if i % 2 else 'false'}" for i in range(200)]
    rows[150] = "unknown,n/a,maybe"  # far past the first values looked at
    frame = read_table(write(tmp_path / "d.csv", "n,x,b\n" + "\n".join(rows) + "\n"))
    assert pd.api.types.is_string_dtype(frame["n"].dtype) and frame["n"][150] == "unknown"
    assert frame["x"].dtype == np.float64 and np.isnan(frame["x"][150])  # n/a means missing
    assert pd.api.types.is_string_dtype(frame["b"].dtype) and frame["b"][150] == "maybe"


def test_mixed_utc_offsets_become_utc_and_naive_mixed_with_aware_stays_text(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "t.csv",
        "at,odd\n2024-01-01T10:00:00+01:00,2024-01-01\n2024-07-01T10:00:00+02:00,2024-01-01T10:00+01:00\n",
    )
    frame = read_table(path)
    assert str(frame["at"].dtype) == "datetime64[us, UTC]"
    assert frame["at"][1] == pd.Timestamp("2024-07-01T08:00:00Z")
    assert pd.api.types.is_string_dtype(frame["odd"].dtype)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("semi.csv", "a;b;c\n1;x;2,5\n2;y;3,5\n"),
        ("tabs.tsv", "a\tb\tc\n1\tx\t2,5\n2\ty\t3,5\n"),
        ("tabs.csv", "a\tb\tc\n1\tx\t2,5\n2\ty\t3,5\n"),
        ("pipes.txt", "a|b|c\n1|x|2,5\n2|y|3,5\n"),
        ("comma.txt", 'a,b,c\n1,x,"2,5"\n2,y,"3,5"\n'),
    ],
)
def test_delimiter_is_sniffed(tmp_path: Path, name: str, text: str) -> None:
    frame = read_table(write(tmp_path / name, text))
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["a"].tolist() == [1, 2] and frame["c"].tolist() == ["2,5", "3,5"]


def test_spaces_after_delimiters_and_around_names_are_dropped(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path / "d.csv", " age , workclass\n39, State-gov\n50, Private\n"))
    assert list(frame.columns) == ["age", "workclass"]
    assert frame["workclass"].tolist() == ["State-gov", "Private"]


def test_blank_header_cell_gets_a_name_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    frame = read_table(write(tmp_path / "d.csv", "\n,a\n0,x\n\n   \n1,y\n"))
    assert list(frame.columns) == ["Unnamed: 0", "a"] and len(frame) == 2


def test_quoted_fields_may_hold_delimiters_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'a,b\n1,"x, y"\n2,"two\nlines"\n3,"say ""hi"""\n')
    frame = read_table(path)
    assert frame["b"].tolist() == ["x, y", "two\nlines", 'say "hi"']


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv.gz", gzip.compress(b"a,b\n1,x\n2,y\n"))
    assert read_table(path)["a"].tolist() == [1, 2]


def test_non_utf8_file_is_read_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "name,city\nAnn,Paris\nJos\xe9,Z\xfcrich\n".encode("cp1252"))
    with pytest.warns(InputWarning, match=r"d\.csv, line 3: not valid UTF-8"):
        frame = read_table(path)
    assert frame["name"].tolist() == ["Ann", "José"] and frame["city"][1] == "Zürich"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_marks_are_honoured(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "d.csv", "név,x\nÁrvíztűrő,1\n".encode(encoding))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_table(path)
    assert list(frame.columns) == ["név", "x"] and frame["név"][0] == "Árvíztűrő"


def test_headerless_file_gets_a_warning(tmp_path: Path) -> None:
    with pytest.warns(InputWarning, match="looks like data, not a header"):
        read_table(write(tmp_path / "d.csv", "1,2,3\n4,5,6\n"))


# --------------------------------------------------------------------------------------------
# errors common to every format


def test_missing_file(tmp_path: Path) -> None:
    error = input_error(tmp_path / "nope.csv")
    assert error.file is not None and error.file.endswith("nope.csv")
    assert "no such file" in str(error)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    assert "directory" in str(input_error(tmp_path / "folder.csv"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", ".xlsx"])
def test_zero_byte_file_is_empty(tmp_path: Path, suffix: str) -> None:
    error = input_error(write(tmp_path / f"e{suffix}", b""))
    assert "empty (0 bytes)" in error.message and error.file == str(tmp_path / f"e{suffix}")


def test_unsupported_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "d.sav", "a\n1\n"))
    assert "'.sav'" in error.message
    assert all(suffix in error.message for suffix in SUPPORTED_TABLE_SUFFIXES)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode"
)
def test_unreadable_file_by_its_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.csv", "a\n1\n")
    path.chmod(0)
    try:
        assert "permission denied" in input_error(path).message
    finally:
        path.chmod(0o600)


def test_unreadable_file_when_opening_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "secret.csv", "a\n1\n")
    real_open = Path.open

    def refusing_open(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refusing_open)
    error = input_error(path)
    assert error.file == str(path) and "permission denied" in error.message


# --------------------------------------------------------------------------------------------
# CSV errors


def test_header_without_rows(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "h.csv", "a,b,c\n"))
    assert "header (3 columns) but no data rows" in str(error)


def test_only_blank_lines(tmp_path: Path) -> None:
    assert "only blank lines" in str(input_error(write(tmp_path / "b.csv", "\n  \n\n")))


def test_ragged_row_names_the_first_bad_line_and_the_counts(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", "a,b,c\n1,2,3\n\n4,5,6\n7,8,9,10\n1,2\n")
    error = input_error(path)
    assert error.row == 5  # the blank line still counts: it is what an editor shows
    assert str(error).startswith(f"{path}, line 5: expected 3 fields (as in the header), saw 4")
    assert "double quotes" in error.message and "2 lines in all" in error.message


def test_short_row_is_ragged_too(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "d.csv", "a,b,c\n1,2,3\n4,5\n"))
    assert error.row == 3 and "saw 2" in error.message


def test_trailing_delimiter_gets_its_own_hint(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "d.csv", "a,b\n1,2,\n3,4,\n"))
    assert error.row == 2 and "extra fields are empty" in error.message


def test_open_quote_is_pointed_at(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "d.csv", 'a,b,c\n1,"2,3\n4,5,6\n7,8,9\n'))
    assert error.row == 2 and "quote left open" in error.message


def test_duplicate_column_names(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))
    assert error.row == 1 and "duplicate column name 'a' (columns 1 and 3)" in error.message


def test_binary_content_is_not_text(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert "binary" in error.message


def test_corrupt_gzip(tmp_path: Path) -> None:
    assert "gzip" in input_error(write(tmp_path / "d.csv.gz", b"not gzip")).message


# --------------------------------------------------------------------------------------------
# JSON


def test_json_lines_with_missing_keys_and_nested_values(tmp_path: Path) -> None:
    lines = [
        {"a": 1, "b": "x", "when": "2024-01-01T10:00:00"},
        {"a": None, "c": {"k": [1, 2]}, "when": "2024-01-02T11:30:00"},
        {"a": 3, "b": "007"},
    ]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    frame = read_table(path)
    assert list(frame.columns) == ["a", "b", "when", "c"]
    assert frame["a"].dtype == "Int64" and frame["a"].isna().tolist() == [False, True, False]
    assert frame["b"].tolist()[2] == "007"  # JSON says text: it stays text
    assert frame["when"].dtype.kind == "M"
    assert json.loads(frame["c"][1]) == {"k": [1, 2]} and pd.isna(frame["c"][0])


@pytest.mark.parametrize("suffix", [".json", ".ndjson"])
def test_json_array_or_lines(tmp_path: Path, suffix: str) -> None:
    records = [{"a": 1.5, "b": True}, {"a": 2, "b": False}]
    text = json.dumps(records) if suffix == ".json" else "\n".join(map(json.dumps, records))
    frame = read_table(write(tmp_path / f"d{suffix}", text))
    assert frame["a"].dtype == np.float64 and frame["b"].dtype == np.bool_


@pytest.mark.parametrize(
    ("name", "text", "row", "words"),
    [
        ("bad.jsonl", '{"a": 1}\n{"a": 2,}\n', 2, "not valid JSON"),
        ("list.jsonl", '{"a": 1}\n[1, 2]\n', 2, "saw an array"),
        ("dup.jsonl", '{"a": 1, "a": 2}\n', 1, "duplicate key 'a'"),
        ("array.jsonl", '[{"a": 1}]', 1, "rename it to .json"),
        (
            "pretty.json",
            '{\n  "a": 1\n}\n',
            1,
            "a JSON array of records or one JSON object per line",
        ),
        ("scalars.json", "[1, 2]", 1, "saw a number"),
    ],
)
def test_json_errors(tmp_path: Path, name: str, text: str, row: int, words: str) -> None:
    error = input_error(write(tmp_path / name, text))
    assert error.row == row and words in error.message


def test_json_without_records(tmp_path: Path) -> None:
    assert "no records" in input_error(write(tmp_path / "d.jsonl", "\n\n")).message
    assert "no records" in input_error(write(tmp_path / "d.json", "[]")).message


# --------------------------------------------------------------------------------------------
# Parquet


def test_parquet_is_read_with_its_types_and_a_stored_index_becomes_a_column(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame({"n": [1, 2], "s": ["x", None]}, index=pd.Index([10, 20], name="key"))
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    back = read_table(path)
    assert list(back.columns) == ["key", "n", "s"] and back["key"].tolist() == [10, 20]
    assert back["n"].dtype == np.int64 and pd.api.types.is_string_dtype(back["s"].dtype)


def test_parquet_nested_and_decimal_columns_become_plain_types(tmp_path: Path) -> None:
    from decimal import Decimal

    table = pa.table(
        {
            "tags": pa.array([["a", "b"], None]),
            "price": pa.array([Decimal("1.25"), Decimal("2.50")], pa.decimal128(5, 2)),
        }
    )
    path = tmp_path / "d.pq"
    pq.write_table(table, path)
    frame = read_table(path)
    assert json.loads(frame["tags"][0]) == ["a", "b"] and pd.isna(frame["tags"][1])
    assert frame["price"].dtype == np.float64 and frame["price"].tolist() == [1.25, 2.5]


def test_corrupt_parquet(tmp_path: Path) -> None:
    error = input_error(write(tmp_path / "broken.parquet", b"this is not parquet at all"))
    assert error.file == str(tmp_path / "broken.parquet")
    assert "not a readable Parquet file" in error.message


def test_parquet_with_duplicate_columns(tmp_path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    path = tmp_path / "dup.parquet"
    pq.write_table(table, path)
    assert "duplicate column name 'a'" in input_error(path).message


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"a": pd.Series([], dtype="int64")}).to_parquet(path)
    assert "no data rows" in input_error(path).message


# --------------------------------------------------------------------------------------------
# Excel


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_excel_first_sheet_with_types_and_a_note_about_other_sheets(tmp_path: Path) -> None:
    from datetime import datetime

    path = workbook(
        tmp_path / "book.xlsx",
        {
            "People": [
                ["name", "age", "joined", "score", "member"],
                ["Ann", 31, datetime(2024, 1, 2, 9, 30), 1.5, True],
                [None, None, None, None, None],
                ["Bob", "N/A", datetime(2024, 2, 3), 2, False],
            ],
            "Other": [["x"], [1]],
        },
    )
    with pytest.warns(InputWarning, match="2 sheets; reading the first, 'People'"):
        frame = read_table(path)
    assert len(frame) == 2  # the empty row is skipped
    assert frame["age"].dtype == "Int64" and pd.isna(frame["age"][1])
    assert frame["joined"].dtype.kind == "M" and frame["score"].dtype == np.float64
    assert frame["member"].dtype == np.bool_


def test_excel_sheet_by_name_in_the_path_or_as_an_argument(tmp_path: Path) -> None:
    path = workbook(tmp_path / "book.xlsx", {"A": [["x"], [1]], "B": [["y"], [2], [3]]})
    assert read_table(f"{path}#B")["y"].tolist() == [2, 3]
    assert read_table(path, sheet="B")["y"].tolist() == [2, 3]
    error = input_error(Path(f"{path}#C"))
    assert "no sheet named 'C'" in error.message and "'A', 'B'" in error.message


def test_excel_errors(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "book.xlsx",
        {
            "empty": [],
            "header": [["a", "b"]],
            "dup": [["a", "b", "a"], [1, 2, 3]],
            "stray": [["a", "b"], [1, 2], [3, 4, None, "note"]],
        },
    )
    assert "the sheet is empty" in str(input_error(path, sheet="empty"))
    assert "no data rows" in str(input_error(path, sheet="header"))
    dup = input_error(path, sheet="dup")
    assert dup.row == 1 and "duplicate column name 'a'" in dup.message
    stray = input_error(path, sheet="stray")
    assert str(stray).startswith(f"{path}#stray, row 3: a value in column D")


def test_corrupt_and_legacy_excel(tmp_path: Path) -> None:
    corrupt = input_error(write(tmp_path / "bad.xlsx", b"PK\x03\x04 not really a zip"))
    assert "not a readable Excel workbook" in corrupt.message
    legacy = input_error(write(tmp_path / "old.xls", b"\xd0\xcf\x11\xe0 ole2 bytes"))
    assert "save it as .xlsx or CSV" in legacy.message


# --------------------------------------------------------------------------------------------
# inputs are never modified


def test_reading_leaves_every_input_byte_identical(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    paths = [write(tmp_path / "d.csv", "a,b\r\n1,x\r\n2,\r\n")]
    paths.append(write(tmp_path / "d.jsonl", '{"a": 1, "b": "x"}\n{"a": 2}\n'))
    frame.to_parquet(tmp_path / "d.parquet")
    paths.append(tmp_path / "d.parquet")
    paths.append(workbook(tmp_path / "d.xlsx", {"s": [["a", "b"], [1, "x"], [2, None]]}))
    for path in paths:
        before, stat_before = path.read_bytes(), path.stat()
        read_table(path)
        assert path.read_bytes() == before, path
        assert path.stat().st_mtime_ns == stat_before.st_mtime_ns, path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    path = write(tmp_path / "blob.bin", data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# schema declarations


def test_schema_declaration_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_path = write(
        tmp_path / "schema.yaml",
        "columns:\n  - name: age\n    semantic: numeric\n    minimum: 0\n"
        "rules:\n  - name: adult\n    expression: age >= 18\n",
    )
    declaration = read_schema_declaration(yaml_path)
    table = declaration.tables[0]
    assert table.columns[0].semantic == SemanticType.numeric and table.rules[0].name == "adult"
    json_path = write(
        tmp_path / "schema.json",
        json.dumps({"tables": [{"name": "t", "columns": [{"name": "x", "storage": "integer"}]}]}),
    )
    assert read_schema_declaration(json_path).tables[0].columns[0].storage == StorageType.integer


def test_schema_bad_enum_names_the_field_path_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path / "schema.yaml",
        "tables:\n  - name: people\n    columns:\n      - name: a\n      - name: b\n"
        "      - name: n\n        semantic: nmber\n",
    )
    with pytest.raises(InputError) as caught:
        read_schema_declaration(path)
    error = caught.value
    assert str(error).startswith(
        f"{path}, line 7: tables[0].columns[2].semantic: 'nmber' is not one of id, categorical,"
    )
    assert "did you mean 'numeric'?" in error.message


def test_schema_single_table_shorthand_reports_paths_as_written(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yml", "columns:\n  - name: age\n    semntic: numeric\n")
    with pytest.raises(InputError) as caught:
        read_schema_declaration(path)
    message = caught.value.message
    assert message.startswith("columns[0]: unknown field 'semntic' (did you mean 'semantic'?)")
    assert "tables[0]" not in message and caught.value.row == 3  # the misspelt key's line


def test_schema_several_problems_are_all_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        "columns:\n  - name: a\nconstraints:\n  - kind: inequalty\n    low: a\n    high: b\n"
        "  - kind: inequality\n    low: a\n",
    )
    with pytest.raises(InputError) as caught:
        read_schema_declaration(path)
    message = caught.value.message
    assert message.startswith("2 problems:")
    assert "constraints[0].kind: 'inequalty' is not one of inequality" in message
    assert "constraints[1]: required field 'high' is missing (line 7)" in message


@pytest.mark.parametrize(
    ("name", "text", "row", "words"),
    [
        ("dupkey.yaml", "columns:\n  - name: a\n    name: b\n", 3, "duplicate key 'name'"),
        ("syntax.yaml", "columns: [\n", 2, "not valid YAML"),
        ("syntax.json", '{"columns": [}', 1, "not valid JSON"),
        ("twice.yaml", "columns:\n  - name: a\n  - name: a\n", 3, "column 'a' is declared twice"),
        ("list.yaml", "- a\n- b\n", 1, "(top level): expected a mapping"),
        ("type.json", '{"columns": [{"name": "a", "nullable": "maybe"}]}', None, "true or false"),
    ],
)
def test_schema_errors(tmp_path: Path, name: str, text: str, row: int | None, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_schema_declaration(write(tmp_path / name, text))
    assert caught.value.row == row and words in caught.value.message
    assert caught.value.file == str(tmp_path / name)


def test_yaml_pitfalls_get_a_hint(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_schema_declaration(write(tmp_path / "s.yaml", "columns:\n  - name: no\n"))
    assert caught.value.message == (
        "columns[0].name: expected text, got False (put the value in quotes to make it text)"
    )
    with pytest.raises(InputError) as caught:
        read_rules(write(tmp_path / "r.yaml", "rules:\n  - `hours-per-week` > 0\n"))
    assert caught.value.row == 2 and 'in quotes: "`my col` > 1"' in caught.value.message


def test_schema_file_type_and_emptiness(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported schema file type '.toml'"):
        read_schema_declaration(write(tmp_path / "s.toml", "a = 1\n"))
    with pytest.raises(InputError, match="the file is empty"):
        read_schema_declaration(write(tmp_path / "s.yaml", "# nothing\n"))
    with pytest.raises(InputError, match="no such file"):
        read_schema_declaration(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------------------------
# rules


def test_rules_text_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rules.txt",
        "# business rules\n\nadults: age >= 18\nincome >= 0\nt: time == '10:30'  # kept\n",
    )
    rules = read_rules(path)
    assert [(r.name, r.expression) for r in rules] == [
        ("adults", "age >= 18"),
        ("rule_4", "income >= 0"),
        ("t", "time == '10:30'  # kept"),
    ]
    assert rules[0].source == "declared" and rules[0].evidence == ["declared in rules.txt, line 3"]


def test_rules_text_duplicates_and_empty_expressions_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_rules(write(tmp_path / "r.txt", "a: x > 1\n\na: y > 2\n"))
    assert caught.value.row == 3 and "'a' is used twice (first declared in r.txt, line 1)" in str(
        caught.value
    )
    with pytest.raises(InputError) as caught:
        read_rules(write(tmp_path / "e.txt", "ok: x > 1\nempty:\n"))
    assert caught.value.row == 2 and "no expression" in caught.value.message


def test_rules_yaml_forms(tmp_path: Path) -> None:
    listed = write(
        tmp_path / "r.yaml",
        "rules:\n  - name: a\n    expression: x > 1\n    description: why\n  - y < 3\n",
    )
    rules = read_rules(listed)
    assert [(r.name, r.expression, r.description) for r in rules] == [
        ("a", "x > 1", "why"),
        ("rule_2", "y < 3", None),
    ]
    mapping = write(tmp_path / "m.yml", "rules:\n  a: x > 1\n  b:\n    expression: y > 2\n")
    assert [(r.name, r.expression) for r in read_rules(mapping)] == [("a", "x > 1"), ("b", "y > 2")]
    top = write(tmp_path / "t.json", json.dumps(["x > 1", {"name": "b", "expression": "y"}]))
    assert [r.name for r in read_rules(top)] == ["rule_1", "b"]
    assert read_rules(write(tmp_path / "none.yaml", "rules: []\n")) == []


def test_rules_bundled_with_the_demo_read_cleanly() -> None:
    path = demo_dataset_path().with_name("adult_rules.yaml")
    if not path.exists():
        pytest.skip("no demo rules file in this checkout")
    rules = read_rules(path)
    assert rules and len({r.name for r in rules}) == len(rules)


@pytest.mark.parametrize(
    ("name", "text", "row", "words"),
    [
        ("dup.yaml", "rules:\n  - name: a\n    expression: x\n  - name: a\n    expression: y\n", 4,
         "'a' is used twice"),
        ("typo.yaml", "rules:\n  - name: a\n    expresion: x > 1\n", 3,
         "unknown field 'expresion' (did you mean 'expression'?)"),
        ("key.yaml", "rule:\n  - x > 1\n", 1, "unknown top-level key 'rule'"),
        ("scalar.yaml", "rules: 5\n", 1, "expected `rules:` with a list"),
        ("number.yaml", "rules:\n  - 5\n", 2, "rules[0]: expected a rule"),
        ("dupkey.yaml", "rules:\n  a: x\n  a: y\n", 3, "duplicate key 'a'"),
    ],
)  # fmt: skip
def test_rules_errors(tmp_path: Path, name: str, text: str, row: int, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_rules(write(tmp_path / name, text))
    assert caught.value.row == row and words in caught.value.message


def test_rules_file_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unsupported rules file type '\.csv'"):
        read_rules(write(tmp_path / "r.csv", "a\n"))
