"""The privacy budget ledger: runs on the same bytes add up, a run over the total is refused
with the numbers and charges nothing, settling lowers a reservation, and the default ledger
lives under $SYNTHTAB_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from synthtab.store.ledger import BudgetRefused, PrivacyLedger, default_ledger_path
from synthtab.store.migrations import LATEST_VERSION, VERSION_TABLE


def test_runs_add_up_and_a_run_over_the_total_is_refused(tmp_path: Path) -> None:
    ledger = PrivacyLedger(tmp_path / "ledger.db")
    first = ledger.reserve("a" * 64, "data.csv", 1.0, 1e-6, total=2.5)
    ledger.reserve("a" * 64, "copy.csv", 1.0, 1e-6, total=2.5)
    ledger.reserve("b" * 64, "other.csv", 2.0, 1e-6, total=2.5)  # another file: its own budget
    assert ledger.spent("a" * 64) == pytest.approx((2.0, 2e-6))
    with pytest.raises(BudgetRefused) as refused:
        ledger.reserve("a" * 64, "data.csv", 1.0, 1e-6, total=2.5)
    message = str(refused.value)
    assert "2 is already spent" in message and "asks 1" in message and "2.5" in message
    assert ledger.spent("a" * 64)[0] == pytest.approx(2.0)  # nothing charged
    ledger.reserve("a" * 64, "data.csv", 0.5, 1e-6, total=2.5)  # exactly the rest is fine
    ledger.settle(first, 0.75, 1e-6)
    assert ledger.spent("a" * 64)[0] == pytest.approx(2.25)
    ledger.settle(first, 5.0, 1e-6)  # settling never raises a charge
    assert ledger.spent("a" * 64)[0] == pytest.approx(2.25)
    statuses = [e.status for e in ledger.entries("a" * 64)]
    assert statuses == ["settled", "reserved", "reserved"]
    ledger.close()
    again = PrivacyLedger(tmp_path / "ledger.db")  # persisted
    assert again.spent("a" * 64)[0] == pytest.approx(2.25)
    again.close()


def test_cancel_returns_a_reservation_and_no_total_only_records(tmp_path: Path) -> None:
    ledger = PrivacyLedger(tmp_path / "ledger.db")
    entry = ledger.reserve("c" * 64, "data.csv", 3.0, 1e-6, total=None)
    ledger.reserve("c" * 64, "data.csv", 30.0, 1e-6, total=None)
    assert ledger.spent("c" * 64)[0] == pytest.approx(33.0)
    ledger.cancel(entry)
    assert ledger.spent("c" * 64)[0] == pytest.approx(30.0)
    with pytest.raises(ValueError):
        ledger.reserve("c" * 64, "data.csv", 0.0, 1e-6, total=None)
    ledger.close()


def test_the_ledger_is_a_migrated_store_under_synthtab_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHTAB_HOME", str(tmp_path / "home"))
    path = default_ledger_path()
    assert path == tmp_path / "home" / "privacy_ledger.db"
    PrivacyLedger(path).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        version = connection.execute(text(f"SELECT MAX(version) FROM {VERSION_TABLE}")).scalar()
        tables = {r[0] for r in connection.execute(text("SELECT name FROM sqlite_master"))}
    engine.dispose()
    assert version == LATEST_VERSION >= 2
    assert "privacy_ledger" in tables
