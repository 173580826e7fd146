"""``synthtab eval --suite chat``: the prompt suite through the real chat graph and embedded LLM.

Every request runs with --yes and csv + sql output; a request passes when its run completes, the
schema parses, the tables and row counts it asked for are there, every foreign key resolves and
every rule holds (re-checked here from the written CSV files), and dataset.sql loads into sqlite3
with foreign keys enforced and the same row counts."""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, Field

from synthtab.graphs.chat import prepare_chat, run_chat
from synthtab.graphs.runner import RunFailed
from synthtab.io.writers import write_json, write_text
from synthtab.schema import Schema, StorageType
from synthtab.schema.chat_request import ChatRequest
from synthtab.schema.proposal import safe_identifier, table_aliases
from synthtab.tools.dataset_checks import check_dataset

SUITE_FILE = "prompt_suite.yaml"


class PromptCase(BaseModel):
    id: str
    text: str
    tables: list[list[str]] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


class PromptResult(BaseModel):
    id: str
    passed: bool
    seconds: float
    tables: dict[str, int] = Field(default_factory=dict)
    llm_calls: int = 0
    failures: list[str] = Field(default_factory=list)


def load_prompt_suite(path: Path | None = None) -> list[PromptCase]:
    if path is None:
        text = resources.files("synthtab.evals").joinpath("data", SUITE_FILE).read_text()
    else:
        text = path.read_text(encoding="utf-8")
    return [PromptCase.model_validate(item) for item in yaml.safe_load(text)["requests"]]


def matching_table(wanted: list[str], tables: list[str]) -> str | None:
    names = {safe_identifier(w) for w in wanted}
    for table in tables:
        if (
            safe_identifier(table) in names
            or {a.replace(" ", "_") for a in table_aliases(table)} & names
        ):
            return table
    return None


def sql_load_problems(sql_path: Path, frames: dict[str, pd.DataFrame]) -> list[str]:
    """Load the SQL script into a fresh in-memory sqlite3 database with foreign keys on."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(sql_path.read_text(encoding="utf-8"))
        problems = []
        for table, frame in frames.items():
            (count,) = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            if count != len(frame):
                problems.append(f"sql: {table} has {count} rows, the CSV {len(frame)}")
        orphans = connection.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            problems.append(f"sql: {len(orphans)} foreign key violations")
        return problems
    except sqlite3.Error as error:
        return [f"sql does not load into sqlite3: {error}"]
    finally:
        connection.close()


def check_case(case: PromptCase, run_dir: Path) -> tuple[list[str], dict[str, int]]:
    schema = Schema.from_text((run_dir / "schema.yaml").read_text(encoding="utf-8"), "yaml")
    # text columns stay text ("000123" is not 123), as the schema says
    frames = {
        t.name: pd.read_csv(
            run_dir / f"{t.name}.csv",
            dtype={c.name: "string" for c in t.columns if c.storage == StorageType.string},
        )
        for t in schema.tables
    }
    failures: list[str] = []
    names = [t.name for t in schema.tables]
    found: dict[str, str] = {}
    for wanted in case.tables:
        table = matching_table(wanted, names)
        if table is None:
            failures.append(f"no table for {wanted[0]!r} (tables: {names})")
        else:
            found[wanted[0]] = table
    for wanted, count in case.counts.items():
        table = found.get(wanted)
        if table is not None and len(frames[table]) != count:
            failures.append(f"{table}: {len(frames[table])} rows, asked for {count}")
    typed = _typed_frames(frames, schema)
    check = check_dataset(typed, schema)
    if not check.ok:
        failures.append(f"dataset check fails: {json.dumps(check.model_dump(mode='json'))[:300]}")
    failures.extend(sql_load_problems(run_dir / "dataset.sql", frames))
    return failures, {name: len(frame) for name, frame in frames.items()}


def _typed_frames(frames: dict[str, pd.DataFrame], schema: Schema) -> dict[str, pd.DataFrame]:
    """CSV text read back with the schema's datetime columns as datetimes."""
    typed = {}
    for table in schema.tables:
        frame = frames[table.name].copy()
        for column in table.columns:
            if column.is_datetime and column.name in frame:
                frame[column.name] = pd.to_datetime(
                    frame[column.name], format=column.datetime_format
                )
        typed[table.name] = frame
    return typed


def run_case(case: PromptCase, llm: Any, out_dir: Path, seed: int) -> PromptResult:
    run_dir = out_dir / case.id
    chat = ChatRequest(text=case.text, formats=["csv", "sql"], assume_yes=True, seed=seed)
    started = time.perf_counter()
    try:
        outcome = run_chat(prepare_chat(chat, run_dir, overwrite=True), llm)
    except RunFailed as error:
        return PromptResult(
            id=case.id, passed=False, seconds=time.perf_counter() - started, failures=[str(error)]
        )
    seconds = time.perf_counter() - started
    report = json.loads((run_dir / "report.json").read_text()) if outcome.status else {}
    if outcome.status != "complete":
        return PromptResult(
            id=case.id, passed=False, seconds=seconds, failures=[f"status {outcome.status}"]
        )
    failures, tables = check_case(case, run_dir)
    return PromptResult(
        id=case.id,
        passed=not failures,
        seconds=round(seconds, 1),
        tables=tables,
        llm_calls=int(report.get("llm_calls", 0)),
        failures=failures,
    )


def results_markdown(results: list[PromptResult], model_name: str) -> str:
    passed = sum(r.passed for r in results)
    median = statistics.median(r.seconds for r in results) if results else float("nan")
    lines = [
        f"Model: {model_name}. Pass rate {passed}/{len(results)} "
        f"({passed / max(len(results), 1):.0%}); median {median:.1f} s per request.",
        "",
        "| request | pass | tables (rows) | LLM calls | seconds | why not |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        tables = ", ".join(f"{k} ({v:,})" for k, v in r.tables.items())
        why = " ".join("; ".join(r.failures).split())[:160].replace("|", "/")
        lines.append(
            f"| {r.id} | {'yes' if r.passed else 'no'} | {tables} | {r.llm_calls} | {r.seconds:.0f} | {why} |"
        )
    return "\n".join(lines)


def run_chat_suite_cli(args: argparse.Namespace) -> int:
    from synthtab.llm import LLMUnavailable, get_chat_model

    cases = load_prompt_suite()
    if args.datasets:
        wanted = set(args.datasets.split(","))
        unknown = wanted - {c.id for c in cases}
        if unknown:
            print(f"error: unknown prompt ids {sorted(unknown)}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.id in wanted]
    try:
        llm = get_chat_model()
    except LLMUnavailable as error:
        print(f"error: no LLM available: {error}", file=sys.stderr)
        return 1
    out_dir = Path(args.out)
    results = []
    for case in cases:
        result = run_case(case, llm, out_dir, args.seed or 0)
        print(
            f"{case.id}: {'pass' if result.passed else 'FAIL'} in {result.seconds:.0f} s "
            + "; ".join(result.failures)[:200],
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    table = results_markdown(results, llm.name)
    write_json([r.model_dump() for r in results], out_dir / "chat_results.json")
    write_text(table + "\n", out_dir / "chat_results.md")
    print(table)
    return 0 if all(r.passed for r in results) else 1
