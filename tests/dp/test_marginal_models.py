"""What every marginal-based DP model (dp_mst, dp_copula) promises: it never spends more than
asked and accounts every part of its zCDP block, declared domains cost nothing and bound the
rows, a saved model samples the same rows after loading, and the row count it may state is its
marginals' noisy total, never the exact count."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthtab.dp import zcdp_epsilon
from synthtab.models.registry import get_model, load_model
from synthtab.schema import Table

from .conftest import People

MODELS = ("dp_mst", "dp_copula")
# dp_argn releases its marginals the same way (its own tests train it; this one only counts)
COUNTING_MODELS = (*MODELS, "dp_argn")


def declared(table: Table) -> Table:
    """The table with every domain declared (public, free)."""
    bounds = {"age": (18.0, 79.0), "income": (0.0, 100_000.0), "gain": (0.0, 50_000.0)}
    columns = []
    for column in table.columns:
        if column.name in bounds:
            low, high = bounds[column.name]
            columns.append(column.model_copy(update={"minimum": low, "maximum": high}))
        else:
            columns.append(
                column.model_copy(update={"allowed_values": ["basic", "plus", "senior"]})
            )
    return table.model_copy(update={"columns": columns})


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("epsilon", [0.3, 3.0])
def test_spends_at_most_epsilon_and_accounts_every_part(
    model: str, epsilon: float, people: People
) -> None:
    data, table = people()
    spent = get_model(model, epsilon=epsilon, delta=1e-6).fit(data, table, seed=0).privacy_spent()
    assert spent["epsilon"] <= epsilon
    assert spent["delta"] <= 1e-6 * (1 + 1e-12)
    assert sum(p["rho"] for p in spent["parts"]) == pytest.approx(spent["rho"])
    # a category set's threshold takes a quarter of delta; the conversion gets the rest
    assert zcdp_epsilon(spent["rho"], 1e-6 * 0.75) <= epsilon * (1 + 1e-9)
    touched = " ".join(p["touched"] for p in spent["parts"])
    for name in table.column_names:  # bounds / categories were released with DP, not read
        assert name in touched
    # 6,000 rows are enough for every domain release to stand above its noise
    assert not [p["warning"] for p in spent["parts"] if "warning" in p]


@pytest.mark.parametrize("model", MODELS)
def test_declared_domains_cost_nothing_bound_the_rows_and_survive_saving(
    model: str, tmp_path: Path, people: People
) -> None:
    data, table = people()
    fitted = get_model(model, epsilon=1.0).fit(data, declared(table), seed=0)
    mechanisms = [p["mechanism"] for p in fitted.privacy_spent()["parts"]]
    assert not any("bounds" in m or "category set" in m for m in mechanisms)
    synthetic = fitted.sample(3000, seed=1)
    assert synthetic["age"].between(18, 79).all()
    assert synthetic["income"].between(0, 100_000).all()
    assert set(synthetic["segment"].dropna()) <= {"basic", "plus", "senior"}
    fitted.save(tmp_path / "m.zip")
    again = load_model(model, tmp_path / "m.zip").sample(50, seed=3)
    pd.testing.assert_frame_equal(again, fitted.sample(50, seed=3))


def test_dp_mst_keeps_the_point_mass_and_the_strong_pair(people: People) -> None:
    data, table = people()
    synthetic = get_model("dp_mst", epsilon=1.0).fit(data, declared(table), seed=0).sample(6000, 1)
    assert (synthetic["gain"] == 0).mean() == pytest.approx(0.9, abs=0.05)
    # the strong dependence survives: seniors are old
    seniors = synthetic.loc[synthetic["segment"] == "senior", "age"]
    assert seniors.mean() > synthetic["age"].mean() + 10


@pytest.mark.parametrize("epsilon", [0.5, 3.0])
def test_dp_copula_keeps_the_correlation(epsilon: float, people: People) -> None:
    data, table = people()
    # three columns, as in the model's design notes: each more column shares the budget
    data = data.drop(columns="gain")
    table = table.model_copy(update={"columns": table.columns[:3]})
    model = get_model("dp_copula", epsilon=epsilon, delta=1e-6).fit(data, table, seed=0)
    synthetic = model.sample(6000, seed=1)
    real_corr = data["age"].corr(data["income"])
    assert synthetic["age"].corr(synthetic["income"]) == pytest.approx(real_corr, abs=0.1)
    seniors = synthetic.loc[synthetic["segment"] == "senior", "age"]
    assert seniors.mean() > synthetic["age"].mean() + 5


@pytest.mark.parametrize("model", COUNTING_MODELS)
def test_the_stated_row_count_is_noisy_and_survives_saving(
    model: str, tmp_path: Path, people: People
) -> None:
    data, table = people(3000)
    settings = {"epochs": 1, "max_steps": 2} if model == "dp_argn" else {}
    fitted = get_model(model, epsilon=0.5, **settings).fit(data, table, seed=0)
    counts = fitted.released_row_count()
    assert isinstance(counts, int) and counts != len(data)
    assert abs(counts - len(data)) < 0.2 * len(data)  # noise at epsilon 0.5, not a made-up count
    fitted.save(tmp_path / "m.zip")
    assert load_model(model, tmp_path / "m.zip").released_row_count() == counts
