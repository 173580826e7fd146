"""Fixtures of the DP tests that run the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture()
def titanic_csv(
    datasets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[int | None], Path]:
    """Writes titanic's first ``rows`` rows (all with None) to a CSV for a private run, whose
    privacy ledger then lives in the test's own SYNTHTAB_HOME, never the real one."""
    monkeypatch.setenv("SYNTHTAB_HOME", str(tmp_path / "home"))

    def write(rows: int | None) -> Path:
        titanic = pd.read_parquet(datasets_dir / "titanic.parquet")
        source = tmp_path / f"titanic{rows or ''}.csv"
        (titanic if rows is None else titanic.head(rows)).to_csv(source, index=False)
        return source

    return write
