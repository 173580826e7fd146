"""`synthtab evaluate REAL SYNTHETIC`: SynthTab's quality and privacy report for any pair of tables,
whoever made the synthetic one.

The schema is inferred from the real table; a seeded holdout is split off it (the same split a
run makes), so every score comes with its holdout ceiling. The synthetic table is compared with
the real training rows, checked against the constraints found in the real data, and measured for
privacy against those rows. ``report.json`` and ``report.html`` land in the output folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from synthtab.agents.profiler import split_holdout
from synthtab.agents.summary_writer import summarize, summary_fields
from synthtab.io.errors import InputError
from synthtab.io.readers import read_table
from synthtab.io.writers import write_json, write_text
from synthtab.schema import Table
from synthtab.schema.infer import infer_table
from synthtab.tools.constraints import validate_table
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.privacy import assess_privacy
from synthtab.tools.report_html import render_report_html

HOLDOUT_FRACTION = 0.2
EXIT_INPUT_ERROR = 1


class EvaluationOutcome(BaseModel):
    out_dir: str
    report_json: str
    report_html: str
    overall_score: float
    holdout_overall_score: float | None
    summary: str


def _check_columns(real: pd.DataFrame, synthetic: pd.DataFrame, synthetic_file: str) -> None:
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:8])
        raise InputError(
            f"the synthetic table lacks {len(missing)} column(s) of the real one: {shown}",
            file=synthetic_file,
        )
    if len(synthetic) == 0:
        raise InputError("the synthetic table has no rows", file=synthetic_file)


def evaluate_frames(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    target: str | None = None,
    seed: int = 0,
    table_name: str = "real",
    sources: dict[str, str] | None = None,
    llm_summary: bool = False,
) -> tuple[dict[str, Any], Table, pd.DataFrame]:
    """The report body (same layout as a run's report.json), the inferred table and the
    real training rows (the plots' reference)."""
    started = time.perf_counter()
    table = infer_table(real, table_name)
    if target is not None and not table.has_column(target):
        raise InputError(f"--target {target!r} is not a column of the real table", column=target)
    train, holdout = split_holdout(real, table, target, HOLDOUT_FRACTION, seed)
    extra = [c for c in synthetic.columns if c not in real.columns]
    synthetic = synthetic[list(real.columns)]
    quality = assess_quality(train, holdout, synthetic, table, target, seed)
    privacy = assess_privacy(train, holdout, synthetic, table, seed)
    validation = validate_table(synthetic, table)
    messages = (
        [f"synthetic columns not in the real table, ignored: {', '.join(extra)}"] if extra else []
    )
    body: dict[str, Any] = {
        "run_id": None,
        "status": "evaluated",
        "summary": {
            **(sources or {}),
            "rows_real": len(real),
            "rows_train": len(train),
            "rows_holdout": len(holdout),
            "rows_synthetic": len(synthetic),
            "target": target,
            "seed": seed,
            "seconds": round(time.perf_counter() - started, 2),
        },
        "validation": validation.model_dump(mode="json"),
        "quality": quality.model_dump(mode="json"),
        "quality_history": [],
        "privacy": privacy.model_dump(mode="json"),
        "iterations": [],
        "messages": messages,
    }
    body.update(summary_fields(summarize(body, use_llm=llm_summary)))
    return body, table, train


def run_evaluate(
    real_path: str | Path,
    synthetic_path: str | Path,
    out_dir: str | Path,
    *,
    target: str | None = None,
    seed: int = 0,
    llm_summary: bool = False,
) -> EvaluationOutcome:
    """Read both tables (InputError on bad input), evaluate, write report.json and report.html."""
    real = read_table(real_path)
    synthetic = read_table(synthetic_path)
    if len(real) < 2:
        raise InputError("the real table needs at least 2 rows", file=str(real_path))
    _check_columns(real, synthetic, str(synthetic_path))
    try:
        body, table, train = evaluate_frames(
            real,
            synthetic,
            target=target,
            seed=seed,
            table_name=Path(real_path).stem,
            sources={"real": str(real_path), "synthetic": str(synthetic_path)},
            llm_summary=llm_summary,
        )
    except InputError as error:
        error.file = error.file or str(real_path)
        raise
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = write_json(body, out / "report.json")
    html_path = write_text(
        render_report_html(body, train, synthetic[list(real.columns)], table), out / "report.html"
    )
    quality = body["quality"]
    return EvaluationOutcome(
        out_dir=str(out),
        report_json=str(json_path),
        report_html=str(html_path),
        overall_score=quality["overall_score"],
        holdout_overall_score=(quality.get("holdout_reference") or {}).get("overall_score"),
        summary=body["plain_summary"],
    )


def run_evaluate_cli(args: argparse.Namespace) -> int:
    """`synthtab evaluate`: 0 written, 1 bad input (the message says which file and column)."""
    try:
        outcome = run_evaluate(
            args.real,
            args.synthetic,
            args.out,
            target=args.target,
            seed=args.seed,
            llm_summary=getattr(args, "llm_summary", False),
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    reference = outcome.holdout_overall_score
    print(
        f"fidelity {outcome.overall_score:.3f}"
        + (f" (holdout ceiling {reference:.3f})" if reference is not None else "")
        + f" -> {outcome.report_html}\n{outcome.summary}",
        file=sys.stderr,
    )
    return 0
