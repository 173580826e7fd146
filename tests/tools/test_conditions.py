"""--condition and --rebalance resolved against the training rows: values read as the column's
type and checked against what the rows hold, shares drawn as asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthtab.io.errors import InputError
from synthtab.schema.infer import infer_table
from synthtab.tools.conditions import rebalanced_probabilities, resolve_conditions


def _train() -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "age": rng.integers(18, 70, n),
            "income": np.round(rng.gamma(2.0, 20_000.0, n), 2),
            "segment": pd.Series(rng.choice(["basic", "plus", "gold"], n, p=[0.6, 0.3, 0.1]))
            .astype("string")
            .where(rng.random(n) > 0.05),
            "senior": rng.integers(0, 2, n),
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
        }
    )
    return frame, infer_table(frame, "customers")


def test_fixed_values_are_read_as_the_columns_type_and_repeated_on_every_row() -> None:
    train, table = _train()
    resolved = resolve_conditions(
        table,
        train,
        {
            "age": "40",
            "income": "55000.5",
            "segment": "gold",
            "senior": "yes",
            "joined": "2021-03-01",
        },
        {},
    )
    assert resolved.fixed == {
        "age": 40,
        "income": 55000.5,
        "segment": "gold",
        "senior": 1,
        "joined": pd.Timestamp("2021-03-01"),
    }
    rows = resolved.rows(5, seed=0)
    assert len(rows) == 5 and (rows["age"] == 40).all() and (rows["segment"] == "gold").all()
    assert rows.dtypes.to_dict() == train[list(rows.columns)].dtypes.to_dict()
    matching = resolve_conditions(table, train, {"segment": "gold"}, {}).matching(train)
    assert len(matching) == int((train["segment"] == "gold").sum()) and len(matching) > 0


@pytest.mark.parametrize(
    ("conditions", "words"),
    [
        ({"age": "200"}, ["age=200", "outside the training range 18 to 69"]),
        ({"age": "forty"}, ["age=forty", "not a number"]),
        ({"age": "40.5"}, ["whole numbers"]),
        ({"segment": "platinum"}, ["segment=platinum", "no training row", "'basic'"]),
        ({"joined": "1999-01-01"}, ["joined=1999-01-01", "outside the training range"]),
        ({"joined": "soon"}, ["not a date"]),
        ({"height": "3"}, ["--condition height", "not a column", "age"]),
        ({"customer_id": "C00001"}, ["identifier"]),
    ],
)
def test_a_value_the_rows_cannot_hold_is_refused_with_flag_column_and_reason(
    conditions: dict[str, str], words: list[str]
) -> None:
    train, table = _train()
    with pytest.raises(InputError) as refused:
        resolve_conditions(table, train, conditions, {})
    for word in words:
        assert word in str(refused.value)


def test_rebalanced_categories_take_their_shares_and_the_rest_keeps_its_proportions() -> None:
    train, table = _train()
    resolved = resolve_conditions(table, train, {}, {"segment": {"gold": 0.5}})
    rows = resolved.rows(20_000, seed=3)
    shares = rows["segment"].value_counts(normalize=True, dropna=False)
    assert shares["gold"] == pytest.approx(0.5, abs=0.015)
    real = train["segment"].value_counts()
    assert shares["basic"] / shares["plus"] == pytest.approx(real["basic"] / real["plus"], rel=0.1)
    # nulls are one of the "others": their share of what gold leaves over
    null_rate = train["segment"].isna().mean()
    gold = (train["segment"] == "gold").sum() / len(train)
    expected_nulls = null_rate * 0.5 / (1.0 - gold)
    assert rows["segment"].isna().mean() == pytest.approx(expected_nulls, abs=0.006)
    assert "gold 50%" in resolved.describe()
    with pytest.raises(InputError, match="only categorical"):
        resolve_conditions(table, train, {}, {"income": {"1": 0.5}})
    with pytest.raises(InputError, match="unknown categories"):
        resolve_conditions(table, train, {}, {"segment": {"platinum": 0.5}})
    with pytest.raises(InputError, match="both"):
        resolve_conditions(table, train, {"segment": "gold"}, {"segment": {"gold": 0.5}})


def test_rebalanced_probabilities_spread_what_is_left_over_the_others_and_nulls() -> None:
    frequency = np.array([0.6, 0.3])  # 10% nulls
    probabilities = rebalanced_probabilities("c", ["a", "b"], frequency, 0.1, {"b": 0.5})
    np.testing.assert_allclose(probabilities, [0.5 * 0.6 / 0.7, 0.5, 0.5 * 0.1 / 0.7])
    with pytest.raises(ValueError, match="at most 1"):
        rebalanced_probabilities("c", ["a", "b"], frequency, 0.1, {"a": 0.7, "b": 0.5})
