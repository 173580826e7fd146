"""Runners that turn one training table into one synthetic table: SynthTab through its real CLI,
and the open peers (SDV, mostlyai-engine) at their default settings, each in its own virtual
environment (synthtab/evals/venvs.py) so the project never depends on them.

Every runner is a subprocess measured from the outside: wall time and peak memory from
``os.wait4``; fit and sample seconds from the peer script's own timings file, or, for SynthTab,
from the timestamps of the generator's progress events (``--json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from synthtab.evals.venvs import VenvError, peer_python, ready_python

PEER_SCRIPTS = Path(__file__).resolve().parent / "peer_scripts"
# exact pins (current releases when the harness was written); a changed pin rebuilds the venv
SDV_PACKAGES = ["sdv==2.0.0", "pyarrow==26.0.1"]
MOSTLYAI_PACKAGES = ["mostlyai-engine==2.7.3", "pyarrow==26.0.1"]
# PyPI's torchvision/torchaudio are CUDA builds that fail to load against the CPU torch, and
# transformers (imported by mostlyai-engine) imports torchvision whenever it is installed;
# TabularARGN uses neither
MOSTLYAI_REMOVE = ["torchvision", "torchaudio"]
ERROR_TAIL = 2_000

Family = Literal["synthtab", "peer"]

SYNTHTAB_HOLDOUT_FRACTION = 0.05


class PeerSpec(BaseModel):
    """One peer synthesizer: the venv it lives in and the script that drives it."""

    name: str
    label: str
    venv: str
    packages: list[str]
    script: str
    script_args: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


PEERS: dict[str, PeerSpec] = {
    spec.name: spec
    for spec in [
        PeerSpec(
            name="sdv-gaussiancopula",
            label="SDV GaussianCopulaSynthesizer",
            venv="sdv",
            packages=SDV_PACKAGES,
            script="sdv_peer.py",
            script_args=["gaussiancopula"],
        ),
        PeerSpec(
            name="sdv-ctgan",
            label="SDV CTGANSynthesizer",
            venv="sdv",
            packages=SDV_PACKAGES,
            script="sdv_peer.py",
            script_args=["ctgan"],
        ),
        PeerSpec(
            name="sdv-tvae",
            label="SDV TVAESynthesizer",
            venv="sdv",
            packages=SDV_PACKAGES,
            script="sdv_peer.py",
            script_args=["tvae"],
        ),
        PeerSpec(
            name="tabularargn",
            label="mostlyai-engine TabularARGN",
            venv="mostlyai",
            packages=MOSTLYAI_PACKAGES,
            remove=MOSTLYAI_REMOVE,
            script="mostlyai_peer.py",
        ),
    ]
}
PEER_ALIASES = {
    "gaussiancopula": "sdv-gaussiancopula",
    "ctgan": "sdv-ctgan",
    "tvae": "sdv-tvae",
    "mostlyai": "tabularargn",
}
# the reference for fit-time ratios (the bar: fit time at most half of it)
REFERENCE_PEER = "tabularargn"
TIMEOUT_EXIT = 124  # coreutils timeout's exit status when it stopped the command
SYNTHTAB_PREFIX = "synthtab-"


def resolve_peers(names: Sequence[str]) -> list[PeerSpec]:
    """Peer specs for user-given names (canonical or alias); raises ValueError on an unknown one."""
    specs: list[PeerSpec] = []
    for raw in names:
        name = PEER_ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if name not in PEERS:
            known = ", ".join([*PEERS, *PEER_ALIASES])
            raise ValueError(f"unknown peer {raw!r}; known peers: {known}")
        if PEERS[name] not in specs:
            specs.append(PEERS[name])
    return specs


class SynthesisRun(BaseModel):
    """What one synthesizer did with one training table."""

    synthesizer: str
    family: Family
    exit_code: int
    wall_seconds: float
    fit_seconds: float | None = None
    sample_seconds: float | None = None
    peak_memory_mb: float
    rows_requested: int
    synthetic_path: str | None = None
    status: str = "ok"
    notes: list[str] = Field(default_factory=list)
    error: str | None = None


class MeasuredProcess(BaseModel):
    exit_code: int
    wall_seconds: float
    peak_memory_mb: float
    log_tail: str


class SynthesizerRunner(Protocol):
    """Anything that fits on a training parquet file and writes ``rows`` synthetic rows."""

    name: str
    family: Family

    def run(
        self, train_path: Path, target: str | None, rows: int, work_dir: Path, seed: int
    ) -> SynthesisRun: ...


def run_measured(
    command: Sequence[str], stdout_path: Path, stderr_path: Path, env: dict[str, str] | None = None
) -> MeasuredProcess:
    """Run ``command`` to completion; peak RSS from ``os.wait4`` (the child and what it waited
    for). Output goes to files, not pipes, so a chatty child can never block on a full pipe."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(list(command), stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
    wall = time.perf_counter() - started
    return MeasuredProcess(
        exit_code=process.returncode,
        wall_seconds=round(wall, 2),
        peak_memory_mb=round(usage.ru_maxrss / 1024, 1),
        log_tail=stderr_path.read_text(errors="replace")[-ERROR_TAIL:],
    )


def generator_seconds(events: list[dict[str, object]]) -> tuple[float | None, float | None]:
    """Fit and sample seconds from a SynthTab run's ``--json`` events.

    Inside each generator node, fitting runs from its "fitting ..." progress event to the
    following "sampling ..." one, and sampling from there to the node's end; summed over rounds.
    (None, None) when the events do not have that shape."""
    fit = sample = 0.0
    fit_seen = sample_seen = False
    mark: tuple[str, float] | None = None
    for event in events:
        if event.get("node") != "generator":
            continue
        when = float(event["time"])  # type: ignore[arg-type]
        kind, message = event.get("event"), str(event.get("message", ""))
        if kind == "node_started":
            mark = None
        elif kind == "progress" and message.startswith("fitting"):
            mark = ("fit", when)
        elif kind == "progress" and message.startswith("sampling"):
            if mark is not None and mark[0] == "fit":
                fit += when - mark[1]
                fit_seen = True
            mark = ("sample", when)
        elif kind == "node_finished" and mark is not None:
            if mark[0] == "sample":
                sample += when - mark[1]
                sample_seen = True
            mark = None
    return (fit if fit_seen else None, sample if sample_seen else None)


def read_events(path: Path) -> list[dict[str, object]]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue  # a stray print is not an event
        if isinstance(parsed, dict) and "time" in parsed:
            events.append(parsed)
    return events


class SynthTabRunner:
    """SynthTab's real CLI: ``python -m synthtab generate TRAIN --model NAME --json``."""

    family: Family = "synthtab"

    def __init__(self, model: str) -> None:
        self.model = model
        self.name = f"{SYNTHTAB_PREFIX}{model}"

    def run(
        self, train_path: Path, target: str | None, rows: int, work_dir: Path, seed: int
    ) -> SynthesisRun:
        run_dir = work_dir / self.name
        command = [
            sys.executable, "-m", "synthtab", "generate", str(train_path),
            "--out", str(run_dir), "--overwrite", "--json", "--format", "parquet",
            "--rows", str(rows), "--seed", str(seed), "--model", self.model,
            # the harness holds out its own rows: SynthTab keeps only a small internal holdout
            "--holdout-fraction", str(SYNTHTAB_HOLDOUT_FRACTION),
        ]  # fmt: skip
        if target:
            command += ["--target", target]
        events_path = work_dir / f"{self.name}.events.jsonl"
        measured = run_measured(command, events_path, work_dir / f"{self.name}.stderr.log")
        fit, sample = generator_seconds(read_events(events_path))
        synthetic = run_dir / "synthetic.parquet"
        report_path = run_dir / "report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        summary = report.get("summary") or {}
        notes = []
        if summary.get("rows_train"):
            notes.append(
                f"fits on {summary['rows_train']:,} of the harness's training rows (its own "
                f"internal holdout takes {summary.get('rows_holdout', 0):,})"
            )
        return synthtab_cli_run(
            self.name, self.family, measured, (fit, sample), rows, synthetic, report, notes
        )


class PeerRunner:
    """One peer at its default settings, run by its script inside its own venv."""

    family: Family = "peer"

    def __init__(self, spec: PeerSpec, timeout_seconds: int | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.timeout_seconds = timeout_seconds

    def ready(self) -> bool:
        """Whether the peer's venv is already set up (no install needed)."""
        return ready_python(self.spec.venv, self.spec.packages, remove=self.spec.remove) is not None

    def python(self) -> Path:
        """The venv's python, set up on first use (minutes; reused afterwards)."""
        return peer_python(self.spec.venv, self.spec.packages, remove=self.spec.remove)

    def run(
        self, train_path: Path, target: str | None, rows: int, work_dir: Path, seed: int
    ) -> SynthesisRun:
        out_path = work_dir / f"{self.name}.parquet"
        timings_path = work_dir / f"{self.name}.timings.json"
        for stale in (out_path, timings_path):
            stale.unlink(missing_ok=True)
        failed = SynthesisRun(
            synthesizer=self.name,
            family=self.family,
            exit_code=1,
            wall_seconds=0.0,
            peak_memory_mb=0.0,
            rows_requested=rows,
            status="failed",
        )
        try:
            python = self.python()
        except VenvError as error:
            return failed.model_copy(update={"error": str(error)[-ERROR_TAIL:]})
        # a wall-clock cap (coreutils ``timeout``: exit 124) keeps one slow peer from eating
        # the whole benchmark; the row then says how long it was given
        capped = ["timeout", str(self.timeout_seconds)] if self.timeout_seconds else []
        command = [
            *capped,
            str(python),
            str(PEER_SCRIPTS / self.spec.script),
            *self.spec.script_args,
            str(train_path),
            str(rows),
            str(out_path),
            str(timings_path),
            str(seed),
        ]
        # the peer sees no SynthTab-specific environment; a thread count given by the caller
        # (OMP_NUM_THREADS...) passes through unchanged
        measured = run_measured(
            command,
            work_dir / f"{self.name}.stdout.log",
            work_dir / f"{self.name}.stderr.log",
        )
        timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
        ok = measured.exit_code == 0 and out_path.exists()
        error = None
        if capped and measured.exit_code == TIMEOUT_EXIT:
            error = f"stopped by the suite's time cap after {self.timeout_seconds} s"
        elif not ok:
            error = measured.log_tail or "no output written"
        return SynthesisRun(
            synthesizer=self.name,
            family=self.family,
            exit_code=measured.exit_code,
            wall_seconds=measured.wall_seconds,
            fit_seconds=_rounded(timings.get("fit_seconds")),
            sample_seconds=_rounded(timings.get("sample_seconds")),
            peak_memory_mb=measured.peak_memory_mb,
            rows_requested=rows,
            synthetic_path=str(out_path) if ok else None,
            status="ok" if ok else "failed",
            notes=[f"{self.spec.label} at default settings ({', '.join(self.spec.packages)})"],
            error=error,
        )


def _rounded(value: object) -> float | None:
    return round(float(value), 3) if isinstance(value, int | float) else None


def synthtab_runners(models: Sequence[str]) -> list[SynthesizerRunner]:
    return [SynthTabRunner(model) for model in models]


def peer_runners(
    names: Sequence[str], timeout_seconds: int | None = None
) -> list[SynthesizerRunner]:
    return [PeerRunner(spec, timeout_seconds) for spec in resolve_peers(names)]


def synthtab_cli_run(
    synthesizer: str,
    family: str,
    measured: MeasuredProcess,
    seconds: tuple[float | None, float | None],
    rows: int,
    synthetic: Path,
    outcome: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> SynthesisRun:
    """One ``synthtab generate`` run as a SynthesisRun: ``seconds`` is (fit, sample) from its
    events, ``outcome`` its report or manifest (for the status); exit 3 still delivers rows."""
    fit, sample = seconds
    delivered = synthetic.exists() and measured.exit_code in (0, 3)
    return SynthesisRun(
        synthesizer=synthesizer,
        family=family,
        exit_code=measured.exit_code,
        wall_seconds=measured.wall_seconds,
        fit_seconds=None if fit is None else round(fit, 3),
        sample_seconds=None if sample is None else round(sample, 3),
        peak_memory_mb=measured.peak_memory_mb,
        rows_requested=rows,
        synthetic_path=str(synthetic) if delivered else None,
        status=str(outcome.get("status", "failed")),
        notes=list(notes),
        error=None if measured.exit_code == 0 else measured.log_tail or None,
    )
