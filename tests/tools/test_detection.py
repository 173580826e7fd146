from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthtab.schema.infer import infer_table
from synthtab.tools.detection import detection


@pytest.fixture(scope="module")
def sample(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.sample(3000, random_state=5).reset_index(drop=True)


def test_real_rows_cannot_be_told_apart_and_broken_rows_can(sample: pd.DataFrame) -> None:
    table = infer_table(sample, "adult")
    train, other_real = sample.iloc[:1500], sample.iloc[1500:].reset_index(drop=True)
    same = detection(train, other_real, table, seed=0)
    assert same.auc is not None and abs(same.auc - 0.5) < 0.08
    rng = np.random.default_rng(0)
    independent = other_real.apply(lambda col: rng.permutation(col.to_numpy()))
    broken = detection(train, independent, table, seed=0, real_holdout=other_real)
    assert broken.auc is not None and broken.auc > 0.75
    assert broken.score is not None and broken.score < same.score  # type: ignore[operator]
    assert broken.holdout_auc is not None and abs(broken.holdout_auc - 0.5) < 0.08
    again = detection(train, independent, table, seed=0, real_holdout=other_real)
    assert again == broken  # a fixed seed gives the same folds and models


def test_detection_handles_nulls_and_tiny_frames() -> None:
    frame = pd.DataFrame({"x": [1.0, None, 3.0, None] * 50, "c": ["a", None, "b", "a"] * 50})
    table = infer_table(frame, "t")
    report = detection(frame, frame.iloc[::-1].reset_index(drop=True), table, seed=1)
    assert report.auc is not None and 0.0 <= report.auc <= 1.0
    tiny = detection(frame.iloc[:3], frame.iloc[:3], table, seed=1)
    assert tiny.auc is None and tiny.notes
