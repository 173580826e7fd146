from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from .llm.fakes import ScriptedChatModel

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip("the shared benchmark datasets are not on this machine")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def adult(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(datasets_dir / "adult.parquet")


@pytest.fixture()
def adult_csv(adult: pd.DataFrame, tmp_path: Path) -> Path:
    """3,000 real rows of UCI Adult as a CSV file, the way a user hands data over."""
    path = tmp_path / "adult.csv"
    adult.sample(3_000, random_state=1).to_csv(path, index=False)
    return path


# the one scripted LLM of the tests (tests/llm/fakes.py), under the name the chat tests know
ScriptedLLM = ScriptedChatModel


@pytest.fixture()
def scripted_llm() -> type[ScriptedLLM]:
    """A stand-in for the LLM that answers with scripted JSON, to pin a branch."""
    return ScriptedLLM
