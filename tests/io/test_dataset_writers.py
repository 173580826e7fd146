"""Multi-table outputs: CSV, Excel, SQL (SQLite and PostgreSQL), Parquet, JSON, databases."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from synthtab.io.dataset_writers import (
    excel_sheet_names,
    parse_formats,
    sql_script,
    write_dataset,
    write_to_database,
)
from synthtab.io.errors import OutputError
from synthtab.models.schema_first import generate_from_schema
from synthtab.schema import Schema

TRICKY_TEXT = ["=1+1", "O'Brien", 'say "hi"', "back\\slash", "two\nlines", "ünïcødé ✓"]


def col(name: str, storage: str, semantic: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "storage": storage, "semantic": semantic, **extra}


def shop() -> Schema:
    return Schema.model_validate(
        {
            "tables": [
                {
                    "name": "customers",
                    "row_count": 30,
                    "primary_key": ["customer_id"],
                    "columns": [
                        col("customer_id", "integer", "id", nullable=False),
                        col("name", "string", "text", fake="full_name", nullable=False),
                        col("email", "string", "email", unique=True),
                        col("vip", "boolean", "boolean"),
                        col("joined", "datetime", "datetime"),
                        col("note", "string", "text", examples=TRICKY_TEXT, null_fraction=0.2),
                    ],
                },
                {
                    "name": "employees",
                    "row_count": 12,
                    "primary_key": ["employee_id"],
                    "columns": [
                        col("employee_id", "string", "id", nullable=False),
                        col("manager_id", "string", "id"),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["manager_id"],
                            "ref_table": "employees",
                            "ref_columns": ["employee_id"],
                        }
                    ],
                },
                {
                    "name": "orders",
                    "row_count": 90,
                    "primary_key": ["order_id"],
                    "columns": [
                        col("order_id", "integer", "id", nullable=False),
                        col("customer_id", "integer", "id", nullable=False),
                        col("seller_id", "string", "id"),
                        col("total", "float", "numeric", minimum=0, decimals=2),
                        col(
                            "placed_at",
                            "datetime",
                            "datetime",
                            minimum="2024-01-01 08:00:00",
                            maximum="2024-03-01 18:00:00",
                        ),
                        col("placed_on", "string", "datetime", datetime_format="%d.%m.%Y"),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["customer_id"],
                            "ref_table": "customers",
                            "ref_columns": ["customer_id"],
                            "cardinality": {"min": 1, "max": 5},
                        },
                        {
                            "columns": ["seller_id"],
                            "ref_table": "employees",
                            "ref_columns": ["employee_id"],
                        },
                    ],
                },
            ]
        }
    )


@pytest.fixture(scope="module")
def dataset() -> tuple[Schema, dict[str, pd.DataFrame]]:
    schema = shop()
    return schema, generate_from_schema(schema, seed=4)


def test_parse_formats() -> None:
    assert parse_formats("csv") == ["csv"]
    assert parse_formats(" CSV, xlsx ,sql,csv,excel") == ["csv", "xlsx", "sql"]
    with pytest.raises(OutputError, match=r"unknown output format 'xml'.*csv, xlsx, sql, parquet"):
        parse_formats("csv,xml")
    with pytest.raises(OutputError, match="no output format"):
        parse_formats(" , ")


def test_sheet_names_respect_excel_limits() -> None:
    names = excel_sheet_names(["a" * 40, "a" * 35, "Sales", "sales", "what?[x]", "History"])
    assert all(len(n) <= 31 for n in names.values())
    assert len({n.lower() for n in names.values()}) == 6
    assert names["what?[x]"] == "what__x_"
    assert names["History"].lower() != "history"


def test_every_format_writes_every_table(
    dataset: tuple[Schema, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    schema, frames = dataset
    paths = write_dataset(frames, schema, tmp_path, ["csv", "xlsx", "sql", "parquet", "json"])
    names = sorted(p.name for p in paths)
    tables = ["customers", "employees", "orders"]
    expected = [f"{t}.{ext}" for t in tables for ext in ("csv", "json", "parquet")]
    assert names == sorted([*expected, "dataset.xlsx", "dataset.sql"])
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind
    for table in tables:
        assert len(pd.read_csv(tmp_path / f"{table}.csv")) == len(frames[table])
        records = json.loads((tmp_path / f"{table}.json").read_text())
        assert len(records) == len(frames[table]) and set(records[0]) == set(frames[table])
        parquet = pd.read_parquet(tmp_path / f"{table}.parquet")
        pd.testing.assert_frame_equal(parquet, frames[table], check_dtype=False)
    workbook = openpyxl.load_workbook(tmp_path / "dataset.xlsx", read_only=True)
    # parents first: employees references itself only, orders references both
    assert workbook.sheetnames == ["customers", "employees", "orders"]
    assert sum(1 for _ in workbook["orders"].iter_rows()) == 91
    rows = workbook["customers"].iter_rows(min_row=2, values_only=True)
    notes = [r[5] for r in rows if len(r) > 5]  # read-only rows end at their last value
    assert "=1+1" in notes  # text stays text, never a formula
    assert set(notes) == set(frames["customers"]["note"].dropna())


def load_sqlite(script: str) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript(script)
    return connection


def test_sql_script_loads_into_sqlite_with_foreign_keys_on(
    dataset: tuple[Schema, dict[str, pd.DataFrame]],
) -> None:
    schema, frames = dataset
    script = sql_script(frames, schema)
    assert 'CREATE TABLE "orders"' in script and 'PRIMARY KEY ("order_id")' in script
    assert 'FOREIGN KEY ("customer_id") REFERENCES "customers" ("customer_id")' in script
    assert 'UNIQUE ("email")' in script
    connection = load_sqlite(script)
    for table, frame in frames.items():
        assert connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == len(frame)
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    notes = {r[0] for r in connection.execute("SELECT note FROM customers WHERE note IS NOT NULL")}
    assert notes <= set(TRICKY_TEXT) and len(notes) >= 4
    placed = connection.execute("SELECT placed_at, placed_on FROM orders LIMIT 1").fetchone()
    assert placed[0][:4] == "2024" and len(placed[0]) == 19  # ISO text with the time
    assert placed[1].count(".") == 2  # a text column keeps its own format
    # a dangling key is refused: the constraints are real
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO orders (order_id, customer_id) VALUES (99999, 424242)")


def test_sql_script_refuses_values_sql_cannot_hold() -> None:
    schema = Schema.model_validate(
        {"tables": [{"name": "t", "columns": [col("x", "float", "numeric")]}]}
    )
    with pytest.raises(OutputError, match=r"table 't', column 'x', row 2"):
        sql_script({"t": pd.DataFrame({"x": [1.0, float("inf")]})}, schema)


def test_write_to_database_in_one_transaction(
    dataset: tuple[Schema, dict[str, pd.DataFrame]], tmp_path: Path
) -> None:
    schema, frames = dataset
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    write_to_database(frames, schema, url)
    connection = sqlite3.connect(tmp_path / "shop.db")
    for table, frame in frames.items():
        assert connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == len(frame)
    connection.execute("PRAGMA foreign_keys=ON")
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    connection.close()
    with pytest.raises(OutputError, match="'customers' already exists"):
        write_to_database(frames, schema, url)
    # a failing insert leaves nothing behind
    broken = dict(frames)
    broken["orders"] = frames["orders"].assign(customer_id=424242)
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(OutputError, match="writing to the database failed"):
        write_to_database(broken, schema, fresh)
    tables = sqlite3.connect(tmp_path / "fresh.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'"
    )
    assert tables.fetchall() == []
    with pytest.raises(OutputError, match="cannot use database URL"):
        write_to_database(frames, schema, "nosuchdb://x")


# --------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway server from the PostgreSQL binaries on this machine, if there are any


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="module")
def postgres() -> Iterator[Path]:
    """A socket directory of a running PostgreSQL server (user ``synthtab``, trust auth)."""
    bin_dir = _postgres_bin()
    if bin_dir is None or shutil.which("psql") is None:
        pytest.skip("no PostgreSQL binaries (initdb, psql) on this machine")
    # not under pytest's own temporary folder, which other users cannot enter
    root = Path(tempfile.mkdtemp(prefix="synthtab-pg-"))
    # PostgreSQL refuses to run as root: run the server as the postgres user then
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, user="postgres")
        root.chmod(0o755)
    data = root / "data"
    run = {"check": True, "capture_output": True, "timeout": 60}
    try:
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "synthtab",
                "--no-sync",
            ],
            **run,
        )
        options = f"-k {root} -c listen_addresses='' -c fsync=off"
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(root / "log"),
                "start",
            ],
            **run,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        pytest.skip(f"could not start PostgreSQL: {error}")
    yield root
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(root, ignore_errors=True)


def psql(socket_dir: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [
            "psql",
            "-h",
            str(socket_dir),
            "-U",
            "synthtab",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-At",
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sql_script_loads_into_postgresql(
    dataset: tuple[Schema, dict[str, pd.DataFrame]], postgres: Path
) -> None:
    schema, frames = dataset
    psql(postgres, stdin=sql_script(frames, schema))
    for table, frame in frames.items():
        assert psql(postgres, "-c", f'SELECT count(*) FROM "{table}"').strip() == str(len(frame))
    notes = set(
        psql(
            postgres,
            "-c",
            "SELECT DISTINCT note FROM customers WHERE note NOT LIKE '%' || chr(10) || '%'",
        ).splitlines()
    )
    assert notes <= set(TRICKY_TEXT)
    assert "back\\slash" in notes  # standard strings: a backslash is just a backslash
    kinds = psql(
        postgres,
        "-c",
        "SELECT data_type FROM information_schema.columns WHERE "
        "table_name = 'orders' ORDER BY ordinal_position",
    ).split()
    assert kinds[:4] == ["bigint", "bigint", "text", "double"]
    assert "timestamp" in kinds
