"""dp_mst at small budgets: it never spends more than asked, every part is accounted, and the
synthetic data still carries the main marginals and one strong pairwise dependence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthtab.dp import zcdp_epsilon
from synthtab.models.registry import get_model
from synthtab.schema import Column, SemanticType, StorageType, Table


def _table() -> tuple[pd.DataFrame, Table]:
    rng = np.random.default_rng(0)
    n = 6000
    age = rng.integers(18, 80, n)
    senior = age > 55
    segment = np.where(senior, "senior", np.where(rng.random(n) < 0.6, "basic", "plus"))
    data = pd.DataFrame(
        {
            "age": age,
            "segment": pd.Series(segment, dtype="string"),
            "gain": np.where(rng.random(n) < 0.9, 0, rng.integers(1, 50_000, n)),
        }
    )
    table = Table(
        name="t",
        columns=[
            Column(name="age", storage=StorageType.integer, semantic=SemanticType.numeric),
            Column(name="segment", storage=StorageType.string, semantic=SemanticType.categorical),
            Column(name="gain", storage=StorageType.integer, semantic=SemanticType.numeric),
        ],
    )
    return data, table


@pytest.mark.parametrize("epsilon", [0.3, 1.0])
def test_spends_at_most_epsilon_and_accounts_every_part(epsilon: float) -> None:
    data, table = _table()
    model = get_model("dp_mst", epsilon=epsilon, delta=1e-6).fit(data, table, seed=0)
    spent = model.privacy_spent()
    assert spent["epsilon"] <= epsilon
    assert spent["delta"] <= 1e-6 * (1 + 1e-12)
    assert sum(p["rho"] for p in spent["parts"]) == pytest.approx(spent["rho"])
    assert zcdp_epsilon(spent["rho"], 1e-6 * 0.75) <= epsilon * (1 + 1e-9)
    touched = " ".join(p["touched"] for p in spent["parts"])
    for name in table.column_names:  # bounds / categories were released with DP, not read
        assert name in touched


def test_declared_domains_cost_nothing_and_the_data_keeps_its_shape() -> None:
    data, table = _table()
    declared = table.model_copy(
        update={
            "columns": [
                table.columns[0].model_copy(update={"minimum": 18, "maximum": 79}),
                table.columns[1].model_copy(update={"allowed_values": ["basic", "plus", "senior"]}),
                table.columns[2].model_copy(update={"minimum": 0, "maximum": 50_000}),
            ]
        }
    )
    model = get_model("dp_mst", epsilon=1.0).fit(data, declared, seed=0)
    mechanisms = [p["mechanism"] for p in model.privacy_spent()["parts"]]
    assert not any("bounds" in m or "category set" in m for m in mechanisms)
    synthetic = model.sample(6000, seed=1)
    assert synthetic["age"].between(18, 79).all()
    assert set(synthetic["segment"].dropna()) <= {"basic", "plus", "senior"}
    assert (synthetic["gain"] == 0).mean() == pytest.approx(0.9, abs=0.05)
    # the strong dependence survives: seniors are old
    seniors = synthetic.loc[synthetic["segment"] == "senior", "age"]
    assert seniors.mean() > synthetic["age"].mean() + 10
