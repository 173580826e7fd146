"""Every read and write of the job store, as small functions over a ``Store`` (engine + sessions).

Status changes are single conditional UPDATEs (``... WHERE status = 'queued'``), so a worker and
a cancel request racing for the same run cannot both win."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from synthtab.store.migrations import migrate
from synthtab.store.models import (
    FINAL_STATUSES,
    ApiKey,
    Artifact,
    Dataset,
    Run,
    RunEvent,
    utc_now,
)

KEY_PREFIX = "stk"
DEFAULT_DATABASE_URL = "sqlite:///synthtab-server.db"


@dataclass(frozen=True)
class Store:
    engine: Engine
    sessions: sessionmaker[Session]


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    # WAL lets the SSE readers read while workers write; the timeout makes writers queue
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_store(url: str = DEFAULT_DATABASE_URL) -> Store:
    """Connect to (and migrate) the store at a SQLAlchemy URL: a SQLite file by default."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite else {},
        pool_pre_ping=not is_sqlite,
    )
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def new_id() -> str:
    return uuid.uuid4().hex[:16]


# --- API keys ---------------------------------------------------------------------------------


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def create_api_key(store: Store, name: str) -> str:
    """A new key; the plain key is returned once and only its salted hash is stored."""
    key_id = new_id()
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    with store.sessions.begin() as session:
        session.add(ApiKey(id=key_id, name=name, salt=salt, secret_sha256=_digest(salt, secret)))
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def authenticate(store: Store, presented: str) -> str | None:
    """The key's id when ``presented`` is a live key, else None."""
    prefix, _, rest = presented.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    with store.sessions() as session:
        key = session.get(ApiKey, key_id)
    if key is None or key.revoked:
        return None
    return key_id if hmac.compare_digest(key.secret_sha256, _digest(key.salt, secret)) else None


# --- datasets ---------------------------------------------------------------------------------


def add_dataset(store: Store, dataset: Dataset) -> Dataset:
    with store.sessions.begin() as session:
        session.add(dataset)
    return dataset


def get_dataset(store: Store, owner_id: str, dataset_id: str) -> Dataset | None:
    with store.sessions() as session:
        found = session.get(Dataset, dataset_id)
    return found if found is not None and found.owner_id == owner_id else None


def list_datasets(store: Store, owner_id: str) -> list[Dataset]:
    with store.sessions() as session:
        query = select(Dataset).where(Dataset.owner_id == owner_id)
        return list(session.scalars(query.order_by(Dataset.created_at.desc())))


# --- runs -------------------------------------------------------------------------------------


def add_run(store: Store, run: Run) -> Run:
    with store.sessions.begin() as session:
        session.add(run)
    return run


def get_run(store: Store, run_id: str, owner_id: str | None = None) -> Run | None:
    """A run by id; with ``owner_id``, only when that key owns it."""
    with store.sessions() as session:
        found = session.get(Run, run_id)
    if found is None or (owner_id is not None and found.owner_id != owner_id):
        return None
    return found


def list_runs(
    store: Store, owner_id: str, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Run]:
    with store.sessions() as session:
        query = select(Run).where(Run.owner_id == owner_id)
        if status is not None:
            query = query.where(Run.status == status)
        query = query.order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
        return list(session.scalars(query))


def _transition(store: Store, run_id: str, allowed: tuple[str, ...], **values: Any) -> bool:
    with store.sessions.begin() as session:
        result = session.execute(
            update(Run).where(Run.id == run_id, Run.status.in_(allowed)).values(**values)
        )
    return bool(result.rowcount)


def claim_run(store: Store, run_id: str) -> bool:
    """queued -> running, for exactly one worker; False when it was cancelled meanwhile."""
    run = get_run(store, run_id)
    if run is None:
        return False
    return _transition(
        store,
        run_id,
        ("queued",),
        status="running",
        started_at=run.started_at or utc_now(),
        attempts=run.attempts + 1,
    )


def requeue_run(store: Store, run_id: str, reason: str) -> bool:
    """running -> queued after a restart: the worker resumes it from its checkpoint."""
    return _transition(store, run_id, ("running",), status="queued", error=reason)


def mark_waiting(store: Store, run_id: str, questions: list[Any]) -> bool:
    return _transition(
        store, run_id, ("running",), status="waiting", questions=questions, pending_answer=None
    )


def queue_answer(store: Store, run_id: str, answer: Any) -> bool:
    """waiting -> queued with the answer the worker resumes the graph with."""
    return _transition(store, run_id, ("waiting",), status="queued", pending_answer=answer)


def finish_run(
    store: Store, run_id: str, status: str, error: str | None = None, **summary: Any
) -> bool:
    """Any unfinished status -> a final one (a run already final stays as it is)."""
    unfinished = ("queued", "running", "waiting")
    return _transition(
        store, run_id, unfinished, status=status, error=error, finished_at=utc_now(), **summary
    )


def request_cancel(store: Store, run_id: str) -> str:
    """Cancel now when nothing runs it (queued, waiting); flag it for the worker when running."""
    if _transition(store, run_id, ("queued", "waiting"), status="cancelled", finished_at=utc_now()):
        return "cancelled"
    if _transition(store, run_id, ("running",), cancel_requested=True):
        return "cancelling"
    run = get_run(store, run_id)
    return run.status if run is not None else "missing"


def cancel_requested(store: Store, run_id: str) -> bool:
    run = get_run(store, run_id)
    return run is None or run.cancel_requested or run.status == "cancelled"


def unfinished_runs(store: Store) -> list[Run]:
    """Runs a previous server process left queued or running."""
    with store.sessions() as session:
        query = select(Run).where(Run.status.in_(("queued", "running")))
        return list(session.scalars(query.order_by(Run.created_at, Run.id)))


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


# --- events and artifacts ---------------------------------------------------------------------


def append_event(store: Store, run_id: str, body: dict[str, Any]) -> int:
    with store.sessions.begin() as session:
        row = RunEvent(run_id=run_id, body=body)
        session.add(row)
        session.flush()
        return row.id


def events_after(store: Store, run_id: str, after_id: int, limit: int = 500) -> list[RunEvent]:
    with store.sessions() as session:
        query = (
            select(RunEvent)
            .where(RunEvent.run_id == run_id, RunEvent.id > after_id)
            .order_by(RunEvent.id)
            .limit(limit)
        )
        return list(session.scalars(query))


def record_artifacts(store: Store, run_id: str, artifacts: list[Artifact]) -> None:
    with store.sessions.begin() as session:
        session.add_all(artifacts)


def list_artifacts(store: Store, run_id: str) -> list[Artifact]:
    with store.sessions() as session:
        query = select(Artifact).where(Artifact.run_id == run_id).order_by(Artifact.id)
        return list(session.scalars(query))


def run_window(store: Store, run_ids: list[str]) -> list[tuple[datetime | None, datetime | None]]:
    """(started_at, finished_at) of runs: what the load test measures concurrency from."""
    with store.sessions() as session:
        query = select(Run.started_at, Run.finished_at).where(Run.id.in_(run_ids))
        return [(row[0], row[1]) for row in session.execute(query)]
