"""A bounded pool of worker threads that run graphs; a run beyond the pool's size waits queued.

Each job runs ``synthtab.graphs.runner.execute`` on the run's directory, which starts the graph or
resumes it from its checkpoint, so the same job serves a new run, a run recovered after a
restart, and a run resumed with an answer. Progress events go to the store as they happen."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from synthtab.agents.workspace import RunPaths
from synthtab.graphs.build import build_graph
from synthtab.graphs.runner import GraphFactory, RunFailed, execute
from synthtab.io.errors import InputError
from synthtab.io.readers import file_sha256
from synthtab.io.writers import to_json_safe
from synthtab.store import repository as repo
from synthtab.store.ledger import BudgetRefused, PrivacyLedger
from synthtab.store.models import Artifact

log = logging.getLogger("synthtab.api.worker")


def _summary(run_dir: Path) -> dict[str, Any]:
    report_path = RunPaths(run_dir=run_dir).report_json
    if not report_path.exists():
        return {}
    report = json.loads(report_path.read_text(encoding="utf-8"))
    quality = report.get("quality") or {}
    privacy = report.get("privacy") or {}
    utility = quality.get("utility") or {}
    return {
        "rows_delivered": (report.get("summary") or {}).get("rows_delivered"),
        "fidelity": quality.get("overall_score"),
        "tstr_ratio": utility.get("ratio"),
        "dcr_share": privacy.get("dcr_share"),
        "exact_copies_removed": privacy.get("exact_copies_removed"),
    }


def _artifacts(run_id: str, outputs: dict[str, str]) -> list[Artifact]:
    found = []
    for name, location in sorted(outputs.items()):
        path = Path(location)
        if path.is_file():
            found.append(
                Artifact(
                    run_id=run_id,
                    name=name,
                    path=str(path),
                    sha256=file_sha256(path),
                    size_bytes=path.stat().st_size,
                )
            )
    return found


# a DP run's ledger reservation, kept in its run directory until the worker settles it
RESERVATION_FILE = "privacy_reservation.json"


def reserve_budget(
    ledger_path: Path, source: Path, label: str, epsilon: float, delta: float,
    total: float | None, run_dir: Path,
) -> int:  # fmt: skip
    """Charge a DP run's epsilon to the source file's ledger before anything reads the data;
    ``InputError`` (a 422) with the numbers where the file's total budget would be exceeded."""
    ledger = PrivacyLedger(ledger_path)
    try:
        return ledger.reserve(
            file_sha256(source), label, epsilon, delta, total, run_dir=str(run_dir)
        )
    except BudgetRefused as refused:
        raise InputError(message=str(refused), file=label) from refused
    except ValueError as bad:  # an epsilon the ledger cannot charge (not finite)
        raise InputError(message=str(bad), file=label) from bad
    finally:
        ledger.close()


def cancel_reservation(ledger_path: Path, entry_id: int) -> None:
    """A run refused before it started gets its reservation back."""
    ledger = PrivacyLedger(ledger_path)
    try:
        ledger.cancel(entry_id)
    finally:
        ledger.close()


def record_reservation(ledger_path: Path, entry_id: int, run_dir: Path) -> None:
    (run_dir / RESERVATION_FILE).write_text(
        json.dumps({"ledger": str(ledger_path), "entry_id": entry_id}), encoding="utf-8"
    )


def settle_reservation(run_dir: Path) -> None:
    """Lower a finished DP run's reservation to what its manifest says it spent (a run without
    a manifest keeps the whole reservation: it may have read the data)."""
    from synthtab.dp.private_run import spent_by_run

    path = run_dir / RESERVATION_FILE
    spent = spent_by_run(run_dir)
    if not path.exists() or spent is None:
        return
    reservation = json.loads(path.read_text(encoding="utf-8"))
    ledger = PrivacyLedger(Path(reservation["ledger"]))
    try:
        ledger.settle(int(reservation["entry_id"]), *spent)
    finally:
        ledger.close()
    path.unlink()


class RunPool:
    """At most ``size`` graphs run at once; the rest wait in the executor's queue."""

    def __init__(
        self, store: repo.Store, size: int, graph_factory: GraphFactory = build_graph
    ) -> None:
        self.store = store
        self.size = size
        self.graph_factory = graph_factory
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="synthtab-run")
        self._lock = threading.Lock()
        self._running = 0
        self.max_running = 0  # the most runs seen executing at once, for the load test

    def submit(self, run_id: str) -> Future[None]:
        return self._executor.submit(self._work, run_id)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"size": self.size, "running": self._running, "max_running": self.max_running}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _work(self, run_id: str) -> None:
        if not repo.claim_run(self.store, run_id):
            return  # cancelled while queued
        with self._lock:
            self._running += 1
            self.max_running = max(self.max_running, self._running)
        try:
            self._execute(run_id)
        except Exception as error:  # the run must end in a final status, whatever happened
            log.exception("run %s failed unexpectedly", run_id)
            repo.finish_run(self.store, run_id, "failed", error=f"{type(error).__name__}: {error}")
        finally:
            with self._lock:
                self._running -= 1

    def _execute(self, run_id: str) -> None:
        run = repo.get_run(self.store, run_id)
        assert run is not None  # claimed a moment ago
        paths = RunPaths(run_dir=Path(run.run_dir))

        asked: list[Any] = []

        def record(event: dict[str, Any]) -> None:
            if event.get("event") == "waiting_for_answer":
                asked[:] = event.get("questions") or []
            repo.append_event(self.store, run_id, to_json_safe(event))

        if not paths.request.exists() or not paths.input_snapshot.exists():
            reason = "the run's directory lost its request or input snapshot; start a new run"
            repo.finish_run(self.store, run_id, "failed", error=reason)
            record({"event": "run_failed", "error": reason})
            return
        try:
            outcome = execute(
                paths,
                record,
                should_cancel=lambda: repo.cancel_requested(self.store, run_id),
                answer=run.pending_answer,
                graph_factory=self.graph_factory,
            )
        except (RunFailed, InputError) as error:
            repo.finish_run(self.store, run_id, "failed", error=str(error))
            record({"event": "run_failed", "error": str(error)})
            return
        if outcome.status == "waiting":
            repo.mark_waiting(self.store, run_id, to_json_safe(asked))
            return
        settle_reservation(paths.run_dir)
        repo.finish_run(
            self.store,
            run_id,
            outcome.status,
            messages=outcome.messages,
            graph_run_id=outcome.run_id,
            **_summary(paths.run_dir),
        )
        repo.record_artifacts(self.store, run_id, _artifacts(run_id, outcome.outputs))
