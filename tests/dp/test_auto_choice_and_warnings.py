"""--model auto under --epsilon picks dp_mst for mostly categorical tables (dp_argn where a target
is named and epsilon >= 3) and dp_copula for mostly numeric ones; the domain releases' warnings
reach the terminal (not under --quiet)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from synthtab.agents.generator import choose_model
from synthtab.app import main
from synthtab.dp.domain import categorical_share, release_warnings
from synthtab.schema import Column, GenerationRequest, SemanticType, StorageType, Table


def _table(categorical: int, numeric: int) -> Table:
    columns = [
        Column(name=f"c{i}", storage=StorageType.string, semantic=SemanticType.categorical)
        for i in range(categorical)
    ]
    columns += [
        Column(name=f"n{i}", storage=StorageType.float, semantic=SemanticType.numeric)
        for i in range(numeric)
    ]
    # an id is made up at sampling, not learned: it does not count
    columns.append(Column(name="id", storage=StorageType.integer, semantic=SemanticType.id))
    return Table(name="t", columns=columns)


@pytest.mark.parametrize("epsilon", [0.5, 3.0, 10.0])
def test_auto_picks_by_the_share_of_categorical_columns(epsilon: float) -> None:
    request = GenerationRequest(source="x.csv", epsilon=epsilon)
    telco_like, credit_like = _table(17, 3), _table(6, 8)
    assert categorical_share(telco_like) == pytest.approx(0.85)
    mostly_categorical = choose_model(request, telco_like, 5000)
    assert mostly_categorical["name"] == "dp_mst"
    assert "85% of the learned columns categorical" in mostly_categorical["reason"]
    assert choose_model(request, credit_like, 5000)["name"] == "dp_copula"
    forced = GenerationRequest(source="x.csv", epsilon=epsilon, model="dp_copula")
    assert choose_model(forced, telco_like, 5000)["name"] == "dp_copula"


@pytest.mark.parametrize(
    ("epsilon", "picked"), [(0.5, "dp_mst"), (1.0, "dp_mst"), (3.0, "dp_argn")]
)
def test_a_named_target_on_a_categorical_table_gets_dp_argn_from_epsilon_3(
    epsilon: float, picked: str
) -> None:
    request = GenerationRequest(source="x.csv", epsilon=epsilon, target="c0")
    telco_like, credit_like = _table(17, 3), _table(6, 8)
    choice = choose_model(request, telco_like, 5000)
    assert choice["name"] == picked
    assert choose_model(request, credit_like, 5000)["name"] == "dp_copula"
    # the report never states the row count: under --epsilon it is not released
    assert "5,000" not in choice["reason"] and "5000" not in choice["reason"]
    forced = GenerationRequest(source="x.csv", epsilon=epsilon, target="c0", model="dp_mst")
    assert choose_model(forced, telco_like, 5000)["name"] == "dp_mst"


def test_release_warnings_are_read_from_the_privacy_summary() -> None:
    summary = {
        "spends": [
            {"parts": [{"rho": 0.1}, {"rho": 0.1, "warning": "no value of 'a' ..."}]},
            {"parts": [{"rho": 0.2, "warning": "too few rows for 'b' ..."}]},
        ]
    }
    assert release_warnings(summary) == ["no value of 'a' ...", "too few rows for 'b' ..."]
    assert release_warnings({}) == []


@pytest.mark.parametrize("quiet", [False, True])
def test_generate_prints_the_domain_warnings_unless_quiet(
    quiet: bool,
    titanic_csv: Callable[[int | None], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 300 rows at epsilon 1: 'survived' has no value that clears the category threshold
    source = titanic_csv(300)
    command = ["generate", str(source), "--out", str(tmp_path / "run"), "--epsilon", "1"]
    command += ["--model", "dp_copula", "--no-attacks", "--no-tstr", "--rows", "100"]
    code = main(command + (["--quiet"] if quiet else []))
    err = capsys.readouterr().err
    assert code == 0, err
    if quiet:
        assert "warning:" not in err
    else:
        assert "warning: no value of 'survived' is frequent enough" in err
        assert "allowed_values" in err


def test_the_dp_suite_runs_only_the_models_asked_for() -> None:
    from synthtab.evals.dp_suite import _dp_models, plan_jobs

    assert _dp_models("dp_mst, dp_copula") == ["dp_mst", "dp_copula"]
    with pytest.raises(ValueError, match="unknown DP model 'argn'"):
        _dp_models("argn")
    jobs = plan_jobs("adult", [1.0], [], models=["dp_copula"])
    assert [j.method for j in jobs] == ["synthtab-gaussian_copula (no DP)", "synthtab-dp_copula"]
