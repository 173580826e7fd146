"""Every kind of bad input gets a clear message and a non-zero exit, never a traceback, and never
an output directory that looks finished."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.app import main


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["generate", *args, "--quiet"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def small_frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50_000, 10_000, rows).round(2),
            "city": rng.choice(["Lyon", "Paris", "Nice"], rows),
        }
    )


def test_empty_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    code, err = run(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 1 and "empty.csv" in err and "empty" in err.lower()
    assert not (tmp_path / "out").exists()


def test_missing_and_unreadable_files(tmp_path: Path, capsys) -> None:
    code, err = run(capsys, str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out"))
    assert code == 1 and "nope.csv" in err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet at all")
    code, err = run(capsys, str(broken), "--out", str(tmp_path / "out"))
    assert code == 1 and "broken.parquet" in err
    assert not (tmp_path / "out").exists()


def test_ragged_csv_names_the_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    code, err = run(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 1 and "ragged.csv" in err and "4" in err


def test_header_only_csv(tmp_path: Path, capsys) -> None:
    path = tmp_path / "header.csv"
    path.write_text("a,b,c\n")
    code, err = run(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 1 and "no data rows" in err or "no rows" in err


def test_unknown_column_in_rule_names_it_and_its_position(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.csv"
    small_frame().to_csv(data, index=False)
    rules = tmp_path / "rules.txt"
    rules.write_text("adults: agee >= 18\n")
    code, err = run(capsys, str(data), "--rules", str(rules), "--out", str(tmp_path / "out"))
    assert code == 1 and "agee" in err and "adults" in err and "^" in err
    assert "age" in err  # the suggestion
    assert not (tmp_path / "out").exists()


def test_rule_syntax_error_shows_position(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.csv"
    small_frame().to_csv(data, index=False)
    rules = tmp_path / "rules.txt"
    rules.write_text("bad: age >= and income < 3\n")
    code, err = run(capsys, str(data), "--rules", str(rules), "--out", str(tmp_path / "out"))
    assert code == 1 and "bad" in err and "^" in err


def test_target_that_is_not_a_column(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.csv"
    small_frame().to_csv(data, index=False)
    code, err = run(capsys, str(data), "--target", "salary", "--out", str(tmp_path / "out"))
    assert code == 1 and "salary" in err and "age" in err


def test_output_dir_with_foreign_files_is_refused(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.csv"
    small_frame().to_csv(data, index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    code, err = run(capsys, str(data), "--out", str(out), "--overwrite")
    assert code == 1 and "precious.txt" in err
    assert (out / "precious.txt").read_text() == "mine"


@pytest.mark.parametrize("case", ["all_null", "constant", "id_column"])
def test_awkward_columns_are_handled(tmp_path: Path, capsys, case: str) -> None:
    frame = small_frame()
    if case == "all_null":
        frame["notes"] = None
    elif case == "constant":
        frame["country"] = "FR"
    else:
        frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(len(frame))])
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    before = data.read_bytes()
    out = tmp_path / "out"
    code, _ = run(capsys, str(data), "--rows", "500", "--out", str(out), "--no-tstr")
    assert code == 0
    assert data.read_bytes() == before  # the user's file is untouched
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert len(synthetic) == 500
    if case == "all_null":
        assert synthetic["notes"].isna().all()
    elif case == "constant":
        assert (synthetic["country"] == "FR").all()
    else:
        assert synthetic["customer_id"].is_unique
        assert synthetic["customer_id"].str.fullmatch(r"C\d{5,}").all()
    table = json.loads((out / "schema.json").read_text())["tables"][0]
    semantic = {c["name"]: c["semantic"] for c in table["columns"]}
    expected = {
        "all_null": ("notes", "empty"),
        "constant": ("country", "constant"),
        "id_column": ("customer_id", "id"),
    }[case]
    assert semantic[expected[0]] == expected[1]


def test_three_hundred_columns(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(600, 1))
    frame = pd.DataFrame(
        base + rng.normal(scale=0.5, size=(600, 300)), columns=[f"x{i}" for i in range(300)]
    ).round(3)
    data = tmp_path / "wide.parquet"
    frame.to_parquet(data)
    out = tmp_path / "out"
    code, _ = run(capsys, str(data), "--rows", "400", "--out", str(out), "--no-tstr")
    assert code == 0
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert synthetic.shape == (400, 300)
    html = (out / "report.html").read_text()
    assert html.count('class="column-chart"') == 300
