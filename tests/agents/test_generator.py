"""The generator node's model choice: a rule on the table's size and the request's preference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from synthtab.agents.generator import MIN_NEURAL_ROWS, choose_model, generate
from synthtab.agents.workspace import RunPaths
from synthtab.models import get_model
from synthtab.schema import Column, GenerationRequest, SemanticType, StorageType, Table

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
    request = _request(model="argn", rows=500)
    state = {
        "request": request.model_dump(mode="json"),
        "table": _TABLE.model_dump(mode="json"),
        "run_dir": str(tmp_path),
    }
    update = generate(state)
    assert update["model_choice"]["name"] == "argn"
    assert update["model_choice"]["settings"]["max_epochs"] == 100
    candidate = pd.read_parquet(update["candidate_path"])
    assert candidate.shape == (500, 15)
    assert candidate.dtypes.to_dict() == train.dtypes.to_dict()
    # a second round loads the saved model rather than fitting again
    again = generate({**state, **update, "feedback": None})
    assert "model_choice" not in again and again["generation_round"] == 2
