"""Reporter: writes the synthetic table, schema.json, report.json, report.html and, last of all,
manifest.json — a run directory with a manifest is a finished run."""

from __future__ import annotations

import hashlib
import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.summary_writer import summarize, summary_fields
from synthtab.agents.workspace import RunPaths
from synthtab.dp.report_notes import (
    INTERNAL_MANIFEST_SECTIONS,
    html_banner,
    mark_internal,
    privacy_section,
    with_banner,
)
from synthtab.io.writers import write_json, write_table, write_text
from synthtab.schema import GenerationRequest, Schema, Table
from synthtab.tools.conditions import in_seed_order, undelivered_seed_rows
from synthtab.tools.report_html import render_report_html

NODE = "reporter"
RECORDED_PACKAGES = (
    "synthtab",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "pydantic",
    "pandera",
    "langgraph",
    "torch",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_status(state: dict[str, Any], rows_delivered: int, rows_wanted: int) -> str:
    compliant = (state.get("validation") or {}).get("violating_rows", 1) == 0
    return "complete" if compliant and rows_delivered == rows_wanted else "incomplete"


def build_report(state: dict[str, Any], status: str, rows_delivered: int) -> dict[str, Any]:
    request = GenerationRequest.model_validate(state["request"])
    choice = state.get("model_choice", {})
    return {
        "run_id": state["run_id"],
        "status": status,
        "summary": {
            "dataset": state["input"]["file"],
            "table": state["input"]["table"],
            "rows_real": state["input"]["rows"],
            "rows_train": state["split"]["train_rows"],
            "rows_holdout": state["split"]["holdout_rows"],
            "rows_requested": request.rows,
            "rows_delivered": rows_delivered,
            "model": choice.get("name"),
            "model_reason": choice.get("reason"),
            "target": request.target,
            "status": status,
            "seconds": round(sum(state.get("timings", {}).values()), 2),
        },
        "validation": state.get("validation"),
        "repairs": state.get("repairs", []),
        "quality": state.get("quality"),
        "quality_history": state.get("quality_history", []),
        # the best round's rows are delivered, which may be earlier than the last round
        "quality_round_delivered": state.get("delivered_quality_round"),
        "privacy": state.get("privacy"),
        "iterations": state.get("iterations", []),
        "messages": state.get("messages", []),
    }


def seed_table_section(
    request: GenerationRequest, pool: pd.DataFrame, seed_rows: int
) -> dict[str, Any] | None:
    """Which of the seed table's rows (1 = its first data row) got a synthetic row."""
    if request.seed_table is None:
        return None
    undelivered = undelivered_seed_rows(pool, seed_rows)
    return {
        "file": request.seed_table,
        "rows": seed_rows,
        "delivered": seed_rows - len(undelivered),
        "undelivered_rows": undelivered,
    }


def report(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    pool = pd.read_parquet(paths.accepted) if state.get("accepted_rows", 0) else None
    if pool is None:
        pool = pd.read_parquet(paths.train).iloc[0:0]
    rows_wanted = request.rows or 0
    seeding = seed_table_section(request, pool, rows_wanted)
    pool = in_seed_order(pool)
    status = run_status(state, len(pool), rows_wanted)
    messages: list[str] = []
    if len(pool) < rows_wanted:
        messages.append(
            f"reporter: delivered {len(pool):,} of the {rows_wanted:,} rows asked for; "
            "only rows that pass every check are delivered"
            + (
                "; the rows follow the seed table's order, without the rows listed in "
                "report.json's seed_table.undelivered_rows"
                if seeding
                else ""
            )
        )
    emit_progress(NODE, f"writing {len(pool):,} rows as {request.output_format}")
    data_path = write_table(pool, paths.data_file(request.output_format), request.output_format)
    write_text(Schema(tables=[table]).to_json(), paths.schema_json)
    body = build_report(
        {**state, "messages": [*state.get("messages", []), *messages]}, status, len(pool)
    )
    if seeding:
        body["seed_table"] = seeding
    body["thresholds"] = {"overall_score": request.quality_threshold}
    # what sends the assessor's feedback: any one of these on the wrong side
    body["feedback_thresholds"] = {
        "overall_score": request.quality_threshold,
        "detection_auc": request.detection_threshold,
        "tstr_ratio": request.tstr_threshold,
    }
    dp_section = privacy_section(state["dp_budget"]) if state.get("dp_budget") else None
    if dp_section is not None:
        body = {**mark_internal(body), "differential_privacy": dp_section}
    # the template, or with request.llm_summary the LLM's verified text; the fields say which
    body.update(summary_fields(summarize(body, use_llm=request.llm_summary)))
    write_json(body, paths.report_json)
    real = pd.read_parquet(paths.train)  # what the model learned from, as the plots' reference
    html = render_report_html(body, real, pool, table)
    if dp_section is not None:
        html = with_banner(html, html_banner(dp_section))
    write_text(html, paths.report_html)
    timings = {**state.get("timings", {}), NODE: time.perf_counter() - started}
    outputs = {
        p.name: file_digest(p)
        for p in (data_path, paths.schema_json, paths.report_json, paths.report_html)
    }
    manifest = {
        "run_id": state["run_id"],
        "status": status,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": state["input"],
        "request": state["request"],
        "schema": table.model_dump(mode="json", exclude_none=True),
        "model": state.get("model_choice"),
        "seeds": {
            "seed": request.seed,
            "holdout_split": state["split"]["seed"],
            "sampling": state.get("sampling_seeds", []),
        },
        "packages": package_versions(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "outputs_sha256": outputs,
    }
    if dp_section is not None:
        manifest = {
            **mark_internal(manifest, INTERNAL_MANIFEST_SECTIONS),
            "differential_privacy": dp_section,
        }
    write_json(manifest, paths.manifest)
    return {
        "status": status,
        "messages": messages,
        "outputs": {k: str(paths.run_dir / k) for k in outputs}
        | {"manifest.json": str(paths.manifest)},
        "timings": {NODE: time.perf_counter() - started},
    }
