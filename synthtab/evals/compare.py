"""The comparison suite: SynthTab and the open peers side by side, on the same split.

Per dataset the harness splits train/holdout once (the profiler's seeded, stratified split) and
writes both as parquet. Every synthesizer gets the same training file and is judged against the
same holdout with the project's own metrics (tools.fidelity, tools.utility, tools.privacy), plus
SDMetrics' QualityReport computed inside the SDV venv (sdmetrics needs pandas < 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field

from synthtab.agents.profiler import split_holdout
from synthtab.evals.baselines import (
    PEER_SCRIPTS,
    PEERS,
    REFERENCE_PEER,
    SDV_PACKAGES,
    SYNTHTAB_HOLDOUT_FRACTION,
    SynthesisRun,
    SynthesizerRunner,
    peer_runners,
    run_measured,
    synthtab_runners,
)
from synthtab.evals.formatting import cell, command_line
from synthtab.evals.harness import dataset_file
from synthtab.evals.suites import EvalCase, Suite
from synthtab.evals.venvs import VenvError, peer_python
from synthtab.io.writers import write_json, write_text
from synthtab.models.registry import available_models
from synthtab.schema import SemanticType, Table
from synthtab.schema.infer import infer_table
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.privacy import assess_privacy

HOLDOUT_FRACTION = 0.2
HOLDOUT_NAME = "holdout (real)"  # the real holdout scored like a synthesizer: the ceiling
# the bars for a SynthTab model (issue 4, "Done when")
MAX_FIT_RATIO = 0.5
MAX_DCR_SHARE = 0.53

SDMETRICS_SDTYPES: dict[SemanticType, str] = {
    SemanticType.numeric: "numerical",
    SemanticType.datetime: "datetime",
    SemanticType.boolean: "boolean",
    SemanticType.categorical: "categorical",
    SemanticType.constant: "categorical",
}


class SplitFiles(BaseModel):
    dataset: str
    target: str | None
    train_path: str
    holdout_path: str
    table_path: str
    train_rows: int
    holdout_rows: int
    seed: int


class SyntheticMetrics(BaseModel):
    """The project's own metrics for one synthetic table against the shared split."""

    rows: int
    fidelity: float
    column_shapes: float
    pair_trends: float
    tstr_metric: str | None = None
    tstr_synthetic: float | None = None
    tstr_real: float | None = None
    tstr_ratio: float | None = None
    dcr_share: float | None = None
    exact_copy_rate: float
    natural_copy_rate: float | None = None


class ComparisonRow(BaseModel):
    dataset: str
    synthesizer: str
    family: str
    exit_code: int
    status: str
    fit_seconds: float | None = None
    sample_seconds: float | None = None
    wall_seconds: float
    peak_memory_mb: float
    rows: int | None = None
    fidelity: float | None = None
    column_shapes: float | None = None
    pair_trends: float | None = None
    sdmetrics_quality: float | None = None
    sdmetrics_column_shapes: float | None = None
    sdmetrics_pair_trends: float | None = None
    tstr_metric: str | None = None
    tstr_synthetic: float | None = None
    tstr_real: float | None = None
    tstr_ratio: float | None = None
    dcr_share: float | None = None
    exact_copy_rate: float | None = None
    natural_copy_rate: float | None = None
    notes: list[str] = Field(default_factory=list)
    error: str | None = None
    seed: int = 0  # the synthesizer's seed (the split's seed plus the repeat's index)
    runs: int = 1  # on a row that is the median of repeats: how many delivered output
    spread: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="on a median row: metric -> (lowest, highest) run"
    )


class DatasetReference(BaseModel):
    """What the real holdout itself scores against the training rows: the ceilings."""

    dataset: str
    target: str | None
    train_rows: int
    holdout_rows: int
    fidelity: float | None = None
    sdmetrics_quality: float | None = None
    natural_copy_rate: float | None = None


class ComparisonResults(BaseModel):
    command: str
    seed: int
    repeats: int = 1
    synthesizers: list[str]
    references: list[DatasetReference]
    rows: list[ComparisonRow]


SdmetricsScorer = Callable[[SplitFiles, dict[str, Path], Path], dict[str, dict[str, object]]]


# ---- the split --------------------------------------------------------------------------------


def prepare_split(
    source: Path, dataset: str, target: str | None, out_dir: Path, seed: int
) -> SplitFiles:
    """Split ``source`` once into train/holdout parquet files that every synthesizer shares."""
    frame = pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)
    table = infer_table(frame, dataset)
    train, holdout = split_holdout(frame, table, target, HOLDOUT_FRACTION, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path, holdout_path = out_dir / "train.parquet", out_dir / "holdout.parquet"
    table_path = out_dir / "table.json"
    train.to_parquet(train_path, index=False)
    holdout.to_parquet(holdout_path, index=False)
    write_text(table.model_dump_json(indent=2), table_path)
    return SplitFiles(
        dataset=dataset,
        target=target,
        train_path=str(train_path),
        holdout_path=str(holdout_path),
        table_path=str(table_path),
        train_rows=len(train),
        holdout_rows=len(holdout),
        seed=seed,
    )


def _load_split(split: SplitFiles) -> tuple[pd.DataFrame, pd.DataFrame, Table]:
    table = Table.model_validate_json(Path(split.table_path).read_text())
    return pd.read_parquet(split.train_path), pd.read_parquet(split.holdout_path), table


# ---- metrics ------------------------------------------------------------------------------------


def measure_synthetic(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    target: str | None,
    seed: int,
) -> SyntheticMetrics:
    """Fidelity, TSTR and privacy of ``synthetic`` against the shared train and holdout."""
    synthetic = synthetic[[c for c in train.columns if c in synthetic.columns]]
    quality = assess_quality(train, holdout, synthetic, table, target, seed)
    privacy = assess_privacy(train, holdout, synthetic, table, seed)
    utility = quality.utility
    primary = None
    if utility is not None and utility.primary_metric is not None:
        primary = next(s for s in utility.scores if s.metric == utility.primary_metric)
    return SyntheticMetrics(
        rows=len(synthetic),
        fidelity=quality.overall_score,
        column_shapes=quality.column_shape_score,
        pair_trends=quality.pair_trend_score,
        tstr_metric=utility.primary_metric if utility else None,
        tstr_synthetic=primary.synthetic if primary else None,
        tstr_real=primary.real if primary else None,
        tstr_ratio=utility.ratio if utility else None,
        dcr_share=privacy.dcr_share,
        exact_copy_rate=privacy.exact_copy_rate,
        natural_copy_rate=privacy.natural_copy_rate,
    )


def sdmetrics_metadata(table: Table) -> dict[str, object]:
    """SDMetrics' single-table metadata from the project's inferred schema, so every synthesizer
    is scored over the same columns with the same types. Ids and free text are left out of the
    score (as sdtype "id"), as SDMetrics' report does for key columns."""
    columns: dict[str, dict[str, str]] = {}
    for column in table.columns:
        columns[column.name] = {"sdtype": SDMETRICS_SDTYPES.get(column.semantic, "id")}
    return {"columns": columns}


def sdmetrics_scores(
    split: SplitFiles, synthetic: dict[str, Path], work_dir: Path
) -> dict[str, dict[str, object]]:
    """QualityReport of each synthetic table (and the holdout) against the training rows, run in
    the SDV venv. Every table gets an entry: its scores, or {"error": ...}."""
    train, _, table = _load_split(split)
    del train
    metadata_path = work_dir / "sdmetrics_metadata.json"
    out_path = work_dir / "sdmetrics.json"
    out_path.unlink(missing_ok=True)
    write_json(sdmetrics_metadata(table), metadata_path)
    named = {HOLDOUT_NAME: Path(split.holdout_path), **synthetic}
    try:
        python = peer_python("sdv", SDV_PACKAGES)
    except VenvError as error:
        return {name: {"error": str(error)[-500:]} for name in named}
    command = [
        str(python),
        str(PEER_SCRIPTS / "sdmetrics_quality.py"),
        split.train_path,
        str(metadata_path),
        str(out_path),
        *[f"{name}={path}" for name, path in named.items()],
    ]
    measured = run_measured(
        command, work_dir / "sdmetrics.stdout.log", work_dir / "sdmetrics.stderr.log"
    )
    if measured.exit_code != 0 or not out_path.exists():
        return {name: {"error": measured.log_tail[-500:]} for name in named}
    scores: dict[str, dict[str, object]] = json.loads(out_path.read_text())
    return scores


def no_sdmetrics(
    split: SplitFiles, synthetic: dict[str, Path], work_dir: Path
) -> dict[str, dict[str, object]]:
    """The scorer for --no-sdmetrics: no venv needed, no score."""
    return {}


# ---- one dataset, every synthesizer --------------------------------------------------------------


def _row(run: SynthesisRun, dataset: str) -> ComparisonRow:
    return ComparisonRow(
        dataset=dataset,
        synthesizer=run.synthesizer,
        family=run.family,
        exit_code=run.exit_code,
        status=run.status,
        fit_seconds=run.fit_seconds,
        sample_seconds=run.sample_seconds,
        wall_seconds=run.wall_seconds,
        peak_memory_mb=run.peak_memory_mb,
        notes=list(run.notes),
        error=run.error,
    )


def _score_fields(scores: dict[str, object]) -> dict[str, object]:
    if "score" not in scores:
        return {}
    return {
        "sdmetrics_quality": scores.get("score"),
        "sdmetrics_column_shapes": scores.get("column_shapes"),
        "sdmetrics_pair_trends": scores.get("column_pair_trends"),
    }


def compare_dataset(
    split: SplitFiles,
    runners: Sequence[SynthesizerRunner],
    work_dir: Path,
    rows: int | None = None,
    scorer: SdmetricsScorer = sdmetrics_scores,
    repeats: int = 1,
) -> tuple[DatasetReference, list[ComparisonRow]]:
    """Run every synthesizer ``repeats`` times (seeds split.seed, split.seed + 1, ...) on the
    split's training file and score each output; the metrics' own seed stays the split's, so
    runs differ only by what the synthesizer drew."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    train, holdout, table = _load_split(split)
    wanted = rows or split.train_rows
    results: list[ComparisonRow] = []
    holdout_scores: dict[str, object] = {}
    for repeat in range(repeats):
        seed = split.seed + repeat
        run_dir = work_dir if repeats == 1 else work_dir / f"seed-{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        repeat_rows: list[ComparisonRow] = []
        outputs: dict[str, Path] = {}
        for runner in runners:
            print(f"[compare] {split.dataset}: {runner.name} (seed {seed}) ...",
                  file=sys.stderr, flush=True)  # fmt: skip
            run = runner.run(Path(split.train_path), split.target, wanted, run_dir, seed)
            row = _row(run, split.dataset).model_copy(update={"seed": seed})
            if run.synthetic_path is not None:
                synthetic = pd.read_parquet(run.synthetic_path)
                metrics = measure_synthetic(
                    train, holdout, synthetic, table, split.target, split.seed
                )
                row = row.model_copy(update=metrics.model_dump())
                outputs[runner.name] = Path(run.synthetic_path)
            print(
                f"[compare]   exit {run.exit_code}, fit {cell(run.fit_seconds, 1)}s, "
                f"wall {run.wall_seconds:.1f}s, fidelity {cell(row.fidelity)}",
                file=sys.stderr,
                flush=True,
            )
            repeat_rows.append(row)
        scores = scorer(split, outputs, run_dir)
        holdout_scores = holdout_scores or scores.get(HOLDOUT_NAME, {})
        for row in repeat_rows:
            run_scores = scores.get(row.synthesizer, {})
            row = row.model_copy(update=_score_fields(run_scores))
            if "error" in run_scores:
                row.notes.append(f"SDMetrics failed: {str(run_scores['error'])[-200:]}")
            results.append(row)
    reference_quality = assess_quality(train, holdout, holdout, table, None, split.seed)
    privacy = assess_privacy(train, holdout, holdout.iloc[0:0], table, split.seed)
    reference = DatasetReference(
        dataset=split.dataset,
        target=split.target,
        train_rows=split.train_rows,
        holdout_rows=split.holdout_rows,
        fidelity=reference_quality.overall_score,
        sdmetrics_quality=_score_fields(holdout_scores).get("sdmetrics_quality"),  # type: ignore[arg-type]
        natural_copy_rate=privacy.natural_copy_rate,
    )
    return reference, results


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# the measured fields a median row takes the median of; the spread is kept for the judged ones
MEDIAN_FIELDS = (
    "fit_seconds", "sample_seconds", "wall_seconds", "peak_memory_mb", "rows", "fidelity",
    "column_shapes", "pair_trends", "sdmetrics_quality", "sdmetrics_column_shapes",
    "sdmetrics_pair_trends", "tstr_synthetic", "tstr_real", "tstr_ratio", "dcr_share",
    "exact_copy_rate", "natural_copy_rate",
)  # fmt: skip
SPREAD_FIELDS = ("sdmetrics_quality", "fidelity", "tstr_synthetic", "dcr_share")


def median_row(runs: Sequence[ComparisonRow]) -> ComparisonRow:
    """One synthesizer's repeats on one dataset as one row: the median of every measured field
    over the runs that delivered output, with the lowest and highest run of the judged ones."""
    first = runs[0]
    if len(runs) == 1:
        return first
    delivered = [r for r in runs if r.fidelity is not None] or list(runs)
    update: dict[str, object] = {
        field: _median([getattr(r, field) for r in delivered]) for field in MEDIAN_FIELDS
    }
    if update["rows"] is not None:
        update["rows"] = round(update["rows"])  # type: ignore[call-overload]
    spread = {}
    for field in SPREAD_FIELDS:
        values = [getattr(r, field) for r in delivered if getattr(r, field) is not None]
        if len(values) > 1:
            spread[field] = (min(values), max(values))
    failed = [r for r in runs if r.fidelity is None]
    notes = list(dict.fromkeys(n for r in runs for n in r.notes))
    status = first.status
    if failed:
        notes.append(f"{len(failed)} of {len(runs)} runs delivered no output")
        status = "failed" if len(failed) == len(runs) else "partly failed"
    return first.model_copy(
        update={
            **update,
            "exit_code": max(r.exit_code for r in runs),
            "status": status,
            "runs": len(runs) - len(failed),
            "spread": spread,
            "notes": notes,
            "error": next((r.error for r in runs if r.error), None),
        }
    )


def median_rows(rows: Sequence[ComparisonRow]) -> list[ComparisonRow]:
    """Every (dataset, synthesizer) pair's repeats collapsed by ``median_row``, in run order."""
    groups: dict[tuple[str, str], list[ComparisonRow]] = {}
    for row in rows:
        groups.setdefault((row.dataset, row.synthesizer), []).append(row)
    return [median_row(runs) for runs in groups.values()]


# ---- tables ---------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def fit_ratio(row: ComparisonRow, rows: Sequence[ComparisonRow]) -> float | None:
    """This row's fit seconds over the reference peer's (TabularARGN) on the same dataset."""
    reference = next(
        (r for r in rows if r.dataset == row.dataset and r.synthesizer == REFERENCE_PEER), None
    )
    if reference is None or not reference.fit_seconds or row.fit_seconds is None:
        return None
    return row.fit_seconds / reference.fit_seconds


def _with_spread(row: ComparisonRow, field: str) -> str:
    """A median cell with its runs' range: "0.653 (0.62–0.69)"; the plain value for one run."""
    value = cell(getattr(row, field))
    low_high = row.spread.get(field)
    return value if low_high is None else f"{value} ({low_high[0]:.3f}–{low_high[1]:.3f})"


def dataset_table(reference: DatasetReference, rows: Sequence[ComparisonRow]) -> str:
    """One dataset's synthesizers, one line each; a synthesizer run several times shows the
    median over its runs, with the lowest–highest run of the judged scores in brackets."""
    lines = [
        f"### {reference.dataset} (target {reference.target}; {reference.train_rows:,} train / "
        f"{reference.holdout_rows:,} holdout rows; holdout ceiling: fidelity "
        f"{cell(reference.fidelity)}, SDMetrics {cell(reference.sdmetrics_quality)}; natural "
        f"copy rate {_pct(reference.natural_copy_rate)})",
        "",
        "| synthesizer | runs | exit | fit s | sample s | wall s | peak MB | fit / TabularARGN "
        "| fidelity | SDMetrics quality | TSTR synth / real (ratio) | DCR share | exact copies |",
        "|" + "---|" * 13,
    ]
    for r in rows:
        tstr = (
            f"{_with_spread(r, 'tstr_synthetic')} / {cell(r.tstr_real)} ({cell(r.tstr_ratio)}) "
            f"{r.tstr_metric}"
            if r.tstr_metric
            else "–"
        )
        lines.append(
            f"| {r.synthesizer} | {r.runs} | {r.exit_code} | {cell(r.fit_seconds, 1)} "
            f"| {cell(r.sample_seconds, 2)} | {r.wall_seconds:.1f} | {r.peak_memory_mb:.0f} "
            f"| {cell(fit_ratio(r, rows), 2)} | {_with_spread(r, 'fidelity')} "
            f"| {_with_spread(r, 'sdmetrics_quality')} | {tstr} | {_with_spread(r, 'dcr_share')} "
            f"| {_pct(r.exact_copy_rate)} |"
        )
    return "\n".join(lines)


def summary_table(rows: Sequence[ComparisonRow]) -> str:
    """Medians over datasets per synthesizer; fit ratio is the median of per-dataset ratios."""
    names = list(dict.fromkeys(r.synthesizer for r in rows))
    lines = [
        "| synthesizer | datasets ok | median fit s | median fit / TabularARGN | median peak MB "
        "| median fidelity | median SDMetrics | median TSTR ratio | median DCR share "
        "| median copies − natural |",
        "|" + "---|" * 10,
    ]
    for name in names:
        mine = [r for r in rows if r.synthesizer == name]
        ok = [r for r in mine if r.fidelity is not None]
        excess = [
            r.exact_copy_rate - r.natural_copy_rate
            for r in ok
            if r.exact_copy_rate is not None and r.natural_copy_rate is not None
        ]
        lines.append(
            f"| {name} | {len(ok)}/{len(mine)} | {cell(_median([r.fit_seconds for r in ok]), 1)} "
            f"| {cell(_median([fit_ratio(r, rows) for r in ok]), 2)} "
            f"| {cell(_median([r.peak_memory_mb for r in ok]), 0)} "
            f"| {cell(_median([r.fidelity for r in ok]))} "
            f"| {cell(_median([r.sdmetrics_quality for r in ok]))} "
            f"| {cell(_median([r.tstr_ratio for r in ok]))} "
            f"| {cell(_median([r.dcr_share for r in ok]))} | {_pct(_median(excess))} |"
        )
    return "\n".join(lines)


class GoalCheck(BaseModel):
    """The issue's bars for one SynthTab model on one dataset; None where not measurable."""

    dataset: str
    synthesizer: str
    quality_metric: str
    quality_at_least_best_peer: bool | None
    tstr_at_least_best_peer: bool | None
    fit_at_most_half_of_tabularargn: bool | None
    dcr_share_at_most_053: bool | None
    copies_at_most_natural: bool | None


def _at_least_best(mine: float | None, peers: Sequence[float | None]) -> bool | None:
    present = [p for p in peers if p is not None]
    if mine is None or not present:
        return None
    return mine >= max(present)


def goal_checks(rows: Sequence[ComparisonRow]) -> list[GoalCheck]:
    """Quality is SDMetrics' score where it was computed, the project's fidelity otherwise."""
    checks = []
    for row in rows:
        if row.family != "synthtab":
            continue
        peers = [r for r in rows if r.dataset == row.dataset and r.family == "peer"]
        use_sdmetrics = row.sdmetrics_quality is not None
        metric = "sdmetrics_quality" if use_sdmetrics else "fidelity"
        ratio = fit_ratio(row, rows)
        checks.append(
            GoalCheck(
                dataset=row.dataset,
                synthesizer=row.synthesizer,
                quality_metric=metric,
                quality_at_least_best_peer=_at_least_best(
                    getattr(row, metric), [getattr(p, metric) for p in peers]
                ),
                tstr_at_least_best_peer=_at_least_best(
                    row.tstr_synthetic, [p.tstr_synthetic for p in peers]
                ),
                fit_at_most_half_of_tabularargn=None if ratio is None else ratio <= MAX_FIT_RATIO,
                dcr_share_at_most_053=None
                if row.dcr_share is None
                else row.dcr_share <= MAX_DCR_SHARE,
                copies_at_most_natural=None
                if row.exact_copy_rate is None or row.natural_copy_rate is None
                else row.exact_copy_rate <= row.natural_copy_rate,
            )
        )
    return checks


def mark(value: bool | None) -> str:
    """A goal check's cell: yes, **no**, or – where it could not be measured."""
    return "–" if value is None else ("yes" if value else "**no**")


def goal_table(checks: Sequence[GoalCheck]) -> str:
    lines = [
        "| dataset | synthesizer | quality ≥ best peer | TSTR ≥ best peer "
        "| fit ≤ ½ TabularARGN | DCR ≤ 0.53 | copies ≤ natural |",
        "|" + "---|" * 7,
    ]
    for c in checks:
        lines.append(
            f"| {c.dataset} | {c.synthesizer} | {mark(c.quality_at_least_best_peer)} "
            f"({c.quality_metric}) | {mark(c.tstr_at_least_best_peer)} "
            f"| {mark(c.fit_at_most_half_of_tabularargn)} | {mark(c.dcr_share_at_most_053)} "
            f"| {mark(c.copies_at_most_natural)} |"
        )
    return "\n".join(lines)


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def results_markdown(results: ComparisonResults) -> str:
    """The tables; with repeats, every cell judged is the median over a synthesizer's runs."""
    rows = median_rows(results.rows)
    synthtab_notes = sorted({n for r in rows if r.family == "synthtab" for n in r.notes})
    parts = [
        "# SynthTab vs open peers",
        "",
        f"`{results.command}`",
        "",
        "Every synthesizer gets the same training file and is scored against the same real "
        "holdout: fidelity (the project's column shapes + pair trends), SDMetrics QualityReport "
        "(against the training rows), TSTR (HistGradientBoosting trained on synthetic vs on "
        "real, tested on the holdout), DCR share (0.5 ideal) and the exact-copy rate of training "
        "rows (the natural rate is the holdout's own). Fit and sample seconds: the peer's own "
        "timers; for SynthTab, the generator's progress events. Wall seconds and peak memory: "
        "the whole subprocess (for SynthTab the full CLI run: validation, privacy, assessment "
        "and report included). SynthTab runs through `synthtab generate --holdout-fraction "
        f"{SYNTHTAB_HOLDOUT_FRACTION}`: it keeps {SYNTHTAB_HOLDOUT_FRACTION:.0%} of the training "
        "file as its own internal holdout and fits on the rest."
        + (
            f" Every synthesizer ran {results.repeats} times per dataset (seeds "
            f"{results.seed}–{results.seed + results.repeats - 1}, same split and metric seed): "
            "each cell is the median over its runs, with the lowest–highest run in brackets, "
            "and the bars are judged on the medians."
            if results.repeats > 1
            else ""
        ),
        "",
        "## Summary (medians over datasets)",
        "",
        summary_table(rows),
        "",
        "## The issue's bars, per SynthTab model and dataset",
        "",
        goal_table(goal_checks(rows)),
        "",
        "## Per dataset",
    ]
    for reference in results.references:
        mine = [r for r in rows if r.dataset == reference.dataset]
        parts += ["", dataset_table(reference, mine)]
    failures = [r for r in results.rows if r.error]
    if failures:
        parts += ["", "## Failures", ""]
        parts += [
            f"- {r.dataset} / {r.synthesizer} seed {r.seed} (exit {r.exit_code}): "
            f"{_last_line(r.error)}"
            for r in failures
        ]
    if synthtab_notes:
        parts += ["", "Notes: " + "; ".join(synthtab_notes)]
    return "\n".join(parts) + "\n"


def run_compare(
    cases: Sequence[EvalCase],
    data_dir: Path,
    out_dir: Path,
    runners: Sequence[SynthesizerRunner],
    command: str,
    rows: int | None = None,
    seed: int = 0,
    scorer: SdmetricsScorer = sdmetrics_scores,
    repeats: int = 1,
) -> ComparisonResults:
    """Every case, every synthesizer ``repeats`` times; writes results.json (every run) and
    results.md (medians over the runs) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = ComparisonResults(
        command=command,
        seed=seed,
        repeats=repeats,
        synthesizers=[r.name for r in runners],
        references=[],
        rows=[],
    )
    for case in cases:
        split = prepare_split(
            dataset_file(data_dir, case.dataset), case.dataset, case.target,
            out_dir / "splits" / case.dataset, seed,
        )  # fmt: skip
        reference, dataset_rows = compare_dataset(
            split, runners, out_dir / "runs" / case.dataset, rows or case.rows, scorer, repeats
        )
        results.references.append(reference)
        results.rows.extend(dataset_rows)
        # written after every dataset, so a long run that dies keeps what it measured
        write_json(results.model_dump(mode="json"), out_dir / "results.json")
        write_text(results_markdown(results), out_dir / "results.md")
    return results


# ---- the CLI: synthtab eval --suite compare -------------------------------------------------------

DEFAULT_PEERS = list(PEERS)


def _names(value: str | None, default: Sequence[str]) -> list[str]:
    if value is None:
        return list(default)
    if value.strip().lower() == "none":
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def run_compare_cli(
    args: argparse.Namespace, suite: Suite, data_dir: Path, only: list[str] | None
) -> int:
    """``synthtab eval --suite compare``: exit 0 when every synthesizer delivered on every table."""
    cases = [c for c in suite.cases if not only or c.dataset in only]
    unknown = sorted(set(only or []) - {c.dataset for c in suite.cases})
    if unknown:
        known = ", ".join(c.dataset for c in suite.cases)
        print(f"error: not in suite {suite.name}: {', '.join(unknown)}; known: {known}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        models = _names(getattr(args, "models", None), available_models())
        bad = [m for m in models if m not in available_models()]
        if bad:
            raise ValueError(
                f"unknown SynthTab model {bad[0]!r}; registered: {', '.join(available_models())}"
            )
        timeout = getattr(args, "peer_timeout", None)
        peers = peer_runners(_names(args.peers, DEFAULT_PEERS), timeout)
        runners = [*synthtab_runners(models), *peers]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not runners:
        print("error: nothing to compare: no SynthTab model and no peer", file=sys.stderr)
        return 2
    repeats = getattr(args, "repeats", None)
    repeats = 1 if repeats is None else repeats
    if repeats < 1:
        print(f"error: --repeats must be at least 1, got {repeats}", file=sys.stderr)
        return 2
    scorer = no_sdmetrics if getattr(args, "no_sdmetrics", False) else sdmetrics_scores
    out_dir = Path(args.out)
    results = run_compare(
        cases, data_dir, out_dir, runners, command_line(
            suite.name,
            args,
            ("datasets", "peers", "models", "rows", "seed", "repeats", "peer_timeout"),
            ("no_sdmetrics",),
        ),
        rows=args.rows, seed=getattr(args, "seed", None) or 0, scorer=scorer, repeats=repeats,
    )  # fmt: skip
    print(summary_table(median_rows(results.rows)))
    print(f"\nresults: {out_dir / 'results.md'} and {out_dir / 'results.json'}")
    return 0 if all(r.fidelity is not None for r in results.rows) else 1
