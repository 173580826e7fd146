"""Fixtures of the DP tests that run the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.schema import Column, SemanticType, StorageType, Table

People = Callable[..., tuple[pd.DataFrame, Table]]


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


def _people(n: int = 6000, gain: bool = True) -> tuple[pd.DataFrame, Table]:
    """Ages, a segment that depends on age, an income that grows with it and (``gain``) a gain
    that is 0 for 90% of rows."""
    rng = np.random.default_rng(0)
    age = rng.integers(18, 80, n)
    segment = np.where(age > 55, "senior", np.where(rng.random(n) < 0.6, "basic", "plus"))
    data = pd.DataFrame(
        {
            "age": age,
            "segment": pd.Series(segment, dtype="string"),
            "income": np.round(age * 800 + rng.normal(0, 6000, n)).clip(0),
        }
    )
    numeric = SemanticType.numeric
    columns = [
        Column(name="age", storage=StorageType.integer, semantic=numeric),
        Column(name="segment", storage=StorageType.string, semantic=SemanticType.categorical),
        Column(name="income", storage=StorageType.float, semantic=numeric),
    ]
    if gain:
        data["gain"] = np.where(rng.random(n) < 0.9, 0, rng.integers(1, 50_000, n))
        columns.append(Column(name="gain", storage=StorageType.integer, semantic=numeric))
    return data, Table(name="people", columns=columns)


@pytest.fixture()
def people() -> People:
    """The people table of the DP model tests (see ``_people``)."""
    return _people
