from __future__ import annotations

import pandas as pd
import pytest

from synthtab.schema.infer import infer_table
from synthtab.tools.attacks import AttackSettings, normalised_risk, run_attacks, wilson_interval

SETTINGS = AttackSettings(
    targets=300, synthetic_rows=1_000, singling_out_queries=200, bootstrap_rounds=50
)


@pytest.fixture(scope="module")
def splits(adult: pd.DataFrame) -> dict[str, pd.DataFrame]:
    df = adult.sample(3_000, random_state=4).reset_index(drop=True)
    return {"train": df.iloc[:1_000], "holdout": df.iloc[1_000:2_000], "fresh": df.iloc[2_000:]}


def test_wilson_interval_and_normalised_risk() -> None:
    low, high = wilson_interval(0, 100)
    assert low == 0.0 and 0.03 < high < 0.04
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and abs((low + high) / 2 - 0.5) < 1e-9
    assert normalised_risk(0.6, 0.2) == pytest.approx(0.5)


def test_fresh_real_rows_are_low_risk_and_copies_are_high(splits: dict[str, pd.DataFrame]) -> None:
    table = infer_table(pd.concat(splits.values()), "adult")
    train, holdout = splits["train"], splits["holdout"]
    fresh = run_attacks(train, holdout, splits["fresh"], table, 0, ["income"], settings=SETTINGS)
    copies = run_attacks(
        train,
        holdout,
        train.sample(1_000, replace=True, random_state=0),
        table,
        0,
        ["income"],
        settings=SETTINGS,
    )
    assert fresh is not None and copies is not None
    assert fresh.level == "low", fresh.verdict
    assert copies.level == "high", copies.verdict
    by_attack = {r.attack: r for r in copies.results}
    assert set(by_attack) == {
        "nndr",
        "membership_inference",
        "attribute_inference",
        "singling_out",
        "linkability",
    }
    assert by_attack["membership_inference"].target_rate > 0.75
    assert by_attack["nndr"].risk_low > 0.9
    assert by_attack["linkability"].risk_low > 0.1
    for result in [*fresh.results, *copies.results]:
        assert 0.0 <= result.risk_low <= result.risk_high <= 1.0
        assert result.risk_low <= result.risk + 1e-9 or result.risk == 0.0
