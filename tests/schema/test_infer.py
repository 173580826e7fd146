"""Schema inference on real and made-up tables, and the merge of what a user declared."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.schema.infer import InferenceOptions, infer_table, merge_declaration
from synthtab.schema.model import (
    ColumnDeclaration,
    FixedCombination,
    Inequality,
    Rule,
    SemanticType,
    StorageType,
    Table,
    TableDeclaration,
)


def _read(datasets_dir: Path, name: str, rows: int | None = None) -> pd.DataFrame:
    frame = pd.read_parquet(datasets_dir / f"{name}.parquet")
    if rows is not None and rows < len(frame):
        frame = frame.sample(rows, random_state=7).reset_index(drop=True)
    return frame


def _inequalities(table: Table) -> dict[str, Inequality]:
    return {c.name: c for c in table.constraints if isinstance(c, Inequality)}


def _combinations(table: Table) -> dict[str, FixedCombination]:
    return {c.name: c for c in table.constraints if isinstance(c, FixedCombination)}


# ---------------------------------------------------------------------------------------------
# real data


@pytest.fixture(scope="module")
def adult_table(datasets_dir: Path) -> Table:
    return infer_table(_read(datasets_dir, "adult", 4_000), "adult")


@pytest.fixture(scope="module")
def telco_table(datasets_dir: Path) -> Table:
    return infer_table(_read(datasets_dir, "telco_churn", 3_000), "telco_churn")


@pytest.fixture(scope="module")
def lending_club(datasets_dir: Path) -> pd.DataFrame:
    return _read(datasets_dir, "lending_club")


@pytest.fixture(scope="module")
def lending_table(lending_club: pd.DataFrame) -> Table:
    return infer_table(lending_club, "lending_club")


def test_adult_income_is_categorical_with_its_levels(adult_table: Table) -> None:
    income = adult_table.column("income")
    assert income.storage == StorageType.string
    assert income.semantic == SemanticType.categorical
    assert income.allowed_values == ["<=50K", ">50K"]
    assert income.nullable is False
    assert any("categorical" in line for line in income.evidence)


def test_adult_nullable_columns_report_their_null_share(adult_table: Table) -> None:
    workclass = adult_table.column("workclass")
    assert workclass.nullable is True
    assert workclass.null_fraction is not None and 0.03 < workclass.null_fraction < 0.09
    age = adult_table.column("age")
    assert age.semantic == SemanticType.numeric
    assert age.storage == StorageType.integer
    assert age.decimals == 0
    assert 17 <= float(age.minimum) < float(age.maximum) <= 90  # type: ignore[arg-type]
    assert adult_table.row_count == 4_000
    assert adult_table.primary_key is None


def test_adult_education_fixes_educational_num_in_the_string_to_code_direction(
    adult_table: Table,
) -> None:
    combinations = _combinations(adult_table)
    assert "education -> educational-num" in combinations
    assert "educational-num -> education" not in combinations
    found = combinations["education -> educational-num"]
    assert found.mapping["HS-grad"] == 9
    assert found.mapping["Bachelors"] == 13
    assert any("one-to-one" in line and "string → code" in line for line in found.evidence)
    assert any(re.search(r"holds in ([\d,]+)/\1 rows", line) for line in found.evidence)
    assert adult_table.column("educational-num").semantic == SemanticType.categorical


def test_telco_zero_one_integers_are_categorical(telco_table: Table) -> None:
    for name in ["female", "senior_citizen", "partner", "dependents", "paperless_billing"]:
        column = telco_table.column(name)
        assert column.storage == StorageType.integer
        assert column.semantic == SemanticType.categorical, name
        assert column.allowed_values == [0, 1]
        assert any("2 distinct values (0, 1)" in line for line in column.evidence)
    assert telco_table.column("tenure").semantic == SemanticType.numeric
    charges = telco_table.column("monthly_charges")
    assert charges.storage == StorageType.float and charges.decimals == 2


def test_telco_multiple_lines_fixes_phone_service(telco_table: Table) -> None:
    found = _combinations(telco_table)["multiple_lines -> phone_service"]
    assert found.mapping == {"No phone service": 0, "No": 1, "Yes": 1}
    assert found.source == "inferred"


def test_lending_club_open_installment_counts_are_ordered(
    lending_club: pd.DataFrame, lending_table: Table
) -> None:
    inequalities = _inequalities(lending_table)
    assert "open_il_12m <= open_il_24m" in inequalities
    found = inequalities["open_il_12m <= open_il_24m"]
    assert found.strict is False
    assert any("holds in 9,857/9,857 rows where both present" in line for line in found.evidence)
    # in this copy of the data open_il_6m is larger than open_il_12m in some rows, so the
    # chain open_il_6m <= open_il_12m must not be claimed
    assert (lending_club["open_il_6m"] > lending_club["open_il_12m"]).any()
    assert not {"open_il_6m <= open_il_12m", "open_il_6m < open_il_12m"} & set(inequalities)
    # ranges that do not overlap imply their order: no constraint for them
    assert "int_rate <= funded_amnt" not in inequalities
    assert "int_rate < funded_amnt" not in inequalities


def test_lending_club_codes_get_a_shape_pattern(
    lending_club: pd.DataFrame, lending_table: Table
) -> None:
    sub_grade = lending_table.column("sub_grade")
    assert sub_grade.pattern == "^[A-Z][0-9]$"
    term = lending_table.column("term")
    assert term.pattern == "^term_[0-9]{2}$"
    for name in ["sub_grade", "term"]:
        pattern = lending_table.column(name).pattern
        assert pattern is not None
        assert lending_club[name].str.fullmatch(pattern).all()
    # values of different shapes (emp_5, emp_ge_10, emp_unk) get no pattern
    assert lending_table.column("emp_length").pattern is None


def test_lending_club_count_columns_are_numeric(lending_table: Table) -> None:
    for name in ["delinq_2yrs", "inq_last_6mths", "open_il_12m", "open_il_24m"]:
        column = lending_table.column(name)
        assert column.semantic == SemanticType.numeric, name
        assert any("count" in line for line in column.evidence)


def test_credit_data_amount_at_most_price_and_whole_floats(datasets_dir: Path) -> None:
    table = infer_table(_read(datasets_dir, "credit_data"), "credit_data")
    inequalities = _inequalities(table)
    assert "Amount <= Price" in inequalities
    assert "Seniority < Age" in inequalities
    assert inequalities["Seniority < Age"].strict is True
    income = table.column("Income")
    assert income.storage == StorageType.float
    assert income.decimals == 0
    assert income.nullable is True
    assert table.column("Time").semantic == SemanticType.categorical


def test_titanic_small_counts_are_numeric_and_flags_categorical(datasets_dir: Path) -> None:
    table = infer_table(_read(datasets_dir, "titanic"), "titanic")
    sibsp = table.column("sibsp")
    assert sibsp.semantic == SemanticType.numeric
    assert any("count" in line for line in sibsp.evidence)
    assert table.column("survived").semantic == SemanticType.categorical
    assert table.column("class").semantic == SemanticType.categorical
    assert table.column("gender").allowed_values == ["female", "male"]


# ---------------------------------------------------------------------------------------------
# column types on made-up data


def test_date_strings_become_datetime_with_their_format() -> None:
    days = pd.date_range("2021-01-01", periods=200, freq="D")
    frame = pd.DataFrame(
        {
            "iso_day": days.strftime("%Y-%m-%d"),
            "european": days.strftime("%d/%m/%Y"),
            "stamp": days.strftime("%Y-%m-%d %H:%M:%S"),
            "real": days,
        }
    )
    table = infer_table(frame, "dates")
    iso = table.column("iso_day")
    assert (iso.storage, iso.semantic) == (StorageType.string, SemanticType.datetime)
    assert iso.datetime_format == "%Y-%m-%d"
    assert iso.minimum == "2021-01-01T00:00:00"
    assert iso.maximum == days[-1].isoformat()
    assert table.column("european").datetime_format == "%d/%m/%Y"
    assert table.column("stamp").datetime_format == "%Y-%m-%d %H:%M:%S"
    real = table.column("real")
    assert (real.storage, real.semantic) == (StorageType.datetime, SemanticType.datetime)
    assert real.datetime_format is None
    assert real.minimum == "2021-01-01T00:00:00"


def test_date_strings_need_almost_all_values_to_parse() -> None:
    values = [f"2021-01-{day:02d}" for day in range(1, 29)] * 3 + ["soon"] * 16
    table = infer_table(pd.DataFrame({"when": values}), "t")
    assert table.column("when").semantic != SemanticType.datetime


def test_datetime_columns_get_an_inequality() -> None:
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, 500), unit="D")
    end = start + pd.to_timedelta(rng.integers(1, 90, 500), unit="D")
    frame = pd.DataFrame({"ordered": start.strftime("%Y-%m-%d"), "shipped": end})
    table = infer_table(frame, "orders")
    found = _inequalities(table)
    assert "ordered < shipped" in found
    assert found["ordered < shipped"].strict is True


def test_emails_phones_urls_and_postal_codes() -> None:
    rows = 120
    frame = pd.DataFrame(
        {
            "contact": [f"user{i}@example{i % 7}.com" for i in range(rows)],
            "phone": [f"+1 (555) {100 + i:03d}-{1000 + i:04d}" for i in range(rows)],
            "homepage": [f"https://shop{i}.example.org/about" for i in range(rows)],
            "zip": [f"{10000 + 37 * i:05d}" for i in range(rows)],
            "postcode_uk": [f"SW{i % 9 + 1} {i % 10}AB" for i in range(rows)],
        }
    )
    table = infer_table(frame, "people")
    email = table.column("contact")
    assert email.semantic == SemanticType.email
    assert email.unique is True
    assert email.pattern is not None
    assert all(re.fullmatch(email.pattern, v) for v in frame["contact"])
    phone = table.column("phone")
    assert phone.semantic == SemanticType.phone
    assert phone.pattern is not None
    assert all(re.fullmatch(phone.pattern, v) for v in frame["phone"])
    assert table.column("homepage").semantic == SemanticType.url
    zip_code = table.column("zip")
    assert zip_code.semantic == SemanticType.postal_code
    assert zip_code.pattern == "^[0-9]{5}$"
    assert table.column("postcode_uk").semantic == SemanticType.postal_code


def test_plain_digit_strings_are_not_phones_without_a_telling_name() -> None:
    frame = pd.DataFrame({"reference": [f"{5550000000 + 17 * i}" for i in range(100)]})
    column = infer_table(frame, "t").column("reference")
    assert column.semantic != SemanticType.phone
    assert column.pattern == "^[0-9]{10}$"


def test_ids_integer_string_and_uuid() -> None:
    rows = 200
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "row_number": np.arange(1_000, 1_000 + rows),
            "customer_code": [f"C{i:05d}" for i in rng.permutation(rows)],
            "token": [f"{i:08x}-1234-4abc-8def-{i * 7919:012x}" for i in rng.permutation(rows)],
            "tail": [f"N{i:03d}{'AB'[i % 2]}" for i in rng.permutation(rows)],
            "title": [f"Dr Who {i}" for i in range(rows)],
            "weight": rng.normal(70, 10, rows),
            "score": rng.permutation(rows) * 1_000 + 5,
        }
    )
    table = infer_table(frame, "customers")
    row_number = table.column("row_number")
    assert row_number.semantic == SemanticType.id
    assert row_number.unique is True
    assert any("consecutive" in line for line in row_number.evidence)
    assert table.primary_key == ["row_number"]
    code = table.column("customer_code")
    assert code.semantic == SemanticType.id
    assert any("named like an id" in line for line in code.evidence)
    assert code.pattern == "^C[0-9]{5}$"
    assert table.column("token").semantic == SemanticType.id
    # unique short codes are keys even without an id-like name (a plane's tail number);
    # unique phrases with spaces are not
    tail = table.column("tail")
    assert tail.semantic == SemanticType.id
    assert any("code-like" in line for line in tail.evidence)
    assert table.column("title").semantic == SemanticType.text
    weight = table.column("weight")
    assert weight.semantic == SemanticType.numeric  # a unique float is not an id
    assert weight.unique is False
    # unique integers spread far apart, with no id-like name, are a measure
    assert table.column("score").semantic == SemanticType.numeric


def test_empty_constant_and_mixed_columns() -> None:
    frame = pd.DataFrame(
        {
            "nothing": [None] * 6,
            "nothing_float": [np.nan] * 6,
            "always": ["x"] * 6,
            "mixed": [1, "two", 3.5, None, "five", 6],
            "maybe_int": pd.Series([1, 2, None, 4, 5, 6], dtype=object),
            "flag": [True, False, True, True, False, True],
        }
    )
    table = infer_table(frame, "edge")
    nothing = table.column("nothing")
    assert nothing.semantic == SemanticType.empty
    assert nothing.null_fraction == 1.0 and nothing.nullable is True
    assert table.column("nothing_float").semantic == SemanticType.empty
    assert table.column("nothing_float").storage == StorageType.float
    always = table.column("always")
    assert always.semantic == SemanticType.constant
    assert always.allowed_values == ["x"]
    mixed = table.column("mixed")
    assert mixed.storage == StorageType.string
    assert any("mixed value types" in line for line in mixed.evidence)
    assert table.column("maybe_int").storage == StorageType.integer
    flag = table.column("flag")
    assert (flag.storage, flag.semantic) == (StorageType.boolean, SemanticType.boolean)


def test_free_text_and_decimals() -> None:
    rng = np.random.default_rng(5)
    words = ["quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "again", "today"]
    notes = [" ".join(rng.choice(words, 12)) + f" #{i}" for i in range(300)]
    frame = pd.DataFrame(
        {
            "note": notes,
            "price": np.round(rng.uniform(1, 100, 300), 2),
            "ratio": rng.uniform(0, 1, 300),
        }
    )
    table = infer_table(frame, "notes")
    note = table.column("note")
    assert note.semantic == SemanticType.text
    assert note.pattern is None
    assert table.column("price").decimals == 2
    assert table.column("ratio").decimals == 10


def test_integer_codes_versus_counts() -> None:
    rng = np.random.default_rng(9)
    rows = 2_000
    frame = pd.DataFrame(
        {
            "region_code": rng.integers(1, 8, rows),
            "children": rng.poisson(0.7, rows),
            "small_sample_age": np.arange(rows) % 300,
        }
    )
    table = infer_table(frame, "codes")
    region = table.column("region_code")
    assert region.semantic == SemanticType.categorical
    assert region.allowed_values == list(range(1, 8))
    children = table.column("children")
    assert children.semantic == SemanticType.numeric
    assert any("count" in line for line in children.evidence)
    assert table.column("small_sample_age").semantic == SemanticType.numeric


def test_few_rows_of_a_measure_are_not_categorical() -> None:
    frame = pd.DataFrame({"age": [23, 35, 41, 52, 29, 61, 33, 47]})
    column = infer_table(frame, "t").column("age")
    assert column.semantic == SemanticType.numeric
    assert column.minimum == 23 and column.maximum == 61


def test_zero_rows_and_zero_columns_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"table 'empty'.*0 rows"):
        infer_table(pd.DataFrame({"a": pd.Series([], dtype="int64")}), "empty")
    with pytest.raises(ValueError, match=r"table 'bare'.*no columns"):
        infer_table(pd.DataFrame(index=range(3)), "bare")


def test_three_hundred_columns_are_fast() -> None:
    rng = np.random.default_rng(11)
    rows = 10_000
    columns: dict[str, object] = {}
    for i in range(100):
        columns[f"measure_{i}"] = rng.normal(i, 10, rows)
        columns[f"level_{i}"] = rng.integers(0, 5 + i, rows)
        columns[f"label_{i}"] = rng.choice(["alpha", "beta", "gamma", "delta"][: 2 + i % 3], rows)
    frame = pd.DataFrame(columns)
    started = time.perf_counter()
    table = infer_table(frame, "wide")
    elapsed = time.perf_counter() - started
    assert len(table.columns) == 300
    assert elapsed < 5.0, f"inference of 300 columns took {elapsed:.1f}s"


# ---------------------------------------------------------------------------------------------
# constraints


def _ordered_frame(rows: int = 400, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 100, rows)
    return pd.DataFrame(
        {
            "low": low,
            "high": low + rng.uniform(0, 50, rows),
            "copy": low,
            "far": rng.uniform(1_000, 2_000, rows),
        }
    )


def test_inequality_found_when_it_always_holds_and_not_for_copies_or_far_ranges() -> None:
    table = infer_table(_ordered_frame(), "t")
    found = _inequalities(table)
    # low and its copy are equal in every row (an identity, not an inequality); far's range
    # lies above the others, which implies the order without saying anything
    assert set(found) == {"low < high", "copy < high"}
    only = found["low < high"]
    assert only.strict is True
    assert any("holds in 400/400 rows where both present" in line for line in only.evidence)


def test_clock_times_written_as_hhmm_are_compared_only_with_each_other(
    datasets_dir: Path,
) -> None:
    """nycflights13: air_time (minutes) never exceeds sched_dep_time (hhmm) in the real rows,
    which means nothing; two hhmm columns in order keep their inequality."""
    flights = pd.read_parquet(datasets_dir / "nycflights13" / "flights.parquet").head(20_000)
    found = _inequalities(infer_table(flights, "flights"))
    assert not any("sched_dep_time" in pair or "dep_time" in pair for pair in found), found
    rng = np.random.default_rng(3)
    opens = rng.integers(6, 12, 500) * 100 + rng.integers(0, 60, 500)
    closes = opens + rng.integers(1, 6, 500) * 100
    # minutes below the opening hhmm in every row, as air_time is below sched_dep_time
    minutes = np.round(opens * rng.uniform(0.3, 0.9, 500))
    frame = pd.DataFrame({"opens": opens, "closes": closes, "minutes": minutes})
    assert set(_inequalities(infer_table(frame, "shops"))) == {"opens < closes"}


def test_inequality_is_verified_on_every_row_not_just_the_sample() -> None:
    frame = _ordered_frame(rows=3_000)
    frame.loc[2_999, "high"] = frame.loc[2_999, "low"] - 1.0
    sampled = InferenceOptions(sample_rows=200, random_state=0)
    table = infer_table(frame, "t", options=sampled)
    assert not _inequalities(table)


def test_inequality_ignores_rows_with_a_null() -> None:
    frame = _ordered_frame()
    frame.loc[:20, "high"] = np.nan
    frame.loc[30:40, "low"] = np.nan
    table = infer_table(frame, "t")
    only = _inequalities(table)["low < high"]
    assert any("holds in 368/368 rows where both present" in line for line in only.evidence)


def test_constraint_discovery_can_be_switched_off() -> None:
    options = InferenceOptions(discover_constraints=False)
    assert infer_table(_ordered_frame(), "t", options=options).constraints == []


def test_fixed_combination_needs_repetition_not_coincidence() -> None:
    rng = np.random.default_rng(4)
    city = rng.choice(["Paris", "Lyon", "Austin", "Dallas", "Quebec"], 600)
    state = {"Paris": "FR", "Lyon": "FR", "Austin": "TX", "Dallas": "TX", "Quebec": "QC"}
    frame = pd.DataFrame(
        {
            "city": city,
            "country": [state[c] for c in city],
            "coin": rng.choice(["heads", "tails"], 600),
        }
    )
    # a rare feature whose singleton values happen to match a singleton outcome
    frame["feature"] = pd.Series([None] * 600, dtype="string")
    frame["outcome"] = "none"
    frame.loc[:40, "feature"] = "shed"
    frame.loc[41, "feature"] = "tennis"
    frame.loc[41, "outcome"] = "court"
    table = infer_table(frame, "places")
    found = _combinations(table)
    assert "city -> country" in found
    assert found["city -> country"].mapping == state
    assert "country -> city" not in found
    assert not any("coin" in name for name in found)
    assert "feature -> outcome" not in found


def test_fixed_combination_counts_a_null_dependent_as_a_value() -> None:
    rows = 300
    plan = np.array(["none", "basic", "premium"] * (rows // 3))
    frame = pd.DataFrame(
        {
            "plan": plan,
            # no plan, no support level; otherwise the level is fixed by the plan
            "support": pd.Series(
                np.where(plan == "none", None, np.where(plan == "basic", "email", "phone")),
                dtype="string",
            ),
            "tier": pd.Series(np.where(plan == "premium", "gold", "std"), dtype="string"),
        }
    )
    frame.loc[1, "tier"] = None  # a null inside a group breaks plan -> tier as checks read it
    found = _combinations(infer_table(frame, "plans"))
    assert found["plan -> support"].mapping == {"none": None, "basic": "email", "premium": "phone"}
    assert "plan -> tier" not in found


def test_fixed_combination_ignores_a_determinant_seen_once_per_value() -> None:
    frame = pd.DataFrame(
        {"code": [f"k{i}" for i in range(50)], "group": ["a", "b"] * 25, "pad": ["x", "y"] * 25}
    )
    table = infer_table(frame, "t", options=InferenceOptions())
    assert not any(c.determinant == "code" for c in _combinations(table).values())


# ---------------------------------------------------------------------------------------------
# declarations


def test_declared_fields_beat_inferred_ones(datasets_dir: Path) -> None:
    frame = _read(datasets_dir, "titanic", 1_000)
    declaration = TableDeclaration(
        columns=[
            ColumnDeclaration(name="sibsp", semantic=SemanticType.categorical),
            ColumnDeclaration(name="fare", minimum=0, maximum=600, nullable=True),
            ColumnDeclaration(name="embarked", allowed_values=None),
        ]
    )
    table = infer_table(frame, "titanic", declaration=declaration)
    sibsp = table.column("sibsp")
    assert sibsp.semantic == SemanticType.categorical
    assert sibsp.source == "declared"
    # derived from the data for the declared meaning
    assert sibsp.allowed_values == sorted(frame["sibsp"].unique().tolist())
    assert sibsp.minimum is None
    fare = table.column("fare")
    assert (fare.minimum, fare.maximum, fare.nullable) == (0, 600, True)
    assert any("declared by the user" in line for line in fare.evidence)
    assert table.column("embarked").allowed_values is None
    assert table.column("gender").source == "inferred"
    # sibsp is no longer numeric, so no inequality may use it
    assert not any("sibsp" in name for name in _inequalities(table))


def test_unknown_declared_column_is_a_clear_error() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    declaration = TableDeclaration(columns=[ColumnDeclaration(name="b", nullable=False)])
    with pytest.raises(ValueError, match=r"table 'shop'.*declared column 'b' not in the data"):
        infer_table(frame, "shop", declaration=declaration)
    inferred = infer_table(frame, "shop")
    with pytest.raises(ValueError, match=r"table 'shop'.*'b'"):
        merge_declaration(inferred, declaration)
    bad_constraint = TableDeclaration(constraints=[Inequality(low="a", high="zz")])
    with pytest.raises(ValueError, match=r"table 'shop'.*column 'zz'"):
        merge_declaration(inferred, bad_constraint)


def test_declared_constraint_replaces_a_contradicting_inferred_one(
    lending_table: Table, lending_club: pd.DataFrame
) -> None:
    declared = Inequality(low="open_il_24m", high="open_il_12m")
    declaration = TableDeclaration(
        constraints=[declared],
        rules=[Rule(name="positive", expression="funded_amnt > 0", source="inferred")],
    )
    merged = merge_declaration(lending_table, declaration)
    found = _inequalities(merged)
    assert "open_il_12m <= open_il_24m" not in found
    assert found["open_il_24m <= open_il_12m"].source == "declared"
    assert any("supersedes" in line for line in found["open_il_24m <= open_il_12m"].evidence)
    # the other inferred constraints stay
    assert "open_il_24m <= num_il_tl" in found
    assert merged.rules[0].source == "declared"
    # with the data at hand the declaration is told how far it holds
    with_data = infer_table(lending_club, "lending_club", declaration=declaration)
    line = next(
        line
        for line in _inequalities(with_data)["open_il_24m <= open_il_12m"].evidence
        if "in the data" in line
    )
    held, total = (int(x.replace(",", "")) for x in re.findall(r"[\d,]+", line)[:2])
    assert total == len(lending_club)
    assert held == int((lending_club["open_il_24m"] <= lending_club["open_il_12m"]).sum())


def test_declared_primary_key_wins_and_is_not_null() -> None:
    frame = pd.DataFrame(
        {"id": range(30), "label": [f"item {i}" for i in range(30)], "v": [1.5] * 30}
    )
    inferred = infer_table(frame, "t")
    assert inferred.primary_key == ["id"]
    assert inferred.column("label").unique is False  # too few rows to claim it
    merged = merge_declaration(inferred, TableDeclaration(primary_key=["label"]))
    assert merged.primary_key == ["label"]
    key = merged.column("label")
    assert key.unique is True and key.nullable is False
    assert any("declared primary key" in line for line in key.evidence)
    assert any("instead" in line for line in merged.column("id").evidence)


def test_merge_without_declarations_changes_nothing(adult_table: Table) -> None:
    assert merge_declaration(adult_table, TableDeclaration()) == adult_table


# ---------------------------------------------------------------------------------------------
# the contract with the validator: the data a schema was inferred from passes all its checks


@pytest.mark.parametrize(
    ("dataset", "rows"),
    [
        ("adult", 3_000),
        ("telco_churn", 3_000),
        ("lending_club", 3_000),
        ("credit_data", None),
        ("titanic", None),
    ],
)
def test_source_data_passes_every_inferred_check(
    datasets_dir: Path, dataset: str, rows: int | None
) -> None:
    from synthtab.tools.constraints import validate_table

    frame = _read(datasets_dir, dataset, rows)
    table = infer_table(frame, dataset)
    result = validate_table(frame, table)
    failing = [(c.name, c.violations) for c in result.checks if c.violations]
    assert failing == []
    assert result.violating_rows == 0


def test_made_up_edge_cases_pass_every_inferred_check() -> None:
    from synthtab.tools.constraints import validate_table

    days = pd.date_range("2022-03-01", periods=60, freq="D")
    frame = pd.DataFrame(
        {
            "order_id": range(60),
            "placed": days.strftime("%d/%m/%Y"),
            "email": [f"buyer{i}@shop.example" for i in range(60)],
            "mixed": [1, "a", 2.5, None] * 15,
            "nothing": [None] * 60,
            "always": [7] * 60,
            "amount": np.linspace(1.25, 99.5, 60),
        }
    )
    table = infer_table(frame, "orders")
    assert [c.semantic for c in table.columns] == [
        SemanticType.id,
        SemanticType.datetime,
        SemanticType.email,
        SemanticType.categorical,  # three levels, stored as text: "1", "a", "2.5"
        SemanticType.empty,
        SemanticType.constant,
        SemanticType.numeric,
    ]
    assert validate_table(frame, table).violating_rows == 0
