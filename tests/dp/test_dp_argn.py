"""dp_argn: the accounting composes the zCDP releases and DP-SGD in RDP and never spends more
than asked, the network's vocabulary is the DP domains' (never values read off the rows), it
learns a dependence, and `synthtab generate --epsilon 1 --model dp_argn` runs end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from synthtab.app import main
from synthtab.dp import zcdp_epsilon
from synthtab.models.dp_argn import (
    DPARGNSettings,
    training_plan,
)
from synthtab.models.dp_sgd import ORDERS, epsilon_spent, noise_for_budget, rdp_to_epsilon
from synthtab.models.registry import get_model, load_model

from .conftest import People

# a short training keeps these tests fast; the accounting is the same for any length
_SHORT = {"max_steps": 12, "batch_size": 256}


def test_rdp_conversion_of_zcdp_matches_the_zcdp_conversion() -> None:
    # rho-zCDP is (alpha, rho alpha)-RDP; at integer orders the bound is at most a hair looser
    for rho in (0.01, 0.1, 1.0):
        exact = zcdp_epsilon(rho, 1e-6)
        assert exact <= rdp_to_epsilon(rho * ORDERS, 1e-6) <= exact * 1.01


def test_a_zcdp_release_adds_to_the_steps_and_alone_converts_like_zcdp() -> None:
    alone = epsilon_spent(0.1, 1.2, 200, 1e-6)
    assert 0.0 < alone < epsilon_spent(0.1, 1.2, 200, 1e-6, rho=0.01)
    assert epsilon_spent(0.1, 1.2, 0, 1e-6, rho=0.01) == pytest.approx(
        rdp_to_epsilon(0.01 * ORDERS, 1e-6)
    )


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 3.0])
def test_the_noise_found_is_the_smallest_within_the_budget(epsilon: float) -> None:
    rho = 0.2 * 0.8 * epsilon**2 / 20  # a share of what the budget is as zCDP
    noise = noise_for_budget(0.1, 80, epsilon, 1e-6, rho=rho)
    assert epsilon_spent(0.1, noise, 80, 1e-6, rho=rho) <= epsilon
    assert epsilon_spent(0.1, noise * 0.99, 80, 1e-6, rho=rho) > epsilon
    # less noise, more epsilon: the zCDP releases before DP-SGD are counted
    assert noise > noise_for_budget(0.1, 80, epsilon, 1e-6)


def test_the_training_plan_reads_only_the_settings_and_the_noisy_count() -> None:
    settings = DPARGNSettings(batch_size=500, epochs=4, max_steps=1000)
    assert training_plan(settings, 5000.0) == (0.1, 40)
    assert training_plan(settings, 100.0) == (1.0, 4)  # fewer rows than a batch: every row
    assert training_plan(settings.model_copy(update={"max_steps": 25}), 5000.0) == (0.1, 25)


@pytest.mark.parametrize("epsilon", [0.3, 1.0, 3.0])
def test_spends_at_most_epsilon_and_every_part_adds_up(epsilon: float, people: People) -> None:
    data, table = people(3000, gain=False)
    model = get_model("dp_argn", epsilon=epsilon, delta=1e-6, **_SHORT).fit(data, table, seed=0)
    spent = model.privacy_spent()
    assert 0.0 < spent["epsilon"] <= epsilon
    assert spent["delta"] <= 1e-6 * (1 + 1e-12)
    zcdp_parts = [p for p in spent["parts"] if "rho" in p]
    assert sum(p["rho"] for p in zcdp_parts) == pytest.approx(spent["rho_zcdp_parts"])
    [sgd] = [p for p in spent["parts"] if "noise_multiplier" in p]
    assert sgd["steps"] == model.training_summary()["steps"] > 0
    # the parts recompose to the total: zCDP and DP-SGD added order by order, one conversion
    # (a category set's threshold took a quarter of delta, the conversion the rest)
    recomposed = epsilon_spent(
        sgd["sample_rate"], sgd["noise_multiplier"], sgd["steps"], 1e-6 * 0.75,
        rho=spent["rho_zcdp_parts"],
    )  # fmt: skip
    assert recomposed == pytest.approx(spent["epsilon"])
    # the budget is used, not wasted: within 1% of what was asked
    assert spent["epsilon"] >= 0.99 * epsilon
    assert sgd["epsilon_alone"] < spent["epsilon"]
    touched = " ".join(p["touched"] for p in spent["parts"])
    for name in table.column_names:  # bounds and categories released with DP, then trained on
        assert f"'{name}'" in touched


def test_the_opacus_engine_trains_inside_the_same_single_account(people: People) -> None:
    data, table = people(1500, gain=False)
    settings = {"epsilon": 1.0, "delta": 1e-6, **_SHORT}
    model = get_model("dp_argn", engine="opacus", **settings).fit(data, table, seed=0)
    spent = model.privacy_spent()
    [sgd] = [p for p in spent["parts"] if "noise_multiplier" in p]
    assert sgd["engine"] == "opacus" and sgd["steps"] == model.training_summary()["steps"] > 0
    assert 0.99 <= spent["epsilon"] <= 1.0
    # opacus's RDP of the steps recomposes the total; its analysis is the same mechanism's, so
    # the noise it needs is within a few percent of the own analysis' figure
    recomposed = epsilon_spent(
        sgd["sample_rate"], sgd["noise_multiplier"], sgd["steps"], 1e-6 * 0.75, "opacus",
        rho=spent["rho_zcdp_parts"],
    )  # fmt: skip
    assert recomposed == pytest.approx(spent["epsilon"])
    builtin = get_model("dp_argn", **settings).fit(data, table, seed=0).privacy_spent()
    [own] = [p for p in builtin["parts"] if "noise_multiplier" in p]
    assert sgd["noise_multiplier"] == pytest.approx(own["noise_multiplier"], rel=0.03)
    synthetic = model.sample(500, seed=1)
    assert synthetic.shape == (500, len(table.columns))


def test_the_vocabulary_is_the_declared_domains_not_the_values_seen(people: People) -> None:
    data, table = people(1500, gain=False)
    declared = table.model_copy(
        update={
            "columns": [
                table.columns[0].model_copy(update={"minimum": 0, "maximum": 120}),
                table.columns[1].model_copy(
                    # 'gold' never occurs: a vocabulary read off the rows would not have it
                    update={"allowed_values": ["basic", "plus", "senior", "gold"]}
                ),
                table.columns[2].model_copy(update={"minimum": 0.0, "maximum": 200_000.0}),
            ]
        }
    )
    model = get_model("dp_argn", epsilon=1.0, **_SHORT).fit(data, declared, seed=0)
    spent = model.privacy_spent()
    # declared domains cost nothing: only the marginals and DP-SGD touched the rows
    mechanisms = " ".join(p["mechanism"] for p in spent["parts"])
    assert "bounds" not in mechanisms and "category set" not in mechanisms
    segment = next(d for d in model.released_domains() if d.name == "segment")
    assert segment.categories == ["basic", "plus", "senior", "gold"]
    # the network is built from the domains: segment's head has 6 codes (4 declared, 'other',
    # null); a vocabulary read off the rows would have 3 or 4
    assert model.training_summary()["vocabularies"] == [d.size for d in model.released_domains()]
    assert segment.size == 6
    synthetic = model.sample(2000, seed=3)
    assert synthetic["age"].between(0, 120).all()
    assert set(synthetic["segment"].dropna()) <= {"basic", "plus", "senior", "gold"}


def test_it_learns_a_dependence_and_saves(tmp_path: Path, people: People) -> None:
    data, table = people(3000, gain=False)
    model = get_model("dp_argn", epsilon=50.0, epochs=12).fit(data, table, seed=0)
    synthetic = model.sample(3000, seed=1)
    seniors = synthetic["segment"] == "senior"
    # in the data seniors are all over 55; a model of independent columns would give ~48
    assert synthetic.loc[seniors, "age"].mean() > synthetic.loc[~seniors, "age"].mean() + 10
    path = tmp_path / "dp_argn.bin"
    model.save(path)
    loaded = load_model("dp_argn", path)
    pd.testing.assert_frame_equal(loaded.sample(500, seed=4), model.sample(500, seed=4))
    assert loaded.privacy_spent() == model.privacy_spent()


@pytest.mark.parametrize("engine", ["builtin", "opacus"])
def test_generate_with_epsilon_1_and_dp_argn_runs_end_to_end(
    engine: str,
    titanic_csv: Callable[[int | None], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = titanic_csv(None)
    titanic = pd.read_csv(source)
    out = tmp_path / "run"
    code = main(
        [
            "generate", str(source), "--out", str(out), "--target", "survived",
            "--epsilon", "1", "--model", "dp_argn", "--rows", "1000", "--no-attacks", "--quiet",
            "--dp-engine", engine,
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "dp_argn"
    dp = manifest["differential_privacy"]
    assert dp["within_budget"] and 0.9 < dp["spent_epsilon"] <= 1.0
    [spend] = dp["spends"]
    [sgd] = [p for p in spend["parts"] if "DP-SGD" in p["mechanism"]]
    assert sgd["engine"] == engine
    # the exact row count is not released, so the manifest does not state it
    released = json.dumps(dp)
    for rows in range(int(len(titanic) * 0.8) - 1, int(len(titanic) * 0.8) + 2):  # the split's
        assert not re.search(rf"(?<![\d.,])({rows:,}|{rows})(?![\d.,])", released)
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert len(synthetic) == 1000 and list(synthetic.columns) == list(titanic.columns)
    schema = json.loads((out / "schema.json").read_text())["tables"][0]
    for column in schema["columns"]:  # the rows keep the released schema
        values = synthetic[column["name"]].dropna()
        if column.get("allowed_values") is not None:
            assert set(values.astype(str)) <= {str(v) for v in column["allowed_values"]}
        if column.get("minimum") is not None and column["semantic"] == "numeric":
            assert values.between(column["minimum"], column["maximum"]).all(), column["name"]


def test_the_dp_engine_is_refused_where_no_dp_sgd_runs() -> None:
    from pydantic import ValidationError

    from synthtab.schema import GenerationRequest

    with pytest.raises(ValidationError, match="--dp-engine opacus needs --epsilon"):
        GenerationRequest(source="x.csv", dp_engine="opacus")
    with pytest.raises(ValidationError, match="--model dp_mst has no DP-SGD"):
        GenerationRequest(source="x.csv", epsilon=1.0, model="dp_mst", dp_engine="opacus")
    GenerationRequest(source="x.csv", epsilon=1.0, model="dp_argn", dp_engine="opacus")
