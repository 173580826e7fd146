"""Generator, validator and reporter for data made from a schema alone (the chat path).

The generator makes every table from the schema (priors, vocabularies, fakes, cardinalities);
the validator checks the whole dataset (keys, foreign keys, rules) with the dataset-check tool
and sends failures back; the reporter writes the formats asked for, schema.yaml, report.json and,
last, manifest.json — a directory with a manifest is a finished dataset."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.reporter import file_digest, package_versions
from synthtab.agents.workspace import RunPaths
from synthtab.io.dataset_writers import write_dataset, write_to_database
from synthtab.io.writers import write_json, write_text
from synthtab.models.schema_first import generate_from_schema
from synthtab.schema import Schema
from synthtab.schema.chat_request import ChatRequest
from synthtab.schema.request_text import mentioned_formats
from synthtab.tools.dataset_checks import check_dataset

GENERATOR = "generator"
VALIDATOR = "validator"
REPORTER = "reporter"
PLANNER = "planner"


def dataset_dir(paths: RunPaths) -> Path:
    return paths.work_dir / "dataset"


def read_frames(paths: RunPaths, schema: Schema) -> dict[str, pd.DataFrame]:
    folder = dataset_dir(paths)
    return {t.name: pd.read_parquet(folder / f"{t.name}.parquet") for t in schema.tables}


def formats_for(chat: ChatRequest) -> list[str]:
    return list(chat.formats or mentioned_formats(chat.text) or ["csv"])


def generate_dataset(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    chat = ChatRequest.model_validate(state["chat"])
    schema = Schema.model_validate(state["schema"])
    paths = RunPaths(run_dir=state["run_dir"])
    round_ = state.get("generation_round", 0)
    total = sum(t.row_count or 0 for t in schema.tables)
    emit_progress(GENERATOR, f"making {total:,} rows in {len(schema.tables)} table(s)")
    try:
        frames = generate_from_schema(schema, seed=chat.seed + round_)
    except ValueError as error:
        # a rule or cardinality the schema cannot meet goes back to the planner, bounded
        replans = state.get("replans", 0)
        if replans + 1 >= chat.max_generation_rounds:
            raise
        return {
            "generation_problems": [str(error)],
            "replans": replans + 1,
            "next_node": PLANNER,
            "messages": [f"generator: the schema cannot be met ({error}); back to the planner"],
            "timings": {GENERATOR: time.perf_counter() - started},
        }
    folder = dataset_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet")
    return {
        "generation_round": round_ + 1,
        "generation_problems": [],
        "next_node": VALIDATOR,
        "messages": [f"generator: {total:,} rows (round {round_ + 1})"],
        "timings": {GENERATOR: time.perf_counter() - started},
    }


def validate_dataset(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    chat = ChatRequest.model_validate(state["chat"])
    schema = Schema.model_validate(state["schema"])
    frames = read_frames(RunPaths(run_dir=state["run_dir"]), schema)
    check = check_dataset(frames, schema)
    again = not check.ok and state.get("generation_round", 0) < chat.max_generation_rounds
    verdict = "every check passes" if check.ok else "checks fail"
    return {
        "dataset_check": check.model_dump(mode="json"),
        "next_node": GENERATOR if again else REPORTER,
        "messages": [f"validator: {verdict}" + ("; generating again" if again else "")],
        "timings": {VALIDATOR: time.perf_counter() - started},
    }


def report_dataset(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    chat = ChatRequest.model_validate(state["chat"])
    schema = Schema.model_validate(state["schema"])
    paths = RunPaths(run_dir=state["run_dir"])
    frames = read_frames(paths, schema)
    check = state.get("dataset_check") or {}
    status = "complete" if check.get("ok") else "incomplete"
    formats = formats_for(chat)
    emit_progress(REPORTER, f"writing {', '.join(formats)}")
    written = write_dataset(frames, schema, paths.run_dir, formats)
    messages = []
    if chat.database_url and status == "complete":
        write_to_database(frames, schema, chat.database_url)
        messages.append("reporter: loaded every table into the database")
    schema_path = write_text(schema.to_yaml(), paths.run_dir / "schema.yaml")
    report = {
        "run_id": state["run_id"],
        "status": status,
        "request": chat.text,
        "answers": state.get("answers", []),
        "questions_assumed_away": state.get("assumed_questions", []),
        "templates": [
            {"name": t["name"], "distance": t["distance"]} for t in state.get("templates", [])
        ],
        "stated_counts": state.get("stated_counts", {}),
        "tables": {name: len(frame) for name, frame in frames.items()},
        "formats": formats,
        "llm_calls": state.get("llm_calls", 0),
        "dataset_check": check,
        "messages": [*state.get("messages", []), *messages],
    }
    report_path = write_json(report, paths.run_dir / "report.json")
    outputs = {p.name: file_digest(p) for p in [*written, schema_path, report_path]}
    timings = {**state.get("timings", {}), REPORTER: time.perf_counter() - started}
    manifest = {
        "run_id": state["run_id"],
        "status": status,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": state["chat"],
        "seed": chat.seed,
        "packages": package_versions(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "outputs_sha256": outputs,
    }
    write_json(manifest, paths.manifest)
    return {
        "status": status,
        "outputs": {k: str(paths.run_dir / k) for k in outputs}
        | {"manifest.json": str(paths.manifest)},
        "messages": messages,
        "timings": {REPORTER: time.perf_counter() - started},
    }
