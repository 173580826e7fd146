"""--condition and --rebalance resolved against the training rows: values read as the column's
type and checked against what the rows hold, shares drawn as asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthtab.io.errors import InputError
from synthtab.schema.infer import infer_table
from synthtab.tools.conditions import (
    SEED_ROW,
    held_cells,
    in_seed_order,
    rebalanced_probabilities,
    resolve_conditions,
    resolve_seed_rows,
    undelivered_seed_rows,
)


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


def _seeds() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C90001", "C90002", "C90003", "C90004"],
            "age": [25, None, 61, 40],
            "segment": ["gold", "basic", None, "plus"],
            "senior": ["yes", "no", "1", None],
        }
    )


def test_seed_rows_are_read_as_the_columns_with_blanks_left_to_draw() -> None:
    train, table = _train()
    seeds = resolve_seed_rows(table, train, _seeds(), "seeds.csv", set())
    assert seeds.copied == ["customer_id"]  # an identifier is copied, never conditioned on
    assert seeds.conditioned == ["age", "segment", "senior"]
    assert seeds.values["age"].tolist() == [25, None, 61, 40]
    assert seeds.values["senior"].tolist() == [1, 0, 1, None]
    groups = seeds.groups(np.array([0, 1, 2, 3, 0]))
    # rows of seed 0 twice (positions 0 and 4), then one group per pattern of filled cells
    by_positions = {tuple(p): frame for p, frame in groups}
    assert set(by_positions) == {(0, 4), (1,), (2,), (3,)}
    first = by_positions[(0, 4)]
    assert first.columns.tolist() == ["age", "segment", "senior"]
    assert first["age"].tolist() == [25, 25] and first["segment"].tolist() == ["gold", "gold"]
    assert first.dtypes.to_dict() == train[first.columns].dtypes.to_dict()
    assert by_positions[(1,)].columns.tolist() == ["segment", "senior"]
    drawn = pd.DataFrame({"customer_id": ["C1", "C2"], "age": [30, 31]})
    copied = seeds.copy_onto(drawn, np.array([2, 0]))
    assert copied["customer_id"].tolist() == ["C90003", "C90001"] and copied["age"].tolist() == [
        30,
        31,
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"age": [25, None, 200, 40]}, ["column 'age'", "row 3", "value 200", "outside"]),
        ({"segment": ["gold", "basic", "platinum", None]}, ["row 3", "no training row"]),
        ({"senior": ["yes", "maybe", None, None]}, ["row 2", "value maybe", "'0', '1'"]),
        ({"customer_id": ["C90001", "C90001", "C9", "C90004"]}, ["row 2", "repeats an earlier"]),
        ({"customer_id": ["C90001", "C90002", "X3", None]}, ["row 3", "value X3", "^C[0-9]{5}$"]),
        ({"height": [1, 2, 3, 4]}, ["column 'height'", "not columns of the input"]),
    ],
)
def test_a_seed_value_the_rows_cannot_hold_is_refused_with_file_column_and_row(
    change: dict[str, list[object]], words: list[str]
) -> None:
    train, table = _train()
    seeds = _seeds().assign(**change)
    with pytest.raises(InputError) as refused:
        resolve_seed_rows(table, train, seeds, "seeds.csv", set())
    assert str(refused.value).startswith("seeds.csv, ")
    for word in words:
        assert word in str(refused.value)


def test_held_cells_seed_order_and_undelivered_rows() -> None:
    seeds = _seeds()
    rows = pd.DataFrame({"age": [1, 2, 3], SEED_ROW: [3, 0, 1]})
    held = held_cells(rows, ["segment"], seeds.notna())
    assert held["segment"].all()  # a --condition/--rebalance column is held on every row
    assert held["age"].tolist() == [True, True, False]  # seed 1 leaves age blank
    assert held["senior"].tolist() == [False, True, True]
    assert held_cells(rows, [], None) is None
    ordered = in_seed_order(rows)
    assert ordered.columns.tolist() == ["age"] and ordered["age"].tolist() == [2, 3, 1]
    assert undelivered_seed_rows(rows, 4) == [3]  # seed index 2 is the table's third row


def test_a_seed_number_beyond_the_trimmed_training_range_is_kept_as_given() -> None:
    """--cap-quantile trims the training rows' extremes; a seed value between the trimmed and
    the column's own range conditions the model at the nearest training bound and is delivered
    as the user gave it. Beyond the column's range it is refused."""
    train, _ = _train()
    table = infer_table(pd.concat([train, train.assign(age=train["age"] + 30)]), "customers")
    seeds = pd.DataFrame({"age": [75, 30, None, 99], "segment": ["gold"] * 4})
    resolved = resolve_seed_rows(table, train, seeds, "seeds.csv", set())
    assert resolved.values["age"].tolist() == [69, 30, None, 69]  # training ages are 18-69
    assert resolved.kept_as_given is not None
    assert resolved.kept_as_given["age"].tolist() == [75, None, None, 99]
    drawn = pd.DataFrame({"age": [69, 69, 30], "segment": ["gold"] * 3})
    written = resolved.copy_onto(drawn, np.array([0, 3, 1]))
    assert written["age"].tolist() == [75, 99, 30] and written["age"].dtype == train["age"].dtype
    with pytest.raises(InputError, match="row 2.*outside the training range"):
        resolve_seed_rows(table, train, seeds.assign(age=[40, 120, 30, 30]), "seeds.csv", set())


def test_a_seed_date_beyond_the_trimmed_training_range_is_kept_as_given() -> None:
    """The same for dates, read as the training rows' times (text or timestamps alike)."""
    train, _ = _train()
    later = train.assign(joined=train["joined"] + pd.Timedelta(days=400))
    table = infer_table(pd.concat([train, later]), "customers")
    last = train["joined"].max()
    seeds = pd.DataFrame(
        {"joined": ["2023-01-05", pd.Timestamp("2021-03-01"), None], "segment": ["gold"] * 3}
    )
    resolved = resolve_seed_rows(table, train, seeds, "seeds.csv", set())
    assert resolved.values["joined"].tolist()[:2] == [last, pd.Timestamp("2021-03-01")]
    assert resolved.kept_as_given is not None
    assert resolved.kept_as_given["joined"].tolist()[0] == pd.Timestamp("2023-01-05")
    with pytest.raises(InputError, match="row 2.*not a date"):
        resolve_seed_rows(table, train, seeds.assign(joined=["2021-01-01", "soon", None]),
                          "seeds.csv", set())  # fmt: skip
