"""Schema migrations: a numbered list of steps and a one-row table saying which have run.

Alembic would be the tool for a store with many hands on it; the store has one owner and a
handful of tables, so each step is a function, steps run in order inside a transaction, and a
database newer than this code is refused rather than guessed at."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

from synthtab.store.models import Base

VERSION_TABLE = "synthtab_schema_version"


def _v1_initial(connection: Connection) -> None:
    Base.metadata.create_all(connection)


def _v2_privacy_ledger(connection: Connection) -> None:
    """The privacy budget ledger (synthtab.store.ledger): one row per DP run on a source file,
    keyed by the file's content hash. Plain SQL: a migration stays as it was written."""
    connection.execute(
        text(
            "CREATE TABLE IF NOT EXISTS privacy_ledger ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "dataset_sha256 VARCHAR(64) NOT NULL, "
            "source TEXT NOT NULL, "
            "run_dir TEXT, "
            "epsilon FLOAT NOT NULL, "
            "delta FLOAT NOT NULL, "
            "status VARCHAR(16) NOT NULL, "
            "created_at VARCHAR(40) NOT NULL)"
        )
    )
    connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_privacy_ledger_dataset "
            "ON privacy_ledger (dataset_sha256)"
        )
    )


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_v1_initial, _v2_privacy_ledger)
LATEST_VERSION = len(MIGRATIONS)


class StoreVersionError(RuntimeError):
    """The database was written by a newer SynthTab."""


def current_version(connection: Connection) -> int:
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER)"))
    row = connection.execute(text(f"SELECT MAX(version) FROM {VERSION_TABLE}")).scalar()
    return int(row or 0)


def migrate(engine: Engine) -> int:
    """Bring the database up to ``LATEST_VERSION``; returns the version it is at."""
    with engine.begin() as connection:
        version = current_version(connection)
        if version > LATEST_VERSION:
            raise StoreVersionError(
                f"the job store is at schema version {version}, newer than this SynthTab "
                f"({LATEST_VERSION}); upgrade SynthTab"
            )
        for number in range(version + 1, LATEST_VERSION + 1):
            MIGRATIONS[number - 1](connection)
            connection.execute(
                text(f"INSERT INTO {VERSION_TABLE} (version) VALUES (:v)"), {"v": number}
            )
    return LATEST_VERSION
