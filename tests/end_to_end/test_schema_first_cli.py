"""`synthtab generate --schema schema.yaml --out DIR`: a dataset from a schema alone, via the CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from synthtab.app import main
from synthtab.schema.rules import compile_rule, evaluate_rule

RETAIL_YAML = """\
tables:
  - name: customers
    row_count: 50
    primary_key: [customer_id]
    columns:
      - {name: customer_id, storage: integer, semantic: id, nullable: false}
      - {name: full_name, storage: string, semantic: text, nullable: false, fake: full_name}
      - {name: email, storage: string, semantic: email, nullable: false, unique: true}
      - {name: city, storage: string, semantic: categorical, examples: [Lyon, Nice, Lille]}
  - name: products
    row_count: 20
    primary_key: [product_id]
    columns:
      - {name: product_id, storage: string, semantic: id, nullable: false, pattern: "P\\\\d{3}"}
      - {name: category, storage: string, semantic: categorical,
         allowed_values: [toys, books, food], prior: {weights: [1, 2, 3]}}
      - {name: price, storage: float, semantic: numeric, minimum: 1, maximum: 200, decimals: 2}
  - name: sales
    row_count: 200
    primary_key: [sale_id]
    columns:
      - {name: sale_id, storage: integer, semantic: id, nullable: false}
      - {name: customer_id, storage: integer, semantic: id, nullable: false}
      - {name: product_id, storage: string, semantic: id, nullable: false}
      - {name: quantity, storage: integer, semantic: numeric, minimum: 1, maximum: 9}
      - {name: discount, storage: float, semantic: numeric, minimum: 0, maximum: 0.4, decimals: 2}
      - {name: status, storage: string, semantic: categorical,
         allowed_values: [paid, refunded, cancelled]}
      - {name: sold_at, storage: datetime, semantic: datetime,
         minimum: "2024-01-01", maximum: "2024-12-31"}
    foreign_keys:
      - {columns: [customer_id], ref_table: customers, ref_columns: [customer_id],
         cardinality: {min: 1, max: 10}}
      - {columns: [product_id], ref_table: products, ref_columns: [product_id]}
    rules:
      - {name: cancelled_no_discount, expression: "if status == 'cancelled' then discount == 0"}
      - {name: bulk_discount, expression: "if quantity >= 5 then discount >= 0.1"}
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def retail_schema(tmp_path: Path) -> Path:
    path = tmp_path / "retail.yaml"
    path.write_text(RETAIL_YAML)
    return path


def test_retail_schema_to_csv_xlsx_sql(retail_schema: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--schema", str(retail_schema), "--out", str(out), "--quiet"]
    assert main([*args, "--format", "csv,xlsx,sql", "--seed", "7"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "customers.csv",
        "products.csv",
        "sales.csv",
        "dataset.xlsx",
        "dataset.sql",
        "schema.yaml",
        "report.json",
        "manifest.json",
    }
    frames = {t: pd.read_csv(out / f"{t}.csv") for t in ("customers", "products", "sales")}
    assert {t: len(f) for t, f in frames.items()} == {"customers": 50, "products": 20, "sales": 200}
    sales = frames["sales"]
    assert set(sales["customer_id"]) <= set(frames["customers"]["customer_id"])
    assert set(sales["product_id"]) <= set(frames["products"]["product_id"])
    per_customer = sales["customer_id"].value_counts()
    assert len(per_customer) == 50 and per_customer.max() <= 10
    for expression in (
        "if status == 'cancelled' then discount == 0",
        "if quantity >= 5 then discount >= 0.1",
    ):
        assert evaluate_rule(compile_rule(expression, sales.columns), sales).all(), expression
    # the SQL loads into SQLite with foreign keys enforced, and the counts match
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript((out / "dataset.sql").read_text())
    for table, frame in frames.items():
        assert connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == len(frame)
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    workbook = openpyxl.load_workbook(out / "dataset.xlsx", read_only=True)
    assert workbook.sheetnames == ["customers", "products", "sales"]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete" and report["checks"]["ok"] is True
    assert report["summary"]["foreign_key_violations"] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seed"] == 7
    assert manifest["outputs_sha256"]["dataset.sql"] == sha(out / "dataset.sql")
    assert manifest["rows"] == {"customers": 50, "products": 20, "sales": 200}

    # same seed, same bytes; another seed, other data; an existing directory needs --overwrite
    again = tmp_path / "again"
    assert main([*args[:3], "--out", str(again), "--quiet", "--format", "csv", "--seed", "7"]) == 0
    assert sha(again / "sales.csv") == sha(out / "sales.csv")
    assert main([*args, "--format", "csv", "--seed", "8"]) == 1
    assert main([*args, "--format", "csv", "--seed", "8", "--overwrite"]) == 0
    assert sha(out / "sales.csv") != sha(again / "sales.csv")
    assert not (out / "dataset.sql").exists()  # the previous dataset was replaced, not mixed


def test_database_url_gets_the_tables(retail_schema: Path, tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    out = tmp_path / "out"
    code = main(
        [
            "generate",
            "--schema",
            str(retail_schema),
            "--out",
            str(out),
            "--quiet",
            "--format",
            "parquet,json",
            "--db",
            f"sqlite:///{database}",
        ]
    )
    assert code == 0
    connection = sqlite3.connect(database)
    assert connection.execute("SELECT count(*) FROM sales").fetchone()[0] == 200
    records = json.loads((out / "sales.json").read_text())
    assert len(records) == 200 and len(pd.read_parquet(out / "products.parquet")) == 20


def test_bad_format_and_bad_schemas_exit_1_with_a_clear_message(
    retail_schema: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "out")
    assert (
        main(["generate", "--schema", str(retail_schema), "--out", out, "--format", "csv,pdf"]) == 1
    )
    assert "unknown output format 'pdf'" in capsys.readouterr().err
    assert not Path(out).exists()

    cycle = tmp_path / "cycle.yaml"
    cycle.write_text(
        "tables:\n"
        "  - {name: a, primary_key: [id], columns: [{name: id, storage: integer, semantic: id},"
        " {name: b_id, storage: integer, semantic: id}],"
        " foreign_keys: [{columns: [b_id], ref_table: b, ref_columns: [id]}]}\n"
        "  - {name: b, primary_key: [id], columns: [{name: id, storage: integer, semantic: id},"
        " {name: a_id, storage: integer, semantic: id}],"
        " foreign_keys: [{columns: [a_id], ref_table: a, ref_columns: [id]}]}\n"
    )
    assert main(["generate", "--schema", str(cycle), "--out", out]) == 1
    err = capsys.readouterr().err
    assert "cycle.yaml" in err and "cycle" in err and "Traceback" not in err

    inconsistent = tmp_path / "inconsistent.yaml"
    inconsistent.write_text(RETAIL_YAML.replace("row_count: 200", "row_count: 900"))
    assert main(["generate", "--schema", str(inconsistent), "--out", out]) == 1
    err = capsys.readouterr().err
    assert "'sales'" in err and "900 rows" in err and "at most 500" in err

    typo = tmp_path / "typo.yaml"
    typo.write_text(RETAIL_YAML.replace("storage: float", "storage: floaty", 1))
    assert main(["generate", "--schema", str(typo), "--out", out]) == 1
    err = capsys.readouterr().err
    assert "typo.yaml" in err and "storage" in err and "line" in err


def test_real_data_path_accepts_one_format_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    code = main(["generate", str(data), "--out", str(tmp_path / "o"), "--format", "csv,xlsx"])
    assert code == 1
    assert "writes one format" in capsys.readouterr().err
