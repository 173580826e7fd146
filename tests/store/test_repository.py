"""The job store: hashed keys, per-key isolation, race-free status changes, migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from synthtab.store import repository as repo
from synthtab.store.migrations import LATEST_VERSION, VERSION_TABLE, StoreVersionError, migrate
from synthtab.store.models import Dataset, Run


@pytest.fixture()
def store(tmp_path: Path) -> repo.Store:
    return repo.open_store(f"sqlite:///{tmp_path / 'jobs.db'}")


def _run(store: repo.Store, owner: str, status: str = "queued") -> Run:
    dataset = repo.add_dataset(
        store,
        Dataset(
            id=repo.new_id(),
            owner_id=owner,
            name="t.csv",
            file_format="csv",
            path="/nowhere",
            size_bytes=1,
            rows=1,
            columns=["a"],
            sha256="0" * 64,
        ),
    )
    run = Run(
        id=repo.new_id(),
        owner_id=owner,
        dataset_id=dataset.id,
        status=status,
        request={},
        run_dir="/nowhere",
        messages=[],
    )
    return repo.add_run(store, run)


def test_keys_are_stored_hashed_and_checked(store: repo.Store, tmp_path: Path) -> None:
    key = repo.create_api_key(store, "alice")
    other = repo.create_api_key(store, "bob")
    assert repo.authenticate(store, key) != repo.authenticate(store, other)
    assert repo.authenticate(store, key[:-1]) is None
    assert repo.authenticate(store, "garbage") is None
    secret = key.split("_", 2)[2]
    assert secret.encode() not in (tmp_path / "jobs.db").read_bytes()


def test_a_key_sees_only_its_own_runs(store: repo.Store) -> None:
    alice = repo.authenticate(store, repo.create_api_key(store, "alice"))
    bob = repo.authenticate(store, repo.create_api_key(store, "bob"))
    assert alice and bob
    run = _run(store, alice)
    assert repo.get_run(store, run.id, alice) is not None
    assert repo.get_run(store, run.id, bob) is None
    assert [r.id for r in repo.list_runs(store, alice)] == [run.id]
    assert repo.list_runs(store, bob) == []
    assert repo.get_dataset(store, bob, run.dataset_id) is None


def test_status_changes_are_exclusive(store: repo.Store) -> None:
    owner = repo.authenticate(store, repo.create_api_key(store, "o"))
    assert owner
    run = _run(store, owner)
    assert repo.claim_run(store, run.id)
    assert not repo.claim_run(store, run.id), "two workers claimed one run"
    assert repo.request_cancel(store, run.id) == "cancelling"
    assert repo.cancel_requested(store, run.id)
    assert repo.finish_run(store, run.id, "cancelled")
    assert not repo.finish_run(store, run.id, "complete"), "a final status changed"
    queued = _run(store, owner)
    assert repo.request_cancel(store, queued.id) == "cancelled"
    assert not repo.claim_run(store, queued.id), "a cancelled run was started"
    assert not repo.queue_answer(store, queued.id, "x")


def test_migrations_are_idempotent_and_refuse_a_newer_store(store: repo.Store) -> None:
    assert migrate(store.engine) == LATEST_VERSION
    assert migrate(store.engine) == LATEST_VERSION
    with store.engine.begin() as connection:
        rows = connection.execute(text(f"SELECT COUNT(*) FROM {VERSION_TABLE}")).scalar()
        assert rows == LATEST_VERSION
        connection.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ({LATEST_VERSION + 1})"))
    with pytest.raises(StoreVersionError, match="newer"):
        migrate(store.engine)
