"""The generator node's model choice (a rule on the table's size and the request's preference)
and how it draws a round's candidate rows, rejected rows redrawn included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synthtab.agents.generator import (
    MAX_REDRAW_GROUPS,
    MIN_NEURAL_ROWS,
    CandidateSample,
    choose_model,
    generate,
    sample_candidate,
)
from synthtab.agents.workspace import RunPaths
from synthtab.models import Synthesizer, get_model
from synthtab.schema import Column, GenerationRequest, SemanticType, StorageType, Table
from synthtab.tools.conditions import resolve_conditions

_TABLE = Table(
    name="t",
    columns=[
        Column(name=f"c{i}", storage=StorageType.integer, semantic=SemanticType.numeric)
        for i in range(15)
    ],
)


def _request(**fields: Any) -> GenerationRequest:
    return GenerationRequest(source="t.csv", **fields)


def test_the_default_is_the_fast_copula_and_says_why() -> None:
    choice = choose_model(_request(), _TABLE, 40_000)
    assert choice["name"] == "gaussian_copula"
    assert "40,000 training rows x 15 columns" in choice["reason"]
    assert "fast" in choice["reason"]


@pytest.mark.parametrize("preference", ["balanced", "best"])
def test_quality_preferences_train_the_neural_model_when_rows_suffice(preference: str) -> None:
    choice = choose_model(_request(quality_preference=preference), _TABLE, 40_000)
    assert choice["name"] == "argn"
    assert preference in choice["reason"] and "interactions" in choice["reason"]
    # the settings the rule picks are ones the model accepts
    assert get_model("argn", **choice["settings"]).settings()["max_training_seconds"] > 0
    assert "target" not in choice["settings"]  # no target named: every column weighs the same
    # a numeric target is not weighed (it cost quality on california_housing)
    numeric = choose_model(_request(quality_preference=preference, target="c0"), _TABLE, 40_000)
    assert "target" not in numeric["settings"]
    labelled = _TABLE.model_copy(
        update={
            "columns": [
                *_TABLE.columns[:-1],
                Column(name="label", storage=StorageType.string, semantic=SemanticType.categorical),
            ]
        }
    )
    request = _request(quality_preference=preference, target="label")
    with_target = choose_model(request, labelled, 40_000)
    assert get_model("argn", **with_target["settings"]).settings()["target"] == "label"


def test_best_trains_longer_than_balanced() -> None:
    balanced = choose_model(_request(quality_preference="balanced"), _TABLE, 40_000)
    best = choose_model(_request(quality_preference="best"), _TABLE, 40_000)
    assert best["settings"]["max_training_seconds"] > balanced["settings"]["max_training_seconds"]


def test_too_few_rows_keep_the_copula_even_for_quality() -> None:
    choice = choose_model(_request(quality_preference="best"), _TABLE, MIN_NEURAL_ROWS - 1)
    assert choice["name"] == "gaussian_copula"
    assert "too little" in choice["reason"]


@pytest.mark.parametrize("forced", ["gaussian_copula", "argn"])
def test_the_user_can_force_either_model(forced: str) -> None:
    for preference in ("fast", "best"):
        choice = choose_model(_request(model=forced, quality_preference=preference), _TABLE, 50)
        assert choice["name"] == forced
        assert f"forced by the request (--model {forced})" in choice["reason"]


def test_unknown_models_and_preferences_are_refused() -> None:
    with pytest.raises(ValidationError):
        _request(model="ctgan")
    with pytest.raises(ValidationError):
        _request(quality_preference="fastest")


def test_the_node_fits_and_samples_the_forced_neural_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({f"c{i}": rng.integers(0, 9, 300) for i in range(15)})
    paths = RunPaths(run_dir=tmp_path)
    paths.work_dir.mkdir()
    train.to_parquet(paths.train)
    request = _request(model="argn", rows=500, target="c3")
    # c3's integer codes are categories: the target whose likelihood argn weighs
    table = _TABLE.model_copy(
        update={
            "columns": [
                c.model_copy(update={"semantic": SemanticType.categorical}) if c.name == "c3" else c
                for c in _TABLE.columns
            ]
        }
    )
    state = {
        "request": request.model_dump(mode="json"),
        "table": table.model_dump(mode="json"),
        "run_dir": str(tmp_path),
    }
    update = generate(state)
    assert update["model_choice"]["name"] == "argn"
    assert update["model_choice"]["settings"]["max_epochs"] == 100
    # the run's target is the one whose likelihood the network weighs above the others'
    assert update["model_choice"]["settings"]["target"] == "c3"
    candidate = pd.read_parquet(update["candidate_path"])
    assert candidate.shape == (500, 15)
    assert candidate.dtypes.to_dict() == train.dtypes.to_dict()
    # a second round loads the saved model rather than fitting again
    again = generate({**state, **update, "feedback": None})
    assert "model_choice" not in again and again["generation_round"] == 2


def _fitted_copula() -> tuple[Synthesizer, pd.DataFrame]:
    rng = np.random.default_rng(1)
    train = pd.DataFrame({f"c{i}": rng.integers(0, 9, 400) for i in range(15)})
    return get_model("gaussian_copula").fit(train, _TABLE, seed=0), train


def test_a_candidate_without_rejected_rows_is_the_models_plain_sample() -> None:
    model, _ = _fitted_copula()
    candidate, drawn = sample_candidate(model, 300, 9)
    pd.testing.assert_frame_equal(candidate, model.sample(300, seed=9))
    assert drawn == CandidateSample(rows=300, resampled_whole=300)


def test_each_rejected_row_keeps_its_unmarked_columns_in_its_own_place() -> None:
    model, train = _fitted_copula()
    rejected = train.iloc[:40].reset_index(drop=True)
    marks = pd.DataFrame(False, index=rejected.index, columns=rejected.columns)
    marks.loc[::2, "c0"] = True  # two sets of columns to redraw, interleaved
    marks.loc[1::2, ["c3", "c4"]] = True
    candidate, drawn = sample_candidate(model, 50, 3, rejected, marks)
    assert drawn.redrawn_given_their_other_columns == 40 and drawn.resampled_whole == 10
    head = candidate.iloc[:40]
    unmarked = ~marks.to_numpy()
    assert (head.to_numpy()[unmarked] == rejected.to_numpy()[unmarked]).all()
    # more rejected rows than asked for: only the first n are redrawn
    fewer, drawn = sample_candidate(model, 30, 3, rejected, marks)
    assert len(fewer) == 30 and drawn.redrawn_given_their_other_columns == 30


def test_rare_sets_of_columns_beyond_the_cap_are_resampled_whole() -> None:
    model, train = _fitted_copula()
    rejected = train.iloc[: MAX_REDRAW_GROUPS + 5].reset_index(drop=True)
    # every row its own set of columns to redraw: one sample call each, up to the cap
    patterns = np.random.default_rng(2).random((len(rejected), 15)) < 0.5
    patterns[:, 0] = True  # never an empty set
    patterns[:, 1] = False  # never every column
    marks = pd.DataFrame(patterns, columns=rejected.columns)
    assert len(np.unique(patterns, axis=0)) == len(rejected)
    _, drawn = sample_candidate(model, len(rejected), 4, rejected, marks)
    assert drawn.redrawn_given_their_other_columns == MAX_REDRAW_GROUPS
    assert drawn.resampled_whole == 5


def test_a_runs_conditions_hold_on_new_rows_and_survive_every_redraw() -> None:
    """--condition c1=4 and --rebalance c2: whole new rows are drawn given them, and a rejected
    row whose broken check reads c1 redraws its other marked columns but keeps c1."""
    model, train = _fitted_copula()
    table = _TABLE.model_copy(
        update={
            "columns": [
                c.model_copy(update={"semantic": SemanticType.categorical}) if c.name == "c2" else c
                for c in _TABLE.columns
            ]
        }
    )
    conditions = resolve_conditions(table, train, {"c1": "4"}, {"c2": {"7": 0.5}})
    fresh, _ = sample_candidate(model, 2_000, 5, run_conditions=conditions)
    assert (fresh["c1"] == 4).all()
    assert (fresh["c2"] == 7).mean() == pytest.approx(0.5, abs=0.04)
    rejected = fresh.iloc[:30].reset_index(drop=True)
    marks = pd.DataFrame(False, index=rejected.index, columns=rejected.columns)
    marks[["c1", "c2", "c5"]] = True
    # 30 rejected rows redrawn and 20 whole new rows in one candidate
    redrawn, drawn = sample_candidate(model, 50, 6, rejected, marks, conditions)
    assert drawn.redrawn_given_their_other_columns == 30 and drawn.resampled_whole == 20
    assert (redrawn["c1"] == 4).all()
    redrawn = redrawn.iloc[:30]
    pd.testing.assert_series_equal(redrawn["c1"], rejected["c1"])
    pd.testing.assert_series_equal(redrawn["c2"], rejected["c2"])
    assert (redrawn["c5"] != rejected["c5"]).any()
    # a redraw of held columns alone leaves nothing to redraw: new rows, given the conditions
    only_held = marks.copy()
    only_held["c5"] = False
    renewed, drawn = sample_candidate(model, 30, 6, rejected, only_held, conditions)
    assert drawn.resampled_whole == 30 and (renewed["c1"] == 4).all()
