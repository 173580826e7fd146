"""The DP benchmark (`synthtab eval --suite dp`): SynthTab's differentially private path against
smartnoise-synth's MST and AIM, at several epsilons, on one shared split per table.

Per dataset the split is the compare suite's (``compare.prepare_split``: seeded, stratified, the
same holdout fraction). At every epsilon each method gets the same training file and is judged
against the same holdout: the project's fidelity and TSTR (``compare.measure_synthetic``, one
classifier for all), and SDMetrics' QualityReport against the training rows, computed in the SDV
venv (sdmetrics needs pandas < 3). SynthTab runs through its real CLI (``synthtab generate
--epsilon``, ledger in the output folder); the epsilon it spent comes from its manifest.
smartnoise runs in its own venv (``venvs.peer_python``) through ``peer_scripts/smartnoise_peer.py``.

The non-DP reference is SynthTab's Gaussian copula without epsilon, on the same split: the
issue's bar "TSTR at epsilon 3 >= 0.9 x non-DP TSTR" reads off it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field

from synthtab.agents.generator import choose_private_model
from synthtab.dp.private_run import spent_by_run
from synthtab.evals.baselines import (
    ERROR_TAIL,
    PEER_SCRIPTS,
    SYNTHTAB_HOLDOUT_FRACTION,
    SynthesisRun,
    generator_seconds,
    read_events,
    run_measured,
    synthtab_cli_run,
)
from synthtab.evals.compare import (
    HOLDOUT_FRACTION,
    SdmetricsScorer,
    SplitFiles,
    mark,
    measure_synthetic,
    no_sdmetrics,
    prepare_split,
    sdmetrics_scores,
)
from synthtab.evals.formatting import cell, command_line
from synthtab.evals.harness import dataset_file
from synthtab.evals.suites import EvalCase, Suite
from synthtab.evals.venvs import VenvError, peer_python
from synthtab.io.writers import write_json, write_text
from synthtab.schema import GenerationRequest, SemanticType, Table

DEFAULT_EPSILONS = (0.5, 1.0, 3.0, 10.0)
DELTA = 1e-6  # SynthTab's default --delta; smartnoise gets the same
SMARTNOISE_PACKAGES = ["smartnoise-synth==1.0.8", "pyarrow==26.0.1"]
SMARTNOISE_METHODS = ("mst", "aim")
# dp_argn fits a 5,000-row table in 27-38 s on 2 busy cores (DP-SGD, 78 steps)
SYNTHTAB_DP_MODELS = ("dp_mst", "dp_copula", "dp_argn")
AUTO = "auto"
REFERENCE_MODEL = "gaussian_copula"
# smartnoise's own default: continuous bounds estimated with a share of epsilon, subtracted
PREPROCESSOR_SHARE = 0.1
# AIM's documented ``rounds`` setting; its default is 16 x the encoded columns, each round a
# 1,000-step mirror descent: on adult, 2 x columns (42 rounds) took 7.8 min on this 2-core box
AIM_ROUNDS_PER_COLUMN = 2
PEER_TIMEOUT_SECONDS = 600
TSTR_BAR_EPSILON = 3.0
TSTR_BAR_SHARE = 0.9
SMARTNOISE_CATEGORICAL = (
    SemanticType.categorical,
    SemanticType.boolean,
    SemanticType.constant,
)


class DPRow(BaseModel):
    """One method at one epsilon on one dataset (epsilon None: the non-DP reference)."""

    dataset: str
    epsilon: float | None
    method: str
    family: str
    exit_code: int
    status: str
    model: str | None = None  # the model SynthTab ran (auto's pick)
    fit_seconds: float | None = None
    sample_seconds: float | None = None
    wall_seconds: float
    epsilon_spent: float | None = None
    delta_spent: float | None = None
    rows: int | None = None
    fidelity: float | None = None
    sdmetrics_quality: float | None = None
    tstr_metric: str | None = None
    tstr_synthetic: float | None = None
    tstr_real: float | None = None
    tstr_vs_non_dp: float | None = None
    notes: list[str] = Field(default_factory=list)
    error: str | None = None


class DPResults(BaseModel):
    command: str
    seed: int
    epsilons: list[float]
    methods: list[str]
    rows: list[DPRow]


@dataclass(frozen=True)
class DPJob:
    """One synthesizer run: ``model`` for SynthTab (epsilon None: no DP), ``peer`` for smartnoise."""

    dataset: str
    epsilon: float | None
    method: str
    model: str | None = None
    peer: str | None = None


# ---- runners ------------------------------------------------------------------------------------


def run_synthtab(
    split: SplitFiles, model: str, epsilon: float | None, rows: int, work_dir: Path
) -> tuple[SynthesisRun, tuple[float, float] | None, str | None]:
    """SynthTab's CLI on the split's training file; with ``epsilon``, through the ledger (one in
    ``work_dir``, so benchmark runs never count against a user's budget). Returns the run, the
    (epsilon, delta) its manifest says it spent and the model it ran."""
    name = f"{model}-eps{epsilon:g}" if epsilon is not None else f"{model}-no-dp"
    run_dir = work_dir / name
    command = [
        sys.executable, "-m", "synthtab", "generate", split.train_path,
        "--out", str(run_dir), "--overwrite", "--json", "--format", "parquet",
        "--rows", str(rows), "--seed", str(split.seed), "--model", model,
        "--holdout-fraction", str(SYNTHTAB_HOLDOUT_FRACTION),
    ]  # fmt: skip
    if split.target:
        command += ["--target", split.target]
    if epsilon is not None:
        command += [
            "--epsilon", str(epsilon), "--delta", str(DELTA),
            "--budget-ledger", str(work_dir / "ledger.db"),
        ]  # fmt: skip
    events_path = work_dir / f"{name}.events.jsonl"
    measured = run_measured(command, events_path, work_dir / f"{name}.stderr.log")
    fit, sample = generator_seconds(read_events(events_path))
    synthetic = run_dir / "synthetic.parquet"
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    chosen = manifest.get("model")
    ran = chosen.get("name") if isinstance(chosen, dict) else None
    run = synthtab_cli_run(
        f"synthtab-{model}", "synthtab", measured, (fit, sample), rows, synthetic, manifest
    )
    return run, spent_by_run(run_dir), ran


def smartnoise_columns(
    table: Table, train: pd.DataFrame, aim_rounds_per_column: int
) -> dict[str, object]:
    """What smartnoise is told about the columns: which are categorical and which continuous
    (ids, free text and dates left out), and each continuous column's training min and max as
    public bounds (smartnoise's own DP bound estimate at 10% of a small epsilon fails outright
    on the smaller tables: "BinTransformer could not find bounds")."""
    categorical = [c.name for c in table.columns if c.semantic in SMARTNOISE_CATEGORICAL]
    continuous = [c.name for c in table.columns if c.semantic == SemanticType.numeric]
    bounds = {}
    for name in continuous:
        values = pd.to_numeric(train[name], errors="coerce").dropna()
        if len(values):
            bounds[name] = [float(values.min()), float(values.max())]
    return {
        "categorical": categorical,
        "continuous": continuous,
        "bounds": bounds,
        "preprocessor_share": PREPROCESSOR_SHARE,
        "aim_rounds_per_column": aim_rounds_per_column,
    }


def run_smartnoise(
    split: SplitFiles,
    method: str,
    epsilon: float,
    rows: int,
    work_dir: Path,
    columns_path: Path,
    timeout_seconds: int,
) -> tuple[SynthesisRun, float | None]:
    """smartnoise's MST or AIM in its own venv, under a wall-clock cap (coreutils ``timeout``:
    exit 124). Returns the run and the epsilon smartnoise had left for the model."""
    name = f"smartnoise-{method}-eps{epsilon:g}"
    out_path, timings_path = work_dir / f"{name}.parquet", work_dir / f"{name}.timings.json"
    for stale in (out_path, timings_path):
        stale.unlink(missing_ok=True)
    failed = SynthesisRun(
        synthesizer=f"smartnoise-{method}", family="peer", exit_code=1, wall_seconds=0.0,
        peak_memory_mb=0.0, rows_requested=rows, status="failed",
    )  # fmt: skip
    try:
        python = peer_python("smartnoise", SMARTNOISE_PACKAGES)
    except VenvError as error:
        return failed.model_copy(update={"error": str(error)[-ERROR_TAIL:]}), None
    command = [
        "timeout", str(timeout_seconds), str(python),
        str(PEER_SCRIPTS / "smartnoise_peer.py"), method, split.train_path, str(rows),
        str(out_path), str(timings_path), str(split.seed), str(epsilon), str(DELTA),
        str(columns_path),
    ]  # fmt: skip
    measured = run_measured(
        command, work_dir / f"{name}.stdout.log", work_dir / f"{name}.stderr.log"
    )
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    ok = measured.exit_code == 0 and out_path.exists()
    error = None
    if measured.exit_code == 124:
        error = f"stopped by the suite's time cap after {timeout_seconds} s"
    elif not ok:
        error = measured.log_tail or "no output written"
    run = SynthesisRun(
        synthesizer=f"smartnoise-{method}",
        family="peer",
        exit_code=measured.exit_code,
        wall_seconds=measured.wall_seconds,
        fit_seconds=timings.get("fit_seconds"),
        sample_seconds=timings.get("sample_seconds"),
        peak_memory_mb=measured.peak_memory_mb,
        rows_requested=rows,
        synthetic_path=str(out_path) if ok else None,
        status="ok" if ok else ("timed out" if measured.exit_code == 124 else "failed"),
        error=error,
    )
    model_epsilon = timings.get("model_epsilon")
    return run, None if model_epsilon is None else float(model_epsilon)


# ---- the plan -----------------------------------------------------------------------------------


def auto_pick(epsilon: float, source: str, table: Table, target: str | None) -> str:
    """The DP model SynthTab's --model auto runs at ``epsilon`` on ``table`` with ``target``
    (the generator's own rule)."""
    request = GenerationRequest(source=source, epsilon=epsilon, target=target)
    return str(choose_private_model(request, table, "")["name"])


def plan_jobs(
    dataset: str,
    epsilons: Sequence[float],
    peers: Sequence[str],
    synthtab: bool = True,
    models: Sequence[str] = SYNTHTAB_DP_MODELS,
) -> list[DPJob]:
    """The runs for one dataset: the non-DP reference, then per epsilon each SynthTab DP model
    and each peer. Auto is not run twice: its row is the run of the model it picks."""
    jobs: list[DPJob] = []
    if synthtab:
        jobs.append(DPJob(dataset, None, f"synthtab-{REFERENCE_MODEL} (no DP)", REFERENCE_MODEL))
    for epsilon in epsilons:
        if synthtab:
            jobs += [DPJob(dataset, epsilon, f"synthtab-{m}", model=m) for m in models]
        jobs += [DPJob(dataset, epsilon, f"smartnoise-{p}", peer=p) for p in peers]
    return jobs


# ---- measuring ----------------------------------------------------------------------------------


def _base_row(job: DPJob, run: SynthesisRun) -> DPRow:
    return DPRow(
        dataset=job.dataset,
        epsilon=job.epsilon,
        method=job.method,
        family=run.family,
        exit_code=run.exit_code,
        status=run.status,
        fit_seconds=run.fit_seconds,
        sample_seconds=run.sample_seconds,
        wall_seconds=run.wall_seconds,
        notes=list(run.notes),
        error=run.error,
    )


def execute_job(
    job: DPJob, split: SplitFiles, rows: int, work_dir: Path, columns_path: Path, timeout: int
) -> tuple[DPRow, Path | None]:
    """Run one job and score it with the project's metrics (SDMetrics comes per dataset)."""
    print(f"[dp] {job.dataset} eps={job.epsilon} {job.method} ...", file=sys.stderr, flush=True)
    if job.peer is not None and job.epsilon is not None:
        run, model_epsilon = run_smartnoise(
            split, job.peer, job.epsilon, rows, work_dir, columns_path, timeout
        )
        row = _base_row(job, run)
        if model_epsilon is not None:
            # smartnoise's own accounting: what its model was given (+ bounds, if it paid)
            row.epsilon_spent = round(job.epsilon, 6)
            row.delta_spent = DELTA
            if model_epsilon < job.epsilon:
                row.notes.append(
                    f"{job.epsilon - model_epsilon:.3g} of epsilon on bounds, "
                    f"{model_epsilon:.3g} on the model"
                )
    else:
        run, spent, ran = run_synthtab(split, job.model or AUTO, job.epsilon, rows, work_dir)
        row = _base_row(job, run).model_copy(update={"model": ran})
        if spent is not None:
            row.epsilon_spent, row.delta_spent = spent
    if run.synthetic_path is None:
        return row, None
    train = pd.read_parquet(split.train_path)
    holdout = pd.read_parquet(split.holdout_path)
    table = Table.model_validate_json(Path(split.table_path).read_text())
    synthetic = pd.read_parquet(run.synthetic_path)
    metrics = measure_synthetic(train, holdout, synthetic, table, split.target, split.seed)
    row = row.model_copy(
        update={
            "rows": metrics.rows,
            "fidelity": metrics.fidelity,
            "tstr_metric": metrics.tstr_metric,
            "tstr_synthetic": metrics.tstr_synthetic,
            "tstr_real": metrics.tstr_real,
        }
    )
    return row, Path(run.synthetic_path)


def _score_key(row: DPRow) -> str:
    return f"{row.method}@{'no-dp' if row.epsilon is None else f'{row.epsilon:g}'}"


def with_auto_rows(
    rows: Sequence[DPRow], train_path: str, table: Table, target: str | None
) -> list[DPRow]:
    """Each epsilon's SynthTab auto row: a copy of the row of the model auto picks there."""
    out: list[DPRow] = []
    for row in rows:
        out.append(row)
        if row.family == "synthtab" and row.epsilon is not None:
            pick = auto_pick(row.epsilon, train_path, table, target)
            if row.method == f"synthtab-{pick}":
                auto = row.model_copy(deep=True, update={"method": "synthtab-auto", "model": pick})
                auto.notes.append(
                    f"auto picks {pick} at epsilon {row.epsilon:g}: the same command and "
                    f"seed as synthtab-{pick}, so that run is this row"
                )
                out.append(auto)
    return out


def with_tstr_reference(rows: Sequence[DPRow]) -> list[DPRow]:
    """TSTR over the non-DP reference's TSTR on the same dataset."""
    reference = {
        r.dataset: r.tstr_synthetic for r in rows if r.epsilon is None and r.family == "synthtab"
    }
    out = []
    for row in rows:
        base = reference.get(row.dataset)
        ratio = None
        if base and row.tstr_synthetic is not None:
            ratio = row.tstr_synthetic / base
        out.append(row.model_copy(update={"tstr_vs_non_dp": ratio}))
    return out


# ---- tables -------------------------------------------------------------------------------------


def _epsilon(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def results_table(rows: Sequence[DPRow]) -> str:
    lines = [
        "| dataset | ε | method | exit | fit s | sample s | ε spent | fidelity "
        "| SDMetrics quality | TSTR synth / real | TSTR / non-DP |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        tstr = (
            f"{cell(r.tstr_synthetic)} / {cell(r.tstr_real)} {r.tstr_metric}"
            if r.tstr_metric
            else "–"
        )
        method = f"{r.method} ({r.model})" if r.method == "synthtab-auto" else r.method
        lines.append(
            f"| {r.dataset} | {_epsilon(r.epsilon)} | {method} | {r.exit_code} "
            f"| {cell(r.fit_seconds, 1)} | {cell(r.sample_seconds, 2)} "
            f"| {cell(r.epsilon_spent, 3)} | {cell(r.fidelity)} | {cell(r.sdmetrics_quality)} "
            f"| {tstr} | {cell(r.tstr_vs_non_dp)} |"
        )
    return "\n".join(lines)


class DPGoal(BaseModel):
    dataset: str
    epsilon: float
    method: str
    quality_metric: str
    quality: float | None
    best_peer_quality: float | None
    quality_at_least_best_peer: bool | None
    tstr_at_least_09_non_dp: bool | None  # only at epsilon 3


def goal_checks(rows: Sequence[DPRow]) -> list[DPGoal]:
    """Quality (SDMetrics where it was computed for every row compared, else fidelity) against
    the better smartnoise method at the same epsilon; TSTR against 0.9 x non-DP at epsilon 3."""
    checks = []
    for row in rows:
        if row.family != "synthtab" or row.epsilon is None:
            continue
        peers = [
            r
            for r in rows
            if r.dataset == row.dataset and r.epsilon == row.epsilon and r.family == "peer"
        ]
        compared = [row, *[p for p in peers if p.fidelity is not None]]
        use_sdmetrics = all(r.sdmetrics_quality is not None for r in compared)
        metric = "sdmetrics_quality" if use_sdmetrics else "fidelity"
        peer_values = [getattr(p, metric) for p in peers if getattr(p, metric) is not None]
        mine = getattr(row, metric)
        best = max(peer_values) if peer_values else None
        tstr_ok = None
        if row.epsilon == TSTR_BAR_EPSILON and row.tstr_vs_non_dp is not None:
            tstr_ok = row.tstr_vs_non_dp >= TSTR_BAR_SHARE
        checks.append(
            DPGoal(
                dataset=row.dataset,
                epsilon=row.epsilon,
                method=row.method,
                quality_metric=metric,
                quality=mine,
                best_peer_quality=best,
                quality_at_least_best_peer=None if mine is None or best is None else mine >= best,
                tstr_at_least_09_non_dp=tstr_ok,
            )
        )
    return checks


def goal_table(checks: Sequence[DPGoal]) -> str:
    lines = [
        "| dataset | ε | method | quality (metric) | best smartnoise | ≥ best smartnoise "
        "| TSTR ≥ 0.9 × non-DP (ε=3) |",
        "|" + "---|" * 7,
    ]
    for c in checks:
        lines.append(
            f"| {c.dataset} | {c.epsilon:g} | {c.method} | {cell(c.quality)} ({c.quality_metric}) "
            f"| {cell(c.best_peer_quality)} | {mark(c.quality_at_least_best_peer)} "
            f"| {mark(c.tstr_at_least_09_non_dp)} |"
        )
    return "\n".join(lines)


PUBLIC_INFO_NOTE = (
    "Public information — smartnoise gets more than SynthTab. SynthTab is given none: column "
    "names, types and precision are format metadata; numeric bounds and category sets are "
    "released inside its epsilon (the manifest lists each spend). smartnoise is given which "
    "columns are categorical and which continuous (from the same inferred schema), each "
    "continuous column's training min and max as public bounds (no budget spent; its own DP "
    f"bound estimate, `preprocessor_eps` at {PREPROCESSOR_SHARE:.0%} of epsilon, failed on "
    "credit_data at epsilon 1 with 'BinTransformer could not find bounds'), and its "
    "categorical transformer reads the category sets off the training rows without spending "
    "budget. So smartnoise's whole epsilon goes to its model while SynthTab pays for the "
    f"domain out of its own. Both use delta = {DELTA:g}. smartnoise bins continuous columns "
    "into its default 10 bins; integer columns are rounded back afterwards. AIM's `rounds` "
    f"is capped at {AIM_ROUNDS_PER_COLUMN} x the encoded columns (default 16 x: each round is "
    "a 1,000-step mirror descent) to fit this 2-core machine; a run past the per-run time cap "
    "is recorded as timed out."
)


def results_markdown(results: DPResults) -> str:
    parts = [
        "# SynthTab's DP path vs smartnoise MST and AIM",
        "",
        f"`{results.command}`",
        "",
        "Same train/holdout split per table for everyone (holdout fraction "
        f"{HOLDOUT_FRACTION}, seed {results.seed}). Fidelity and TSTR: the project's metrics "
        "against the holdout (TSTR: the same HistGradientBoosting for every method); SDMetrics "
        "QualityReport against the training rows. TSTR / non-DP: TSTR over SynthTab's "
        "Gaussian copula without DP on the same split. ε spent: SynthTab's from its manifest; "
        "smartnoise's is its own accounting (bounds + model). Fit and sample seconds: "
        "SynthTab's generator events, smartnoise's own timers. SynthTab fits on "
        f"{1 - SYNTHTAB_HOLDOUT_FRACTION:.0%} of the training file (it keeps an internal "
        "holdout).",
        "",
        PUBLIC_INFO_NOTE,
        "",
        "## The issue's bars",
        "",
        goal_table(goal_checks(results.rows)),
        "",
        "## Every run",
        "",
        results_table(results.rows),
    ]
    failures = [r for r in results.rows if r.error]
    if failures:
        parts += ["", "## Failures", ""]
        for r in failures:
            last = [line for line in (r.error or "").splitlines() if line.strip()]
            parts.append(
                f"- {r.dataset} ε={_epsilon(r.epsilon)} {r.method} (exit {r.exit_code}): "
                f"{(last[-1] if last else '')[:300]}"
            )
    return "\n".join(parts) + "\n"


# ---- the suite ----------------------------------------------------------------------------------


def _sort_key(row: DPRow, order: Sequence[str]) -> tuple[int, float, int]:
    method_rank = order.index(row.method) if row.method in order else len(order)
    return (0 if row.epsilon is None else 1, row.epsilon or 0.0, method_rank)


def _write(results: DPResults, out_dir: Path) -> None:
    write_json(results.model_dump(mode="json"), out_dir / "results.json")
    write_text(results_markdown(results), out_dir / "results.md")


def run_dp_suite(
    cases: Sequence[EvalCase],
    data_dir: Path,
    out_dir: Path,
    epsilons: Sequence[float],
    command: str,
    rows: int | None = None,
    seed: int = 0,
    peers: Sequence[str] = SMARTNOISE_METHODS,
    models: Sequence[str] = SYNTHTAB_DP_MODELS,
    scorer: SdmetricsScorer = sdmetrics_scores,
    jobs: int = 1,
    peer_timeout: int = PEER_TIMEOUT_SECONDS,
    on_progress: Callable[[DPResults], None] | None = None,
) -> DPResults:
    """Every dataset, epsilon and method; results.json and results.md are rewritten after every
    dataset, so a long run that dies keeps what it measured."""
    out_dir.mkdir(parents=True, exist_ok=True)
    order = [
        f"synthtab-{REFERENCE_MODEL} (no DP)",
        "synthtab-auto",
        *[f"synthtab-{m}" for m in SYNTHTAB_DP_MODELS],
        *[f"smartnoise-{p}" for p in peers],
    ]
    all_rows: list[DPRow] = []

    def by_order(row: DPRow) -> tuple[int, float, int]:
        return _sort_key(row, order)

    results = DPResults(command=command, seed=seed, epsilons=list(epsilons), methods=order, rows=[])
    if peers:
        # set up once here (minutes, the first time), not by parallel workers racing for it
        try:
            peer_python("smartnoise", SMARTNOISE_PACKAGES)
        except VenvError:
            pass  # each smartnoise run then records the venv's error as its own
    for case in cases:
        split = prepare_split(
            dataset_file(data_dir, case.dataset), case.dataset, case.target,
            out_dir / "splits" / case.dataset, seed,
        )  # fmt: skip
        work_dir = out_dir / "runs" / case.dataset
        work_dir.mkdir(parents=True, exist_ok=True)
        table = Table.model_validate_json(Path(split.table_path).read_text())
        columns_path = work_dir / "smartnoise_columns.json"
        train = pd.read_parquet(split.train_path)
        write_json(smartnoise_columns(table, train, AIM_ROUNDS_PER_COLUMN), columns_path)
        wanted = rows or case.rows or split.train_rows
        # the slowest (the peers, AIM first) start first, so parallel workers end together
        planned = sorted(
            plan_jobs(case.dataset, epsilons, peers, models=models),
            key=lambda job: (job.peer != "aim", job.peer is None),
        )
        run_one = partial(
            execute_job,
            split=split,
            rows=wanted,
            work_dir=work_dir,
            columns_path=columns_path,
            timeout=peer_timeout,
        )
        done: list[tuple[DPRow, Path | None]] = []
        # subprocesses do the work; threads only wait on them
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for finished in as_completed([pool.submit(run_one, job) for job in planned]):
                done.append(finished.result())
                # written after every run (before SDMetrics), so a run cut short keeps its rows
                partial_rows = [*all_rows, *sorted((r for r, _ in done), key=by_order)]
                _write(results.model_copy(update={"rows": partial_rows}), out_dir)
        dataset_rows = [row for row, _ in done]
        outputs = {_score_key(row): path for row, path in done if path is not None}
        scores = scorer(split, outputs, work_dir)
        for row in dataset_rows:
            score = scores.get(_score_key(row), {})
            if "score" in score:
                row.sdmetrics_quality = float(score["score"])  # type: ignore[arg-type]
            elif "error" in score:
                row.notes.append(f"SDMetrics failed: {str(score['error'])[-200:]}")
        dataset_rows = with_tstr_reference(
            with_auto_rows(dataset_rows, split.train_path, table, split.target)
        )
        all_rows += sorted(dataset_rows, key=by_order)
        results = results.model_copy(update={"rows": list(all_rows)})
        _write(results, out_dir)
        if on_progress is not None:
            on_progress(results)
    return results


# ---- the CLI: synthtab eval --suite dp ------------------------------------------------------------


def parse_epsilons(value: str | None) -> list[float]:
    """``--epsilons 1,3`` -> [1.0, 3.0]; ValueError with the bad item otherwise."""
    if value is None:
        return list(DEFAULT_EPSILONS)
    epsilons = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        try:
            epsilon = float(item)
        except ValueError:
            raise ValueError(f"--epsilons: {item!r} is not a number") from None
        if not epsilon > 0:
            raise ValueError(f"--epsilons: {item} must be > 0")
        epsilons.append(epsilon)
    if not epsilons:
        raise ValueError("--epsilons: no epsilon given")
    return epsilons


def _peers(value: str | None) -> list[str]:
    if value is None:
        return list(SMARTNOISE_METHODS)
    if value.strip().lower() == "none":
        return []
    names = [v.strip().lower().removeprefix("smartnoise-") for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in SMARTNOISE_METHODS]
    if bad:
        raise ValueError(f"unknown DP peer {bad[0]!r}; known: mst, aim")
    return names


def _dp_models(value: str | None) -> list[str]:
    """``--models dp_mst,dp_copula``: SynthTab's DP models to run (default all)."""
    if value is None:
        return list(SYNTHTAB_DP_MODELS)
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in SYNTHTAB_DP_MODELS]
    if bad or not names:
        raise ValueError(
            f"--models: unknown DP model {bad[0] if bad else value!r}; known: "
            f"{', '.join(SYNTHTAB_DP_MODELS)}"
        )
    return names


def run_dp_suite_cli(
    args: argparse.Namespace, suite: Suite, data_dir: Path, only: list[str] | None
) -> int:
    """``synthtab eval --suite dp``: exit 0 when every run delivered."""
    unknown = sorted(set(only or []) - {c.dataset for c in suite.cases})
    try:
        if unknown:
            known = ", ".join(c.dataset for c in suite.cases)
            raise ValueError(f"not in suite {suite.name}: {', '.join(unknown)}; known: {known}")
        epsilons = parse_epsilons(getattr(args, "epsilons", None))
        peers = _peers(getattr(args, "peers", None))
        models = _dp_models(getattr(args, "models", None))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # in the order given: a long run writes its results after each dataset, small ones first
    cases = [c for c in suite.cases if not only]
    cases += [c for name in only or [] for c in suite.cases if c.dataset == name]
    scorer = no_sdmetrics if getattr(args, "no_sdmetrics", False) else sdmetrics_scores
    out_dir = Path(args.out)
    results = run_dp_suite(
        cases, data_dir, out_dir, epsilons, command_line(
            "dp",
            args,
            ("datasets", "epsilons", "peers", "models", "rows", "seed", "jobs", "peer_timeout"),
            ("no_sdmetrics",),
        ),
        rows=args.rows, seed=getattr(args, "seed", None) or 0, peers=peers, models=models, scorer=scorer,
        jobs=getattr(args, "jobs", None) or 1,
        peer_timeout=getattr(args, "peer_timeout", None) or PEER_TIMEOUT_SECONDS,
    )  # fmt: skip
    print(goal_table(goal_checks(results.rows)))
    print(f"\nresults: {out_dir / 'results.md'} and {out_dir / 'results.json'}")
    return 0 if all(r.fidelity is not None for r in results.rows) else 1
