"""A private run on a tiny table: at epsilon 1 on 300 rows the DP releases leave some columns
without a single category that clears the threshold; an integer column (titanic's ``survived``)
then gets nulls it cannot hold, which crashed sampling. The run now finishes, the column comes
back in pandas' nullable integer dtype, and the spend stays within epsilon."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.app import main
from synthtab.dp.schema_release import strip_inferred
from synthtab.models.registry import get_model
from synthtab.schema.infer import infer_table


@pytest.fixture()
def titanic_300(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(datasets_dir / "titanic.parquet").head(300)


@pytest.mark.parametrize("model", ["dp_mst", "dp_copula"])
def test_generate_with_epsilon_on_300_rows_of_titanic_finishes(
    model: str,
    titanic_300: pd.DataFrame,
    titanic_csv: Callable[[int | None], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = titanic_csv(300)
    out = tmp_path / "run"
    code = main(
        [
            "generate",
            str(source),
            "--out",
            str(out),
            "--target",
            "survived",
            "--epsilon",
            "1",
            "--model",
            model,
            "--no-attacks",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    dp = json.loads((out / "manifest.json").read_text())["differential_privacy"]
    assert dp["within_budget"] and 0.0 < dp["spent_epsilon"] <= 1.0
    synthetic = pd.read_csv(out / "synthetic.csv")
    # no --rows: the model's noisy count (of 300 real rows), all of it delivered
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete"
    assert len(synthetic) == report["summary"]["rows_requested"]
    assert 150 <= len(synthetic) <= 450
    assert list(synthetic.columns) == list(titanic_300.columns)


@pytest.mark.parametrize("model", ["dp_mst", "dp_copula"])
def test_an_integer_column_left_without_categories_samples_as_nullable_integers(
    model: str, titanic_300: pd.DataFrame
) -> None:
    # the table as the profiler hands it over under --epsilon: what inference saw is stripped
    table, _ = strip_inferred(infer_table(titanic_300, "titanic"), None)
    fitted = get_model(model, epsilon=1.0).fit(titanic_300, table, seed=0)
    survived = next(d for d in fitted.released_domains() if d.name == "survived")
    # the premise of the regression: nothing of 'survived' cleared the threshold at this size
    assert survived.kind == "categorical" and survived.categories == []
    # and the fit says so, per column, with what to do about it
    warnings = [p["warning"] for p in fitted.privacy_spent()["parts"] if "warning" in p]
    assert any("'survived'" in w and "allowed_values" in w for w in warnings)
    synthetic = fitted.sample(300, seed=1)
    assert str(synthetic["survived"].dtype) == "Int64"
    # columns whose values were released keep the source's numpy dtype
    assert synthetic["sibsp"].dtype == np.int64
    # with the category declared (public), the same column keeps int64 and its values
    declared = table.model_copy(
        update={
            "columns": [
                c.model_copy(update={"allowed_values": [0, 1]}) if c.name == "survived" else c
                for c in table.columns
            ]
        }
    )
    synthetic = get_model(model, epsilon=1.0).fit(titanic_300, declared, seed=0).sample(300, 1)
    assert synthetic["survived"].dtype == np.int64
    assert set(synthetic["survived"]) <= {0, 1}
