"""A differentially private run with its budget in the ledger: reserved before the data is read,
settled to what the run's accountant spent once the run has finished."""

from __future__ import annotations

import json
from pathlib import Path

from synthtab.graphs.runner import EventSink, RunOutcome, execute, prepare_run
from synthtab.io.errors import InputError
from synthtab.io.readers import file_sha256
from synthtab.schema import GenerationRequest
from synthtab.store.ledger import BudgetRefused, PrivacyLedger, default_ledger_path


def _ignore(_: dict[str, object]) -> None:
    return None


def spent_by_run(run_dir: Path) -> tuple[float, float] | None:
    """(epsilon, delta) the finished run's manifest says it spent; None without a manifest."""
    manifest = run_dir / "manifest.json"
    if not manifest.exists():
        return None
    privacy = json.loads(manifest.read_text(encoding="utf-8")).get("differential_privacy") or {}
    if "spent_epsilon" not in privacy:
        return None
    return float(privacy["spent_epsilon"]), float(privacy["spent_delta"])


def start_private_run(
    request: GenerationRequest,
    out_dir: Path,
    events: EventSink = _ignore,
    overwrite: bool = False,
    ledger_path: Path | None = None,
) -> RunOutcome:
    """Reserve ``request.epsilon`` against the source file's ledger (``InputError`` with the
    numbers where that exceeds ``request.privacy_budget``), then run; a run stopped by a check
    before it started gets its reservation back, a finished one is settled to its spend."""
    if request.epsilon is None:
        raise ValueError("start_private_run needs a request with an epsilon")
    source = Path(request.source)
    if not source.is_file():
        raise InputError(message="no such file", file=str(source))
    ledger = PrivacyLedger(ledger_path or default_ledger_path())
    try:
        try:
            entry = ledger.reserve(
                file_sha256(source),
                str(source),
                request.epsilon,
                request.delta,
                request.privacy_budget,
                run_dir=str(out_dir),
            )
        except BudgetRefused as refused:
            raise InputError(message=str(refused), file=str(source)) from refused
        try:
            paths = prepare_run(request, out_dir, overwrite)
        except InputError:
            # refused by a check on the request: nothing was learned or released from the rows
            ledger.cancel(entry)
            raise
        outcome = execute(paths, events)
        spent = spent_by_run(Path(outcome.run_dir))
        if spent is not None:
            ledger.settle(entry, *spent)
        return outcome
    finally:
        ledger.close()
