"""One test template that every registered model must pass (synthcity-style).

Each test runs once per name in ``available_models()``: a new model plugs into the registry and
is checked here with no new test code. A model too slow for these small tables with its default
settings may name faster ones in ``_FAST_SETTINGS``. What a model declares it can do beyond the
interface (``model_capabilities``: conditioning) is held both ways: a model that says it
conditions must, and one that says it cannot must refuse; nothing is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthtab.dp.schema_release import PrivateSynthesizer, table_with_domains
from synthtab.models import Synthesizer, available_models, get_model, load_model, model_class
from synthtab.models.registry import model_capabilities
from synthtab.schema import Column, SemanticType, StorageType, Table

_FAST_SETTINGS: dict[str, dict[str, Any]] = {
    "argn": {"max_epochs": 20, "batch_size": 128, "hidden_size": 64},
    # the template's exact checks (no stray nulls, ranges as seen) hold for a DP model only
    # where its noise is small: a large epsilon here; tests/dp/test_marginal_models.py tests small ones
    "dp_mst": {"epsilon": 100.0},
    "dp_copula": {"epsilon": 100.0},
    "dp_argn": {"epsilon": 100.0, "max_steps": 30},
}
_ROWS = 1500


def _column(name: str, storage: str, semantic: str, **extra: Any) -> Column:
    return Column(name=name, storage=StorageType(storage), semantic=SemanticType(semantic), **extra)


def _mixed_table() -> tuple[pd.DataFrame, Table]:
    """A small table with every kind of column a model must handle, nulls included."""
    rng = np.random.default_rng(7)
    n = _ROWS
    age = rng.integers(18, 80, n)
    income = np.round(20_000 + 800 * age + rng.normal(0, 8_000, n), 2)
    income[rng.random(n) < 0.15] = np.nan
    segment = np.where(age > 55, "senior", np.where(rng.random(n) < 0.6, "basic", "plus"))
    segment_values = pd.Series(segment, dtype="string")
    segment_values[rng.random(n) < 0.1] = pd.NA
    data = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(1001, 1001 + n)],
            "age": age,
            "income": income,
            "children": rng.choice([0, 1, 2, 3], n, p=[0.4, 0.3, 0.2, 0.1]),
            "segment": segment_values,
            "active": rng.random(n) < 0.7,
            "signup": pd.Timestamp("2018-01-01")
            + pd.to_timedelta(rng.integers(0, 2_000, n), unit="D"),
            "country": pd.Series(["NL"] * n, dtype="string"),
            "notes": pd.Series([pd.NA] * n, dtype="string"),
        }
    )
    table = Table(
        name="customers",
        primary_key=["customer_id"],
        columns=[
            _column("customer_id", "string", "id", unique=True),
            _column("age", "integer", "numeric"),
            _column("income", "float", "numeric", decimals=2),
            _column("children", "integer", "numeric"),
            _column("segment", "string", "categorical"),
            _column("active", "boolean", "boolean"),
            _column("signup", "datetime", "datetime"),
            _column("country", "string", "constant"),
            _column("notes", "string", "empty"),
        ],
    )
    return data, table


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, Table]:
    return _mixed_table()


@pytest.fixture(scope="module", params=available_models())
def fitted(request: pytest.FixtureRequest, training: tuple[pd.DataFrame, Table]) -> Synthesizer:
    data, table = training
    model = get_model(request.param, **_FAST_SETTINGS.get(request.param, {}))
    return model.fit(data, table, seed=3)


def test_registry_lists_the_copula_and_rejects_unknown_names() -> None:
    assert "gaussian_copula" in available_models()
    with pytest.raises(ValueError, match="gaussian_copula"):
        get_model("no_such_model")


@pytest.mark.parametrize("name", available_models())
def test_model_class_matches_its_name(name: str) -> None:
    cls = model_class(name)
    assert issubclass(cls, Synthesizer)
    assert cls.name == name


@pytest.mark.parametrize("name", available_models())
def test_sampling_before_fitting_is_refused(name: str) -> None:
    with pytest.raises(RuntimeError):
        get_model(name).sample(5)


def test_sample_has_the_tables_columns_order_and_dtypes(
    fitted: Synthesizer, training: tuple[pd.DataFrame, Table]
) -> None:
    data, table = training
    synthetic = fitted.sample(700, seed=1)
    assert synthetic.shape == (700, len(table.columns))
    assert list(synthetic.columns) == table.column_names
    assert synthetic.dtypes.to_dict() == data[table.column_names].dtypes.to_dict()
    assert isinstance(synthetic.index, pd.RangeIndex)
    assert fitted.sample(0, seed=1).shape == (0, len(table.columns))


def test_same_seed_gives_the_same_rows_and_another_seed_other_rows(fitted: Synthesizer) -> None:
    first = fitted.sample(400, seed=11)
    pd.testing.assert_frame_equal(first, fitted.sample(400, seed=11))
    other = fitted.sample(400, seed=12)
    assert not first.drop(columns=["customer_id"]).equals(other.drop(columns=["customer_id"]))


def test_settings_are_json_and_rebuild_the_model(fitted: Synthesizer) -> None:
    settings = fitted.settings()
    assert json.loads(json.dumps(settings)) == settings
    assert get_model(fitted.name, **settings).settings() == settings


def test_save_then_load_samples_the_same_rows(fitted: Synthesizer, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    fitted.save(path)
    loaded = model_class(fitted.name).load(path)
    assert loaded.settings() == fitted.settings()
    pd.testing.assert_frame_equal(loaded.sample(500, seed=4), fitted.sample(500, seed=4))
    by_name = load_model(fitted.name, path)
    pd.testing.assert_frame_equal(by_name.sample(50, seed=9), fitted.sample(50, seed=9))


def test_nulls_are_modelled(fitted: Synthesizer, training: tuple[pd.DataFrame, Table]) -> None:
    data, _ = training
    synthetic = fitted.sample(3000, seed=2)
    for name in ("income", "segment"):
        assert synthetic[name].isna().mean() == pytest.approx(data[name].isna().mean(), abs=0.04)
    assert synthetic["notes"].isna().all()
    never_null = ["customer_id", "age", "children", "active", "signup", "country"]
    assert not synthetic[never_null].isna().any().any()


def _released_range(fitted: Synthesizer, table: Table, name: str) -> tuple[Any, Any]:
    """The (low, high) a DP model released for a column, in the column's own type."""
    released = table_with_domains(table, fitted.released_domains())  # type: ignore[attr-defined]
    column = released.column(name)
    if column.semantic == SemanticType.datetime:
        return pd.Timestamp(column.minimum), pd.Timestamp(column.maximum)
    return column.minimum, column.maximum


def test_values_stay_within_what_training_showed(
    fitted: Synthesizer, training: tuple[pd.DataFrame, Table]
) -> None:
    data, table = training
    synthetic = fitted.sample(3000, seed=5)
    for name in ("age", "income", "children", "signup"):
        low, high = data[name].min(), data[name].max()
        if isinstance(fitted, PrivateSynthesizer):
            # a DP model never sees the real range: it releases one with noise (the edges of
            # noisy histogram bins), holds its rows to that, and that stays near the real one
            low, high = _released_range(fitted, table, name)
            span = data[name].max() - data[name].min()
            assert data[name].min() - span / 20 <= low and high <= data[name].max() + span / 20
        assert synthetic[name].min() >= low
        assert synthetic[name].max() <= high
    for name in ("children", "segment", "active", "country"):
        assert set(synthetic[name].dropna()) <= set(data[name].dropna())
    assert (synthetic["age"] == synthetic["age"].round()).all()
    assert synthetic["customer_id"].is_unique


def _conditions(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": pd.Series(["senior"] * (n // 2) + ["basic"] * (n - n // 2), dtype="string"),
            "children": [2] * n,
        }
    )


@pytest.mark.parametrize("name", available_models())
def test_every_model_declares_whether_it_conditions(name: str) -> None:
    assert isinstance(model_capabilities(name).conditioning, bool)
    with pytest.raises(ValueError, match="gaussian_copula"):
        model_capabilities("no_such_model")


def test_a_model_that_declares_conditioning_holds_the_given_values(fitted: Synthesizer) -> None:
    if not model_capabilities(fitted.name).conditioning:
        # the declaration is held both ways: a model that says it cannot condition refuses to
        with pytest.raises(NotImplementedError):
            fitted.sample(300, seed=8, conditions=_conditions(300))
        return
    n = 300
    conditions = _conditions(n)
    synthetic = fitted.sample(n, seed=8, conditions=conditions)
    assert synthetic.shape[0] == n
    assert synthetic["segment"].tolist() == conditions["segment"].tolist()
    assert (synthetic["children"] == 2).all()
    # the learned dependence follows the condition: seniors are older (31 years in the data;
    # a tiny fit learns about 10 of them when the condition comes after age in table order, and
    # the difference of two 150-row means has a standard error near 2 years)
    assert synthetic["age"][:150].mean() > synthetic["age"][150:].mean() + 5
    pd.testing.assert_frame_equal(synthetic, fitted.sample(n, seed=8, conditions=conditions))
    with pytest.raises(ValueError):
        fitted.sample(n, seed=8, conditions=pd.DataFrame({"no_such_column": [1] * n}))


def test_a_model_that_declares_conditioning_keeps_all_but_the_columns_left_open(
    fitted: Synthesizer, training: tuple[pd.DataFrame, Table]
) -> None:
    """The validator's regenerate path: keep every column of some rows but a few, redraw those."""
    if not model_capabilities(fitted.name).conditioning:
        return  # declared and checked in the test above
    data, _ = training
    rows = data.iloc[:200].reset_index(drop=True)
    kept = rows.drop(columns=["age", "segment"])
    synthetic = fitted.sample(len(rows), seed=6, conditions=kept)
    pd.testing.assert_frame_equal(synthetic[kept.columns], kept)
    assert synthetic["age"].between(data["age"].min(), data["age"].max()).all()
    assert set(synthetic["segment"].dropna()) <= set(data["segment"].dropna())
