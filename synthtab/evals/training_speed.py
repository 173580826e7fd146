"""The training suite (``synthtab eval --suite training``): how fast argn trains and samples on
the device torch picks (a CUDA GPU when there is one), on a real table and on a large table
drawn from it.

The large table is the real table's rows drawn with replacement up to ``--train-rows``
(1,000,000 by default): a measure of speed, not of quality, since its rows repeat and its
validation rows are copies of training rows (so early stopping rarely ends such a fit; give it
``--max-epochs`` or ``--time-budget``). Each case runs in its own subprocess, so its peak memory
is its own; a case that fails is reported with its error and makes the suite exit 1.

Run it on a GPU machine as it is: ``device`` is ``auto`` unless ``--device`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthtab.agents.generator import argn_target_settings
from synthtab.evals.baselines import run_measured
from synthtab.evals.formatting import cell, command_line, table_preamble
from synthtab.evals.harness import dataset_file
from synthtab.evals.suites import EvalCase, Suite
from synthtab.io.writers import write_json, write_text
from synthtab.schema.infer import infer_table

DEFAULT_LARGE_ROWS = 1_000_000
DEFAULT_SAMPLE_ROWS = 100_000
DEVICES = ("auto", "cpu", "cuda")


class TrainingOptions(BaseModel):
    """What the command line sets for every case of the suite."""

    device: str = "auto"
    max_epochs: int | None = None  # None: argn's default
    max_training_seconds: float | None = None  # None: argn's default
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    large_rows: int = DEFAULT_LARGE_ROWS
    seed: int = 0


class TrainingResult(BaseModel):
    dataset: str
    variant: str | None = None
    rows: int | None  # the rows the model was fitted on (training and validation)
    columns: int | None = None
    exit_code: int
    wall_seconds: float
    peak_memory_mb: float
    device: str | None = None  # "cpu" or "cuda"
    device_name: str | None = None  # the GPU's name, or the CPU's model and threads
    threads: int | None = None
    fit_seconds: float | None = None
    epochs: int | None = None
    stopped: str | None = None
    seconds_per_epoch: float | None = None
    training_rows_per_second: float | None = None  # rows x epochs over training seconds
    batch_size: int | None = None
    best_validation_loss: float | None = None
    sample_rows: int | None = None
    sample_seconds: float | None = None
    sample_rows_per_second: float | None = None
    peak_gpu_memory_mb: float | None = None
    error: str | None = None


def case_rows(case: EvalCase, options: TrainingOptions) -> int | None:
    """The rows a case fits on: None for the real table, else ``--train-rows``."""
    return None if case.rows is None else options.large_rows


def drawn_rows(frame: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """The real rows (``rows`` None) or ``rows`` of them drawn with replacement."""
    if rows is None:
        return frame
    picks = np.random.default_rng(seed).integers(0, len(frame), size=rows)
    return frame.iloc[picks].reset_index(drop=True)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_case(
    case: EvalCase, options: TrainingOptions, data_dir: Path, synthetic_path: Path | None = None
) -> dict[str, object]:
    """Fit argn on the case's rows and sample from it, in this process; what was measured."""
    import torch

    from synthtab.models.argn import ARGNSynthesizer

    source = dataset_file(data_dir, case.dataset)
    real = pd.read_parquet(source) if source.suffix == ".parquet" else pd.read_csv(source)
    table = infer_table(real, case.dataset)
    if case.target is not None and case.target not in table.column_names:
        raise ValueError(f"{source}: the suite's target {case.target!r} is not a column")
    data = drawn_rows(real, case_rows(case, options), options.seed)
    settings: dict[str, object] = {"device": options.device}
    if options.max_epochs is not None:
        settings["max_epochs"] = options.max_epochs
    if options.max_training_seconds is not None:
        settings["max_training_seconds"] = options.max_training_seconds
    settings |= argn_target_settings(table, case.target)  # as a run weighs it
    model = ARGNSynthesizer(**settings)
    started = time.perf_counter()
    model.fit(data, table, seed=options.seed)
    fit_seconds = time.perf_counter() - started
    training = model.training_summary()
    started = time.perf_counter()
    synthetic = model.sample(options.sample_rows, seed=options.seed)
    sample_seconds = time.perf_counter() - started
    if synthetic_path is not None:
        synthetic.head(1000).to_parquet(synthetic_path, index=False)
    epochs = int(training.get("epochs") or 0)
    seconds = float(training.get("seconds") or 0.0)
    on_gpu = training.get("device") == "cuda"
    threads = training.get("threads")
    name = torch.cuda.get_device_name(0) if on_gpu else f"{_cpu_name()}, {threads} threads"
    return {
        "rows": len(data),
        "columns": len(table.columns),
        "device": training.get("device"),
        "device_name": name,
        "threads": threads,
        "fit_seconds": round(fit_seconds, 2),
        "epochs": epochs,
        "stopped": training.get("stopped"),
        "seconds_per_epoch": round(seconds / epochs, 3) if epochs else None,
        "training_rows_per_second": (
            round(int(training["training_rows"]) * epochs / seconds) if seconds > 0 else None
        ),
        "batch_size": training.get("batch_size"),
        "best_validation_loss": training.get("best_validation_loss"),
        "sample_rows": len(synthetic),
        "sample_seconds": round(sample_seconds, 3),
        "sample_rows_per_second": (
            round(len(synthetic) / sample_seconds) if sample_seconds > 0 else None
        ),
        "peak_gpu_memory_mb": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if on_gpu else None
        ),
    }


def run_training_case(
    case: EvalCase, options: TrainingOptions, data_dir: Path, out_dir: Path
) -> TrainingResult:
    """One case in a subprocess (``python -m synthtab.evals.training_speed``)."""
    label = case.variant or case.dataset
    case_dir = out_dir / "runs" / label.replace(" ", "-").replace(",", "")
    case_dir.mkdir(parents=True, exist_ok=True)
    measured_path = case_dir / "measured.json"
    measured_path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "synthtab.evals.training_speed",
        case.model_dump_json(), options.model_dump_json(), str(data_dir), str(case_dir),
    ]  # fmt: skip
    process = run_measured(command, case_dir / "stdout.log", case_dir / "stderr.log")
    rows = case_rows(case, options)
    base = {
        "dataset": case.dataset,
        "variant": case.variant,
        "exit_code": process.exit_code,
        "wall_seconds": process.wall_seconds,
        "peak_memory_mb": process.peak_memory_mb,
    }
    if process.exit_code != 0 or not measured_path.exists():
        error = process.log_tail.strip().splitlines()[-1:] or ["no measurements written"]
        return TrainingResult(**base, rows=rows, error=error[0])
    return TrainingResult(**base, **json.loads(measured_path.read_text()))


def training_markdown(results: list[TrainingResult], command: str, description: str) -> str:
    header = ["table", "rows", "columns", "device", "epochs (stopped)", "fit s", "s/epoch"]
    header += ["training rows/s", "batch", "sample rows/s", "peak MB (GPU MB)"]
    lines = table_preamble(description, command, None, header)
    for r in results:
        label = r.dataset if r.variant is None else f"{r.dataset} ({r.variant})"
        if r.error is not None:
            lines.append(f"| {label} | {cell(r.rows)} | – | failed: {r.error} |" + " – |" * 7)
            continue
        gpu = f" ({cell(r.peak_gpu_memory_mb, 0)})" if r.peak_gpu_memory_mb is not None else ""
        lines.append(
            f"| {label} | {cell(r.rows)} | {r.columns} | {r.device_name} "
            f"| {r.epochs} ({r.stopped}) | {cell(r.fit_seconds, 1)} | {cell(r.seconds_per_epoch, 2)} "
            f"| {cell(r.training_rows_per_second and int(r.training_rows_per_second))} "
            f"| {cell(r.batch_size)} "
            f"| {cell(r.sample_rows_per_second and int(r.sample_rows_per_second))} "
            f"| {cell(r.peak_memory_mb, 0)}{gpu} |"
        )
    return "\n".join(lines) + "\n"


def options_from_args(args: argparse.Namespace) -> TrainingOptions:
    """The suite's options; ValueError names the flag that is wrong."""
    device = getattr(args, "device", None) or "auto"
    if device not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    checks = {
        "--max-epochs": getattr(args, "max_epochs", None),
        "--time-budget": getattr(args, "time_budget", None),
        "--train-rows": getattr(args, "train_rows", None),
        "--rows": getattr(args, "rows", None),
    }
    for flag, value in checks.items():
        if value is not None and value <= 0:
            raise ValueError(f"{flag} must be positive, got {value}")
    return TrainingOptions(
        device=device,
        max_epochs=checks["--max-epochs"],
        max_training_seconds=checks["--time-budget"],
        sample_rows=checks["--rows"] or DEFAULT_SAMPLE_ROWS,
        large_rows=checks["--train-rows"] or DEFAULT_LARGE_ROWS,
        seed=getattr(args, "seed", None) or 0,
    )


def run_training_suite_cli(
    args: argparse.Namespace, suite: Suite, data_dir: Path, only: list[str] | None
) -> int:
    """``synthtab eval --suite training``: exit 0 when every case fitted and sampled."""
    try:
        options = options_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda, but torch sees no CUDA GPU here", file=sys.stderr)
            return 2
    cases = [c for c in suite.cases if not only or c.dataset in only]
    if not cases:
        known = ", ".join(sorted({c.dataset for c in suite.cases}))
        print(f"error: no case of suite {suite.name} in --datasets; known: {known}",
              file=sys.stderr)  # fmt: skip
        return 2
    out_dir = Path(args.out)
    results: list[TrainingResult] = []
    for case in cases:
        print(f"[eval] training: {case.variant or case.dataset} ...", file=sys.stderr, flush=True)
        results.append(run_training_case(case, options, data_dir, out_dir))
        # written after every case, so a long suite that is stopped keeps what it measured
        write_json([r.model_dump() for r in results], out_dir / "results.json")
    markdown = training_markdown(
        results,
        command_line(
            "training",
            args,
            ("datasets", "device", "max_epochs", "time_budget", "train_rows", "rows", "seed"),
        ),
        suite.description,
    )
    write_text(markdown, out_dir / "results.md")
    print(markdown)
    return 0 if all(r.error is None for r in results) else 1


def main(argv: list[str]) -> int:
    """The child process: one case, measurements to ``CASE_DIR/measured.json``."""
    case_json, options_json, data_dir, case_dir = argv
    case = EvalCase.model_validate_json(case_json)
    options = TrainingOptions.model_validate_json(options_json)
    measured = measure_case(case, options, Path(data_dir), Path(case_dir) / "sample.parquet")
    write_json(measured, Path(case_dir) / "measured.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
