"""The privacy budget ledger: what differentially private runs have spent on each source file.

Entries are keyed by the SHA-256 of the file's bytes, so a copy or a rename of the same data
counts against the same budget. A run reserves its whole epsilon before it touches the data
(one conditional INSERT: two runs racing for the last of a budget cannot both get it), and once
it has finished the reservation is settled to what it actually spent. A run that failed midway
keeps its full reservation, since it may already have looked at the data.

The ledger is a SQLite file in the user's SynthTab data directory ($SYNTHTAB_HOME, else
~/.local/share/synthtab), migrated like the job store (``synthtab.store.migrations``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from synthtab.store.migrations import migrate

HOME_VARIABLE = "SYNTHTAB_HOME"
LEDGER_FILE = "privacy_ledger.db"
# sums of floats: a total that equals the budget up to rounding is within it
_TOLERANCE = 1e-9


def synthtab_home() -> Path:
    """The user's SynthTab data directory: $SYNTHTAB_HOME, else ~/.local/share/synthtab."""
    configured = os.environ.get(HOME_VARIABLE)
    return Path(configured) if configured else Path.home() / ".local" / "share" / "synthtab"


def default_ledger_path() -> Path:
    return synthtab_home() / LEDGER_FILE


class BudgetRefused(ValueError):
    """A run whose epsilon would take the file's total beyond its budget; nothing was spent."""

    def __init__(self, source: str, spent: float, asked: float, total: float) -> None:
        self.spent, self.asked, self.total = spent, asked, total
        super().__init__(
            f"privacy budget refused for {source}: epsilon {spent:.6g} is already spent on this "
            f"data, this run asks {asked:.6g}, and together that is {spent + asked:.6g}, over the "
            f"total budget {total:.6g} (--privacy-budget); {max(total - spent, 0.0):.6g} is left"
        )


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    dataset_sha256: str
    source: str
    run_dir: str | None
    epsilon: float
    delta: float
    status: str  # reserved | settled
    created_at: str


class PrivacyLedger:
    """One ledger file; every method opens a short transaction of its own."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(f"sqlite:///{self.path}", connect_args={"timeout": 30})
        migrate(self._engine)

    def spent(self, dataset_sha256: str) -> tuple[float, float]:
        """Total (epsilon, delta) charged to the file so far."""
        with self._engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) "
                    "FROM privacy_ledger WHERE dataset_sha256 = :sha"
                ),
                {"sha": dataset_sha256},
            ).one()
        return float(row[0]), float(row[1])

    def entries(self, dataset_sha256: str) -> list[LedgerEntry]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, dataset_sha256, source, run_dir, epsilon, delta, status, "
                    "created_at FROM privacy_ledger WHERE dataset_sha256 = :sha ORDER BY id"
                ),
                {"sha": dataset_sha256},
            ).all()
        return [LedgerEntry(*row) for row in rows]

    def reserve(
        self,
        dataset_sha256: str,
        source: str,
        epsilon: float,
        delta: float,
        total: float | None,
        run_dir: str | None = None,
    ) -> int:
        """Charge ``epsilon`` to the file; ``BudgetRefused`` (nothing charged) where the file's
        total would exceed ``total``. None: no total, the charge is only recorded."""
        if not epsilon > 0.0 or not math.isfinite(epsilon):
            raise ValueError(f"epsilon must be positive and finite, not {epsilon}")
        limit = math.inf if total is None else total * (1.0 + _TOLERANCE)
        with self._engine.begin() as connection:
            # check and insert in one statement: SQLite runs it under one write lock
            inserted = connection.execute(
                text(
                    "INSERT INTO privacy_ledger (dataset_sha256, source, run_dir, epsilon, delta, "
                    "status, created_at) SELECT :sha, :source, :run_dir, :epsilon, :delta, "
                    "'reserved', :now WHERE (SELECT COALESCE(SUM(epsilon), 0) FROM "
                    "privacy_ledger WHERE dataset_sha256 = :sha) + :epsilon <= :limit"
                ),
                {
                    "sha": dataset_sha256,
                    "source": source,
                    "run_dir": run_dir,
                    "epsilon": epsilon,
                    "delta": delta,
                    "now": datetime.now(UTC).isoformat(timespec="seconds"),
                    "limit": limit if math.isfinite(limit) else 1e308,
                },
            )
            if inserted.rowcount == 1:
                return int(inserted.lastrowid)
        spent, _ = self.spent(dataset_sha256)
        raise BudgetRefused(source, spent, epsilon, float(total or 0.0))

    def settle(self, entry_id: int, epsilon: float, delta: float) -> None:
        """Lower a reservation to what the run spent (never raise it: the reservation was the
        run's budget, and the run's accountant never spends beyond it)."""
        with self._engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE privacy_ledger SET epsilon = MIN(epsilon, :epsilon), "
                    "delta = MIN(delta, :delta), status = 'settled' WHERE id = :id"
                ),
                {"id": entry_id, "epsilon": epsilon, "delta": delta},
            )

    def cancel(self, entry_id: int) -> None:
        """Remove a reservation of a run that stopped before it read any data."""
        with self._engine.begin() as connection:
            connection.execute(
                text("DELETE FROM privacy_ledger WHERE id = :id AND status = 'reserved'"),
                {"id": entry_id},
            )

    def close(self) -> None:
        self._engine.dispose()
