from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synthtab.llm import ChatMessage

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


class ScriptedLLM:
    """Answers with the next scripted reply and remembers what it was asked."""

    name = "scripted"

    def __init__(self, replies: Sequence[dict[str, Any]]) -> None:
        self.replies = [json.dumps(r) for r in replies]
        self.asked: list[list[ChatMessage]] = []

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str:
        self.asked.append(list(messages))
        return self.replies.pop(0)


@pytest.fixture()
def scripted_llm() -> type[ScriptedLLM]:
    """A stand-in for the LLM that answers with scripted JSON, to pin a branch."""
    return ScriptedLLM
