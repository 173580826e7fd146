"""The eval harness (`synthtab eval`): runs a suite through the real CLI, one subprocess per
case so each case's peak memory is its own, and writes results.json and results.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthtab.evals.formatting import cell, command_line
from synthtab.evals.suites import SUITES, EvalCase, Suite
from synthtab.io.writers import write_json, write_text

DATA_DIR_ENV = "SYNTHTAB_DATA_DIR"


class CaseResult(BaseModel):
    dataset: str
    variant: str | None = None
    target: str | None
    rows_requested: int | None
    rows_delivered: int | None = None
    exit_code: int
    status: str
    wall_seconds: float
    peak_memory_mb: float
    fidelity: float | None = None
    column_shapes: float | None = None
    pair_trends: float | None = None
    holdout_fidelity: float | None = None
    tstr_metric: str | None = None
    tstr_synthetic: float | None = None
    tstr_real: float | None = None
    tstr_ratio: float | None = None
    dcr_share: float | None = None
    detection_auc: float | None = None
    quality_rounds: int | None = None  # assessments made (1 + feedback rounds)
    model: str | None = None
    # the model's sampling alone: rows sampled over seconds spent sampling, all rounds
    sample_rows_per_second: float | None = None
    # the feedback rounds as "model overall" steps, the adjustment that led to each, and the
    # round delivered (the feedback ablation's table)
    round_steps: list[str] = []
    delivered_round: int | None = None
    exact_copies_removed: int | None = None
    rules_checked: int | None = None
    violating_rows: int | None = None
    error: str | None = None


def find_data_dir(explicit: str | None) -> Path:
    candidates = [explicit, os.environ.get(DATA_DIR_ENV), "../shared/datasets", "shared/datasets"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    raise FileNotFoundError(f"no benchmark data folder: pass --data-dir or set {DATA_DIR_ENV}")


def dataset_file(data_dir: Path, name: str) -> Path:
    for suffix in (".parquet", ".csv"):
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"{name} not found in {data_dir}")


def run_case(case: EvalCase, data_dir: Path, out_dir: Path, rows: int | None) -> CaseResult:
    folder = case.dataset if case.variant is None else f"{case.dataset}-{case.variant}"
    run_dir = out_dir / "runs" / folder.replace(" ", "-")
    command = [
        sys.executable,
        "-m",
        "synthtab.app",
        "generate",
        str(dataset_file(data_dir, case.dataset)),
        "--out",
        str(run_dir),
        "--overwrite",
        "--quiet",
        "--seed",
        "0",
    ]
    if case.target:
        command += ["--target", case.target]
    command += case.extra_args
    wanted = rows or case.rows
    if wanted:
        command += ["--rows", str(wanted)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read() if process.stderr else ""
    exit_code = os.waitstatus_to_exitcode(status)
    result = CaseResult(
        dataset=case.dataset,
        variant=case.variant,
        target=case.target,
        rows_requested=wanted,
        exit_code=exit_code,
        status="failed",
        wall_seconds=round(wall, 2),
        peak_memory_mb=round(usage.ru_maxrss / 1024, 1),
        error=stderr.strip()[-2000:] or None,
    )
    report_path = run_dir / "report.json"
    if not report_path.exists():
        return result
    report = json.loads(report_path.read_text())
    quality = report.get("quality") or {}
    utility = quality.get("utility") or {}
    privacy = report.get("privacy") or {}
    validation = report.get("validation") or {}
    primary = next(
        (s for s in utility.get("scores", []) if s.get("metric") == utility.get("primary_metric")),
        {},
    )
    return result.model_copy(
        update={
            "status": report.get("status", "unknown"),
            "rows_requested": report["summary"]["rows_requested"],
            "rows_delivered": report["summary"]["rows_delivered"],
            "fidelity": quality.get("overall_score"),
            "column_shapes": quality.get("column_shape_score"),
            "pair_trends": quality.get("pair_trend_score"),
            "holdout_fidelity": (quality.get("holdout_reference") or {}).get("overall_score"),
            "tstr_metric": utility.get("primary_metric"),
            "tstr_synthetic": primary.get("synthetic"),
            "tstr_real": primary.get("real"),
            "tstr_ratio": utility.get("ratio"),
            "dcr_share": privacy.get("dcr_share"),
            "detection_auc": (quality.get("detection") or {}).get("auc"),
            "quality_rounds": len(report.get("quality_history") or []),
            "model": report["summary"].get("model"),
            "sample_rows_per_second": sampling_rate(report.get("iterations") or []),
            "round_steps": round_steps(report.get("quality_history") or []),
            "delivered_round": report.get("quality_round_delivered"),
            "exact_copies_removed": privacy.get("exact_copies_removed"),
            "rules_checked": len(validation.get("checks", [])),
            "violating_rows": validation.get("violating_rows"),
            "error": None if exit_code == 0 else result.error,
        }
    )


def round_steps(history: list[dict[str, Any]]) -> list[str]:
    """Each quality round as "<adjustment that made it> <model> <overall>", e.g. "copula 0.973",
    "switch_model (from 0) argn 0.990"."""
    steps = []
    for record in history:
        model = str((record.get("model_choice") or {}).get("name", "?"))
        applied = " + ".join(str(a.get("tool")) for a in record.get("applied") or [])
        origin = record.get("from_round")
        if applied and origin is not None and origin != int(record["quality_round"]) - 1:
            applied += f" (from {origin})"
        steps.append(" ".join(p for p in (applied, model, f"{float(record['overall']):.3f}") if p))
    return steps


def sampling_rate(iterations: list[dict[str, Any]]) -> float | None:
    """Rows per second of the generator's sampling, over every round of a run."""
    rounds = [i for i in iterations if i.get("node") == "generator" and "sample_seconds" in i]
    seconds = sum(float(i["sample_seconds"]) for i in rounds)
    rows = sum(int(i.get("rows_sampled", 0)) for i in rounds)
    return round(rows / seconds) if rounds and seconds > 0 else None


def speed_table(results: list[CaseResult]) -> str:
    """The speed suite: end-to-end time and the model's own sampling rate."""
    lines = [
        "| dataset | model | rows | exit | time (s) | peak MB | sample rows/s | fidelity |",
        "|" + "---|" * 8,
    ]
    for r in results:
        dataset = r.dataset if r.variant is None else f"{r.dataset} ({r.variant})"
        lines.append(
            f"| {dataset} | {cell(r.model)} | {cell(r.rows_delivered)} | {r.exit_code} "
            f"| {r.wall_seconds:.1f} | {r.peak_memory_mb:.0f} "
            f"| {cell(r.sample_rows_per_second and int(r.sample_rows_per_second))} "
            f"| {cell(r.fidelity)} |"
        )
    return "\n".join(lines)


def suite_table(suite_name: str, results: list[CaseResult]) -> str:
    if suite_name == "feedback":
        return feedback_table(results)
    return speed_table(results) if suite_name == "speed" else results_table(results)


def results_table(results: list[CaseResult]) -> str:
    header = (
        "| dataset | rows | exit | status | time (s) | peak MB | fidelity (holdout ceiling) "
        "| TSTR synth / real (ratio) | DCR share | copies removed | checks | violating rows |"
    )
    lines = [header, "|" + "---|" * 12]
    for r in results:
        tstr = (
            f"{cell(r.tstr_synthetic)} / {cell(r.tstr_real)} ({cell(r.tstr_ratio)}) {r.tstr_metric}"
            if r.tstr_ratio is not None
            else "–"
        )
        dataset = r.dataset if r.variant is None else f"{r.dataset} ({r.variant})"
        lines.append(
            f"| {dataset} | {cell(r.rows_delivered)} | {r.exit_code} | {r.status} "
            f"| {r.wall_seconds:.1f} | {r.peak_memory_mb:.0f} "
            f"| {cell(r.fidelity)} ({cell(r.holdout_fidelity)}) | {tstr} | {cell(r.dcr_share)} "
            f"| {cell(r.exact_copies_removed)} | {cell(r.rules_checked)} | {cell(r.violating_rows)} |"
        )
    return "\n".join(lines)


def feedback_table(results: list[CaseResult]) -> str:
    """The feedback ablation in the README's format: one row per dataset and variant."""
    lines = [
        "| dataset | feedback | time (s) | peak MB | fidelity (ceiling) | pair trends "
        "| detection AUC | TSTR ratio | rounds (overall) → delivered |",
        "|" + "---|" * 9,
    ]
    for r in results:
        rounds = " → ".join(r.round_steps) or "–"
        if len(r.round_steps) > 1 and r.delivered_round is not None:
            rounds += f" → round {r.delivered_round}"
        variant = (r.variant or "").removeprefix("feedback ")
        lines.append(
            f"| {r.dataset} | {variant} | {r.wall_seconds:.1f} | {r.peak_memory_mb:,.0f} "
            f"| {cell(r.fidelity)} ({cell(r.holdout_fidelity)}) | {cell(r.pair_trends)} "
            f"| {cell(r.detection_auc)} | {cell(r.tstr_ratio)} | {rounds} |"
        )
    return "\n".join(lines)


def run_suite(
    suite: Suite,
    data_dir: Path,
    out_dir: Path,
    rows: int | None = None,
    only: list[str] | None = None,
) -> list[CaseResult]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for case in suite.cases:
        if only and case.dataset not in only:
            continue
        print(f"[eval] {suite.name}: {case.dataset} ...", file=sys.stderr, flush=True)
        result = run_case(case, data_dir, out_dir, rows)
        print(f"[eval]   exit {result.exit_code}, {result.wall_seconds:.1f}s", file=sys.stderr)
        results.append(result)
    write_json([r.model_dump(mode="json") for r in results], out_dir / "results.json")
    command = f"synthtab eval --suite {suite.name}" + (f" --rows {rows}" if rows else "")
    table = suite_table(suite.name, results)
    write_text(f"{suite.description}\n\n`{command}`\n\n{table}\n", out_dir / "results.md")
    return results


def run_seeded_suite(
    args: argparse.Namespace,
    suite: Suite,
    data_dir: Path,
    only: list[str] | None,
    measure: Callable[[EvalCase, Path, Path, list[int]], Sequence[BaseModel]],
    markdown: Callable[[list[Any], str, str], str],
) -> int:
    """An in-process suite run per table over ``--repeats`` seeds from ``--seed``: results to
    ``--out``'s results.json after every table and its table to results.md; exit 0 when every
    table was measured."""
    repeats = getattr(args, "repeats", None)
    repeats = 1 if repeats is None else repeats
    seed = getattr(args, "seed", None) or 0
    if repeats < 1:
        print(f"error: --repeats must be at least 1, got {repeats}", file=sys.stderr)
        return 2
    cases = [c for c in suite.cases if not only or c.dataset in only]
    if not cases:
        known = ", ".join(c.dataset for c in suite.cases)
        print(f"error: no case of suite {suite.name} in --datasets; known: {known}",
              file=sys.stderr)  # fmt: skip
        return 2
    out_dir = Path(args.out)
    seeds = list(range(seed, seed + repeats))
    results: list[BaseModel] = []
    failed = []
    for case in cases:
        print(f"[eval] {suite.name}: {case.dataset} ...", file=sys.stderr, flush=True)
        try:
            results.extend(measure(case, data_dir, out_dir, seeds))
        except (OSError, ValueError) as error:
            print(f"error: {case.dataset}: {error}", file=sys.stderr)
            failed.append(case.dataset)
        # written after every table, so a long suite that is stopped keeps what it measured
        write_json([r.model_dump() for r in results], out_dir / "results.json")
    command = command_line(suite.name, args, ("datasets", "repeats", "seed"))
    text = markdown(results, command, suite.description)
    if failed:
        text += f"\nFailed: {', '.join(failed)} (see the log).\n"
    write_text(text, out_dir / "results.md")
    print(text)
    return 1 if failed else 0


def run_eval_cli(args: argparse.Namespace) -> int:
    if args.suite == "chat":
        from synthtab.evals.chat_suite import run_chat_suite_cli

        return run_chat_suite_cli(args)
    if args.suite not in SUITES:
        print(
            f"error: unknown suite {args.suite!r}; suites: {sorted([*SUITES, 'chat'])}",
            file=sys.stderr,
        )
        return 2
    try:
        data_dir = find_data_dir(args.data_dir)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    only = args.datasets.split(",") if args.datasets else None
    suite = SUITES[args.suite]
    if suite.runner == "dp":
        from synthtab.evals.dp_suite import run_dp_suite_cli

        return run_dp_suite_cli(args, suite, data_dir, only)
    if suite.runner == "training":
        from synthtab.evals.training_speed import run_training_suite_cli

        return run_training_suite_cli(args, suite, data_dir, only)
    if suite.runner == "conditioning":
        from synthtab.evals.conditioning import run_conditioning_suite_cli

        return run_conditioning_suite_cli(args, suite, data_dir, only)
    if suite.runner == "datetimes":
        from synthtab.evals.datetimes import run_datetimes_suite_cli

        return run_datetimes_suite_cli(args, suite, data_dir, only)
    if suite.runner == "compare":
        from synthtab.evals.compare import run_compare_cli

        return run_compare_cli(args, suite, data_dir, only)
    results = run_suite(SUITES[args.suite], data_dir, Path(args.out), args.rows, only)
    print(suite_table(args.suite, results))
    return 0 if all(r.exit_code == 0 for r in results) else 1
