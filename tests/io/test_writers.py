"""Writing outputs: every format reads back to the same frame, writes are atomic (no temp
files, no half files), and what a format cannot hold is refused with a clear error."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from pydantic import BaseModel

from synthtab.io.errors import InputError, OutputError
from synthtab.io.readers import read_table
from synthtab.io.writers import (
    EXCEL_MAX_DATA_ROWS,
    SUPPORTED_OUTPUT_FORMATS,
    atomic_destination,
    output_suffix,
    write_json,
    write_table,
    write_text,
)


def sample_frame(with_subseconds: bool = True) -> pd.DataFrame:
    stamps = ["2024-01-02 03:04:05", None, "2024-12-31 23:59:59", "2023-06-01 12:00:00"]
    if with_subseconds:
        stamps[3] = "2023-06-01 12:00:00.250"
    return pd.DataFrame(
        {
            "id": np.arange(1, 5, dtype="int64"),
            "age": pd.array([31, None, 45, 0], dtype="Int64"),
            "score": [0.1, np.nan, 1e-300, -2.5],
            "name": pd.Series(["Ann", None, "Zoë, Jr.", 'say "hi"'], dtype="str"),
            "member": [True, False, True, False],
            "seen": pd.to_datetime(stamps, format="ISO8601"),
            "day": pd.to_datetime(["2024-01-01", "2024-02-29", None, "1999-12-31"]),
        }
    )


def only_file_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_supported_formats_and_suffixes() -> None:
    assert SUPPORTED_OUTPUT_FORMATS == ("csv", "parquet", "json", "xlsx")
    assert [output_suffix(f) for f in SUPPORTED_OUTPUT_FORMATS] == [
        ".csv",
        ".parquet",
        ".jsonl",
        ".xlsx",
    ]
    with pytest.raises(ValueError, match="unknown output format 'tsv'"):
        output_suffix("tsv")  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", SUPPORTED_OUTPUT_FORMATS)
def test_round_trip_gives_back_the_same_frame(tmp_path: Path, fmt: str) -> None:
    frame = sample_frame()
    path = write_table(frame, tmp_path / f"out{output_suffix(fmt)}", fmt)  # type: ignore[arg-type]
    assert path == tmp_path / f"out{output_suffix(fmt)}"
    back = read_table(path)
    pd.testing.assert_frame_equal(back, frame, check_dtype=True)
    assert only_file_in(tmp_path) == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("fmt", SUPPORTED_OUTPUT_FORMATS)
def test_round_trip_of_the_demo_sized_real_shape(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "age": rng.integers(17, 90, 300),
            "income": rng.normal(50_000, 12_000, 300),
            "city": pd.Series(rng.choice(["Lyon", "Paris", "Nice", None], 300), dtype="str"),
        }
    )
    back = read_table(write_table(frame, tmp_path / f"t{output_suffix(fmt)}", fmt))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_time_zones_survive_text_formats_as_the_same_instants(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {"at": pd.to_datetime(["2024-01-15 10:00", "2024-07-15 10:00"]).tz_localize("Europe/Paris")}
    )
    back = read_table(write_table(frame, tmp_path / f"t{output_suffix(fmt)}", fmt))  # type: ignore[arg-type]
    # winter and summer offsets differ, so the zone comes back as UTC: same instants
    pd.testing.assert_series_equal(back["at"], frame["at"].dt.tz_convert("UTC"))


def test_parquet_keeps_time_zones_exactly(tmp_path: Path) -> None:
    frame = pd.DataFrame({"at": pd.to_datetime(["2024-01-15 10:00"]).tz_localize("Asia/Tokyo")})
    back = read_table(write_table(frame, tmp_path / "t.parquet", "parquet"))
    pd.testing.assert_frame_equal(back, frame)


def test_csv_and_json_write_datetimes_as_iso_text(tmp_path: Path) -> None:
    frame = sample_frame(with_subseconds=False)
    csv_text = write_table(frame, tmp_path / "t.csv", "csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[1] == "1,31,0.1,Ann,True,2024-01-02T03:04:05,2024-01-01"
    lines = write_table(frame, tmp_path / "t.jsonl", "json").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) == 4
    assert records[0]["seen"] == "2024-01-02T03:04:05" and records[0]["day"] == "2024-01-01"
    assert records[1] == {
        "id": 2, "age": None, "score": None, "name": None, "member": False,
        "seen": None, "day": "2024-02-29",
    }  # fmt: skip


def test_json_lines_turn_other_column_types_into_plain_json(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "size": pd.Categorical(["S", "M", None]),
            "wait": pd.to_timedelta([1, 2, 3], unit="h"),
            "extra": [{"a": 1}, [1, 2], None],
        }
    )
    lines = write_table(frame, tmp_path / "t.jsonl", "json").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"size": "S", "wait": "0 days 01:00:00", "extra": {"a": 1}},
        {"size": "M", "wait": "0 days 02:00:00", "extra": [1, 2]},
        {"size": None, "wait": "0 days 03:00:00", "extra": None},
    ]


def test_xlsx_keeps_formula_like_text_as_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"note": pd.Series(["=1+1", '=HYPERLINK("x")', "plain"], dtype="str")})
    path = write_table(frame, tmp_path / "t.xlsx", "xlsx")
    book = openpyxl.load_workbook(path)
    cells = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert [c.value for c in cells] == ["=1+1", '=HYPERLINK("x")', "plain"]
    assert all(c.data_type == "s" for c in cells)  # data, never a live formula
    pd.testing.assert_frame_equal(read_table(path), frame)


def test_xlsx_row_limit_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.zeros(EXCEL_MAX_DATA_ROWS + 1, dtype="int8")})
    with pytest.raises(OutputError) as caught:
        write_table(frame, tmp_path / "big.xlsx", "xlsx")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, InputError)
    assert "at most 1,048,575 data rows" in str(caught.value) and "csv or parquet" in str(
        caught.value
    )
    assert only_file_in(tmp_path) == []


def test_xlsx_refuses_control_characters_naming_column_and_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "text": pd.Series(["fine", "bell\x07"], dtype="str")})
    with pytest.raises(OutputError) as caught:
        write_table(frame, tmp_path / "t.xlsx", "xlsx")
    assert caught.value.column == "text" and caught.value.row == 3
    assert only_file_in(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = write_text("previous run\n", tmp_path / "out.parquet")
    unwritable = pd.DataFrame({"mixed": pd.Series([1, "a", 2.5], dtype=object)})
    with pytest.raises(OutputError, match="cannot write Parquet"):
        write_table(unwritable, target, "parquet")
    assert target.read_text() == "previous run\n"
    assert only_file_in(tmp_path) == ["out.parquet"]


def test_atomic_destination_on_error_removes_the_temp_and_keeps_the_target(
    tmp_path: Path,
) -> None:
    target = write_text("old", tmp_path / "report.json")
    with pytest.raises(RuntimeError):
        with atomic_destination(target) as temp:
            temp.write_text("half of the new cont")
            assert temp.parent == target.parent and temp.name.startswith(".report.json.")
            raise RuntimeError("crash in the middle")
    assert target.read_text() == "old" and only_file_in(tmp_path) == ["report.json"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_files_get_ordinary_permissions_and_replacements_keep_theirs(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = write_text("x", tmp_path / "fresh.txt")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not the 0600 of a temp file
        kept = write_text("x", tmp_path / "kept.txt")
        kept.chmod(0o640)
        write_text("y", kept)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "y"
    finally:
        os.umask(umask)


def test_writers_create_missing_parent_directories(tmp_path: Path) -> None:
    path = write_table(sample_frame(), tmp_path / "a" / "b" / "t.csv", "csv")
    assert path.is_file() and len(read_table(path)) == 4


def test_directory_as_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.csv").mkdir()
    with pytest.raises(OutputError, match="directory"):
        write_table(sample_frame(), tmp_path / "t.csv", "csv")


def test_bad_column_names_and_unknown_format_are_refused(tmp_path: Path) -> None:
    duplicated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(OutputError, match="duplicate column name 'a'"):
        write_table(duplicated, tmp_path / "t.csv", "csv")
    with pytest.raises(OutputError, match="column names must be text"):
        write_table(pd.DataFrame({0: [1]}), tmp_path / "t.csv", "csv")
    with pytest.raises(ValueError, match="unknown output format 'sql'"):
        write_table(sample_frame(), tmp_path / "t.sql", "sql")  # type: ignore[arg-type]
    assert only_file_in(tmp_path) == []


class _Summary(BaseModel):
    name: str
    when: datetime


def test_write_json_makes_strict_json_of_everyday_python_objects(tmp_path: Path) -> None:
    body = {
        "model": _Summary(name="copula", when=datetime(2024, 1, 2, 3, 4, 5)),
        "metrics": {"ks": np.float64(0.25), "bad": float("nan"), "inf": np.inf},
        "counts": np.array([1, 2], dtype="int64"),
        "path": tmp_path / "x.csv",
        "tags": {"b", "a"},
        "missing": pd.NA,
        3: "int key",
    }
    path = write_json(body, tmp_path / "report.json")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert data == {
        "model": {"name": "copula", "when": "2024-01-02T03:04:05"},
        "metrics": {"ks": 0.25, "bad": None, "inf": None},
        "counts": [1, 2],
        "path": str(tmp_path / "x.csv"),
        "tags": ["a", "b"],
        "missing": None,
        "3": "int key",
    }
    assert only_file_in(tmp_path) == ["report.json"]


def test_write_text_replaces_content_atomically(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_text("<p>one</p>\r\n", path)
    write_text("<p>two</p>\n", path)
    assert path.read_bytes() == b"<p>two</p>\n" and only_file_in(tmp_path) == ["report.html"]
