"""The Gaussian copula: marginals, dependence, column kinds, conditioning, scale."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from synthtab.models import GaussianCopulaSynthesizer
from synthtab.schema import Column, SemanticType, StorageType, Table

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def _column(name: str, storage: str, semantic: str, **extra: Any) -> Column:
    return Column(name=name, storage=StorageType(storage), semantic=SemanticType(semantic), **extra)


def _table(name: str, columns: list[Column]) -> Table:
    return Table(name=name, columns=columns)


def _adult_table(data: pd.DataFrame) -> Table:
    columns = [
        _column(name, "integer", "numeric")
        if pd.api.types.is_integer_dtype(data[name].dtype)
        else _column(name, "string", "categorical")
        for name in data.columns
    ]
    return _table("adult", columns)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    path = DATASETS / "adult.parquet"
    if not path.exists():
        pytest.skip("development datasets not available")
    return pd.read_parquet(path)


@pytest.fixture(scope="module")
def adult_model(adult: pd.DataFrame) -> GaussianCopulaSynthesizer:
    return GaussianCopulaSynthesizer().fit(adult, _adult_table(adult), seed=0)


@pytest.fixture(scope="module")
def adult_sample(adult_model: GaussianCopulaSynthesizer) -> pd.DataFrame:
    return adult_model.sample(5000, seed=1)


# -- real data ---------------------------------------------------------------------------------


def test_adult_marginals_are_close(adult: pd.DataFrame, adult_sample: pd.DataFrame) -> None:
    for name in adult.select_dtypes("number").columns:
        assert ks_2samp(adult[name], adult_sample[name]).statistic < 0.05, name
    for name in adult.select_dtypes("string").columns:
        real = adult[name].value_counts(normalize=True)
        synthetic = adult_sample[name].value_counts(normalize=True)
        total_variation = 0.5 * real.sub(synthetic, fill_value=0.0).abs().sum()
        assert total_variation < 0.05, name
    assert adult_sample.dtypes.to_dict() == adult.dtypes.to_dict()


def test_adult_dependence_is_preserved(adult: pd.DataFrame, adult_sample: pd.DataFrame) -> None:
    def age_gap(frame: pd.DataFrame) -> float:
        means = frame.groupby("marital-status")["age"].mean()
        return float(means["Married-civ-spouse"] - means["Never-married"])

    def hours_gap(frame: pd.DataFrame) -> float:
        means = frame.groupby("gender")["hours-per-week"].mean()
        return float(means["Male"] - means["Female"])

    def rich_share(frame: pd.DataFrame, gender: str) -> float:
        return float((frame.loc[frame["gender"] == gender, "income"] == ">50K").mean())

    # a nominal column's link to a number (married people are ~15 years older)
    assert age_gap(adult_sample) == pytest.approx(age_gap(adult), abs=3.0)
    assert hours_gap(adult_sample) == pytest.approx(hours_gap(adult), abs=1.5)
    # two nominal columns (31% of men and 11% of women earn >50K)
    assert rich_share(adult_sample, "Female") == pytest.approx(
        rich_share(adult, "Female"), abs=0.04
    )
    assert rich_share(adult_sample, "Male") == pytest.approx(rich_share(adult, "Male"), abs=0.04)
    real = adult.select_dtypes("number").corr(method="spearman")
    synthetic = adult_sample.select_dtypes("number").corr(method="spearman")
    assert (real - synthetic).abs().to_numpy().max() < 0.1


def test_adult_fit_and_100k_rows_are_fast(adult: pd.DataFrame) -> None:
    started = time.perf_counter()
    model = GaussianCopulaSynthesizer().fit(adult, _adult_table(adult), seed=2)
    synthetic = model.sample(100_000, seed=3)
    assert time.perf_counter() - started < 20.0
    assert len(synthetic) == 100_000


def test_conditioning_follows_the_learned_dependence(
    adult: pd.DataFrame, adult_model: GaussianCopulaSynthesizer
) -> None:
    n = 2000
    women = adult_model.sample(n, seed=4, conditions=pd.DataFrame({"gender": ["Female"] * n}))
    men = adult_model.sample(n, seed=4, conditions=pd.DataFrame({"gender": ["Male"] * n}))
    assert (women["gender"] == "Female").all() and (men["gender"] == "Male").all()
    assert (women["income"] == ">50K").mean() < (men["income"] == ">50K").mean() - 0.1

    young = adult_model.sample(n, seed=5, conditions=pd.DataFrame({"age": [22] * n}))
    older = adult_model.sample(n, seed=5, conditions=pd.DataFrame({"age": [50] * n}))
    assert (young["age"] == 22).all() and young["age"].dtype == adult["age"].dtype
    never_married = young["marital-status"] == "Never-married"
    assert never_married.mean() > (older["marital-status"] == "Never-married").mean() + 0.3


def test_bad_conditions_are_refused_clearly(adult_model: GaussianCopulaSynthesizer) -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        adult_model.sample(3, conditions=pd.DataFrame({"gender": ["Female", "Robot", "Male"]}))
    with pytest.raises(ValueError, match="unknown column"):
        adult_model.sample(2, conditions=pd.DataFrame({"planet": ["Mars", "Venus"]}))
    with pytest.raises(ValueError, match="one per sampled row"):
        adult_model.sample(5, conditions=pd.DataFrame({"age": [30, 40]}))
    with pytest.raises(ValueError, match="never null"):
        adult_model.sample(2, conditions=pd.DataFrame({"age": [30.0, None]}))


# -- dependence, in isolation ------------------------------------------------------------------


def test_binary_and_ordinal_columns_keep_their_association() -> None:
    """Ties attenuate score correlations; the fitted latent correlation must undo that."""
    rng = np.random.default_rng(0)
    latent = rng.multivariate_normal(
        [0, 0, 0], [[1, 0.6, 0.5], [0.6, 1, 0.4], [0.5, 0.4, 1]], 20_000
    )
    data = pd.DataFrame(
        {
            "smoker": np.where(latent[:, 0] > 0.3, "yes", "no"),
            "sick": (latent[:, 1] > 0.8).astype(np.int64),
            "grade": np.digitize(latent[:, 2], [-1.0, 0.0, 1.0]).astype(np.int64),
        }
    ).astype({"smoker": "string"})
    table = _table(
        "binary",
        [
            _column("smoker", "string", "categorical"),
            _column("sick", "integer", "numeric"),
            _column("grade", "integer", "numeric"),
        ],
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=1).sample(20_000, seed=2)

    def associations(frame: pd.DataFrame) -> np.ndarray:
        coded = frame.assign(smoker=(frame["smoker"] == "yes").astype(int))
        return coded.corr().to_numpy()[np.triu_indices(3, 1)]

    np.testing.assert_allclose(associations(synthetic), associations(data), atol=0.04)


def test_missingness_is_correlated_with_other_columns() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    salary = rng.lognormal(10, 0.4, n).round(0)
    bonus = (salary * rng.uniform(0.05, 0.2, n)).round(2)
    # bonuses are mostly recorded for the higher salaries
    bonus[rng.random(n) < np.where(salary > np.median(salary), 0.1, 0.7)] = np.nan
    data = pd.DataFrame({"salary": salary, "bonus": bonus})
    table = _table(
        "pay", [_column("salary", "float", "numeric"), _column("bonus", "float", "numeric")]
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=1).sample(n, seed=2)
    high = synthetic["salary"] > np.median(salary)
    assert synthetic["bonus"].isna().mean() == pytest.approx(data["bonus"].isna().mean(), abs=0.03)
    assert synthetic["bonus"][~high].isna().mean() > synthetic["bonus"][high].isna().mean() + 0.4
    present = synthetic.dropna()
    assert present["salary"].corr(present["bonus"], method="spearman") > 0.6


# -- column kinds ------------------------------------------------------------------------------


def test_numeric_columns_keep_their_kind_of_values() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    data = pd.DataFrame(
        {
            "rooms": rng.choice([1, 2, 3, 5, 8], n),  # few distinct integers
            "visits": rng.poisson(400, n),  # many distinct integers
            "price": rng.gamma(2.0, 30.0, n).round(2),
            "weight": rng.normal(70, 10, n).round(3),
        }
    )
    table = _table(
        "kinds",
        [
            _column("rooms", "integer", "numeric"),
            _column("visits", "integer", "numeric"),
            _column("price", "float", "numeric"),
            _column("weight", "float", "numeric", decimals=1),
        ],
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=0).sample(n, seed=1)
    assert set(synthetic["rooms"]) <= {1, 2, 3, 5, 8}
    assert synthetic["visits"].dtype == np.int64
    assert synthetic["visits"].nunique() > 50
    assert (synthetic["price"] == synthetic["price"].round(2)).all()
    assert (synthetic["price"] != synthetic["price"].round(1)).any()
    assert (synthetic["weight"] == synthetic["weight"].round(1)).all()
    for name in data.columns:
        assert data[name].min() <= synthetic[name].min()
        assert synthetic[name].max() <= data[name].max()
        assert ks_2samp(data[name], synthetic[name]).statistic < 0.05, name


def test_high_cardinality_categorical_is_fast_and_faithful(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 40_000
    names = np.array([f"product-{i:05d}" for i in range(5000)])
    weights = 1.0 / np.arange(1, 5001) ** 0.8
    chosen = rng.choice(5000, n, p=weights / weights.sum())
    data = pd.DataFrame(
        {
            "product": pd.Series(names[chosen], dtype="string"),
            "price": (10 + chosen * 0.01 + rng.normal(0, 1, n)).round(2),
        }
    )
    table = _table(
        "orders",
        [_column("product", "string", "categorical"), _column("price", "float", "numeric")],
    )
    started = time.perf_counter()
    model = GaussianCopulaSynthesizer().fit(data, table, seed=0)
    synthetic = model.sample(n, seed=1)
    assert time.perf_counter() - started < 10.0
    assert synthetic["product"].dtype == data["product"].dtype
    assert set(synthetic["product"]) <= set(data["product"])
    assert synthetic["product"].nunique() > 0.8 * data["product"].nunique()
    top = data["product"].value_counts(normalize=True).head(20)
    synthetic_top = synthetic["product"].value_counts(normalize=True).reindex(top.index)
    np.testing.assert_allclose(synthetic_top.to_numpy(), top.to_numpy(), atol=0.005)
    path = tmp_path / "model.zip"
    model.save(path)
    assert path.stat().st_size < 500_000


def test_datetimes_keep_resolution_format_and_dependence() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    signup = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 2500, n), unit="D")
    last_seen = signup + pd.to_timedelta(rng.integers(0, 200 * 24, n), unit="h")
    data = pd.DataFrame(
        {
            "signup": pd.Series(signup).astype("datetime64[s]"),
            "last_seen": pd.Series(last_seen).dt.tz_localize("UTC"),
            "birthday": pd.Series(
                pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 18000, n), "D")
            ).dt.strftime("%d/%m/%Y"),
            "tenure_days": (pd.Timestamp("2024-01-01") - signup).days.to_numpy(),
        }
    )
    data.loc[rng.random(n) < 0.05, "birthday"] = pd.NA
    table = _table(
        "accounts",
        [
            _column("signup", "datetime", "datetime"),
            _column("last_seen", "datetime", "datetime"),
            _column("birthday", "string", "datetime", datetime_format="%d/%m/%Y"),
            _column("tenure_days", "integer", "numeric"),
        ],
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=0).sample(n, seed=1)
    assert synthetic.dtypes.to_dict() == data.dtypes.to_dict()
    # dates stay dates (midnight), hourly stamps stay on the hour
    assert (synthetic["signup"] == synthetic["signup"].dt.normalize()).all()
    assert (synthetic["last_seen"] == synthetic["last_seen"].dt.floor("h")).all()
    for name in ("signup", "last_seen"):
        assert data[name].min() <= synthetic[name].min()
        assert synthetic[name].max() <= data[name].max()
    birthdays = synthetic["birthday"].dropna()
    assert birthdays.str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    parsed = pd.to_datetime(birthdays, format="%d/%m/%Y")
    assert parsed.min() >= pd.Timestamp("1950-01-01")
    assert synthetic["birthday"].isna().mean() == pytest.approx(0.05, abs=0.02)
    days = (synthetic["signup"] - synthetic["signup"].min()).dt.days
    assert days.corr(synthetic["tenure_days"]) < -0.95
    seen_days = (synthetic["last_seen"] - synthetic["last_seen"].min()).dt.days
    assert seen_days.corr(days) > 0.9


def test_id_columns_are_fresh_unique_and_look_like_the_source() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    data = pd.DataFrame(
        {
            "row_id": np.arange(5000, 5000 + n) * 3,
            "customer": [f"CUST-{i:07d}" for i in rng.choice(10**6, n, replace=False)],
            "token": [
                "-".join(
                    [
                        "".join(rng.choice(list("0123456789abcdef"), size))
                        for size in (8, 4, 4, 4, 12)
                    ]
                )
                for _ in range(n)
            ],
            "amount": rng.normal(100, 10, n).round(2),
        }
    )
    table = _table(
        "ids",
        [
            _column("row_id", "integer", "id"),
            _column("customer", "string", "id"),
            _column("token", "string", "id"),
            _column("amount", "float", "numeric"),
        ],
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=0).sample(3000, seed=1)
    assert synthetic["row_id"].tolist() == list(range(15000, 18000))
    assert synthetic["customer"].str.fullmatch(r"CUST-\d{7}").all()
    assert synthetic["token"].str.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}").all()
    for name in ("row_id", "customer", "token"):
        assert synthetic[name].is_unique, name
    assert not set(synthetic["token"]) & set(data["token"])


def test_constant_and_all_null_columns() -> None:
    n = 500
    values = np.random.default_rng(6).normal(size=n)
    data = pd.DataFrame(
        {
            "value": values,
            "currency": pd.Series(["EUR"] * n, dtype="string"),
            "version": np.full(n, 3, dtype=np.int64),
            "comment": pd.Series([None] * n, dtype="object"),
            "score": np.full(n, np.nan),
        }
    )
    table = _table(
        "constants",
        [
            _column("value", "float", "numeric"),
            _column("currency", "string", "categorical"),  # one value: treated as constant
            _column("version", "integer", "constant"),
            _column("comment", "string", "empty"),
            _column("score", "float", "numeric"),  # all null: treated as empty
        ],
    )
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=0).sample(200, seed=1)
    assert (synthetic["currency"] == "EUR").all()
    assert (synthetic["version"] == 3).all() and synthetic["version"].dtype == np.int64
    assert synthetic["comment"].isna().all() and synthetic["score"].isna().all()
    assert synthetic.dtypes.to_dict() == data.dtypes.to_dict()


def test_null_conditions_fix_missingness() -> None:
    rng = np.random.default_rng(7)
    n = 1000
    income = rng.normal(50, 10, n).round(1)
    income[rng.random(n) < 0.3] = np.nan
    data = pd.DataFrame({"income": income, "age": rng.integers(18, 70, n)})
    table = _table(
        "people", [_column("income", "float", "numeric"), _column("age", "integer", "numeric")]
    )
    model = GaussianCopulaSynthesizer().fit(data, table, seed=0)
    conditions = pd.DataFrame({"income": [np.nan] * 50 + [42.5] * 50})
    synthetic = model.sample(100, seed=1, conditions=conditions)
    assert synthetic["income"][:50].isna().all()
    assert (synthetic["income"][50:] == 42.5).all()
    assert not synthetic["age"].isna().any()


# -- scale and storage -------------------------------------------------------------------------


def test_three_hundred_columns() -> None:
    rng = np.random.default_rng(8)
    n, width = 2000, 300
    factor = rng.normal(size=(n, 1))
    data = pd.DataFrame(
        (0.7 * factor + 0.7 * rng.normal(size=(n, width))).round(3),
        columns=[f"x{i:03d}" for i in range(width)],
    )
    table = _table("wide", [_column(name, "float", "numeric") for name in data.columns])
    started = time.perf_counter()
    synthetic = GaussianCopulaSynthesizer().fit(data, table, seed=0).sample(n, seed=1)
    assert time.perf_counter() - started < 30.0
    assert synthetic.shape == (n, width)
    real_mean_corr = data.corr().to_numpy()[np.triu_indices(width, 1)].mean()
    synthetic_mean_corr = synthetic.corr().to_numpy()[np.triu_indices(width, 1)].mean()
    assert synthetic_mean_corr == pytest.approx(real_mean_corr, abs=0.05)


def test_load_refuses_files_that_are_not_a_saved_copula(tmp_path: Path) -> None:
    not_zip = tmp_path / "plain.txt"
    not_zip.write_text("hello")
    with pytest.raises(ValueError, match="not a saved"):
        GaussianCopulaSynthesizer.load(not_zip)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("meta.json", '{"format": "something-else", "version": 1}')
        archive.writestr("arrays.npz", b"")
    with pytest.raises(ValueError, match="something-else"):
        GaussianCopulaSynthesizer.load(other)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        GaussianCopulaSynthesizer(max_knotz=10)
    assert GaussianCopulaSynthesizer(max_knots=50).settings()["max_knots"] == 50
