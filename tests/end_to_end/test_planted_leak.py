"""A planted leak: a model that memorises training rows must be caught by the attacks and the
privacy policy, and the delivered data must no longer hold its copies."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from synthtab.graphs.runner import start_run
from synthtab.models import registry
from synthtab.models.base import Synthesizer
from synthtab.schema import GenerationRequest, Table

NUDGED = "income"


class Memoriser(Synthesizer):
    """Half of its rows are training rows with ``income`` nudged by 1 (so no exact-copy check
    sees them), a fifth are verbatim copies, the rest draw each column from a different row."""

    name: ClassVar[str] = "gaussian_copula"

    def __init__(self, **settings: Any) -> None:
        self.train: pd.DataFrame | None = None

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        self.train = data.reset_index(drop=True)
        return self

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        assert self.train is not None
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, len(self.train), size=n)
        out = self.train.iloc[rows].reset_index(drop=True).copy()
        kind = rng.random(n)
        nudged = kind < 0.5
        out.loc[nudged, NUDGED] = out.loc[nudged, NUDGED] + 1.0
        mixed = kind >= 0.7
        for name in out.columns:
            donors = rng.integers(0, len(self.train), size=int(mixed.sum()))
            out.loc[mixed, name] = self.train[name].to_numpy()[donors]
        return out

    def settings(self) -> dict[str, Any]:
        return {}

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(self.train))

    @classmethod
    def load(cls, path: Path) -> Self:
        model = cls()
        model.train = pickle.loads(path.read_bytes())  # noqa: S301 - written by save above
        return model


def _people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_name": [f"Realname{i} Realsurname{i}" for i in range(n)],
            "email": [f"person{i}@realmail.com" for i in range(n)],
            "age": rng.integers(18, 90, size=n),
            "income": np.round(rng.lognormal(10.5, 0.6, size=n), 2),
            "city": rng.choice(["north", "south", "east", "west", "centre"], size=n),
            "score": np.round(rng.random(n), 4),
        }
    )


@pytest.fixture()
def memorising_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model asked for is the memoriser, for this test only."""
    monkeypatch.setattr(registry, "model_class", lambda name: Memoriser)


def test_memorising_model_is_caught_and_its_copies_are_not_delivered(
    memorising_model: None, tmp_path: Path
) -> None:
    real = _people(1_000, seed=3)
    source = tmp_path / "people.csv"
    real.to_csv(source, index=False)
    request = GenerationRequest(source=str(source), rows=300, seed=1, compute_tstr=False)
    outcome = start_run(request, tmp_path / "run")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    privacy = report["privacy"]

    # caught by the attacks: the policy acted on an attack whose risk exceeded the threshold
    assert privacy["policy"], privacy["verdict"]
    first = privacy["policy"][0]
    assert first["action"] == "stronger protection and refit"
    flagged = [
        r
        for r in first["attacks_before"]["results"]
        if r["risk_low"] > request.privacy_risk_threshold
    ]
    assert {r["attack"] for r in flagged} & {"membership_inference", "nndr"}
    assert "k 5 → 10" in first["changes"]
    # the copies were removed, and the last assessment finds no leak left
    assert privacy["exact_copies_removed"] > 0
    assert privacy["near_copies_removed"] > 0
    assert privacy["exact_copy_rate"] == 0.0
    assert privacy["attacks"]["level"] != "high"

    delivered = pd.read_csv(tmp_path / "run" / "synthetic.csv")
    assert len(delivered) > 0
    # no real name or email is delivered: they were replaced by fakes before the model saw them
    assert not set(delivered["customer_name"]) & set(real["customer_name"])
    assert not set(delivered["email"]) & set(real["email"])
    # no delivered row is a training row, verbatim or with income nudged
    keys = ["age", "city", "score"]
    joined = delivered.merge(real, on=keys, suffixes=("", "_real"))
    assert ((joined[NUDGED] - joined[f"{NUDGED}_real"]).abs() > 1.0 + 1e-6).all()
    assert outcome.status in {"complete", "incomplete"}
