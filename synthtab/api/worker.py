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
        repo.finish_run(
            self.store,
            run_id,
            outcome.status,
            messages=outcome.messages,
            graph_run_id=outcome.run_id,
            **_summary(paths.run_dir),
        )
        repo.record_artifacts(self.store, run_id, _artifacts(run_id, outcome.outputs))
