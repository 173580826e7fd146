"""Detection: how well a classifier tells synthetic rows from real ones.

A gradient-boosted classifier is cross-validated on real rows (label 0) and as many synthetic
rows (label 1). Its ROC AUC is 0.5 when the two cannot be told apart and 1.0 when every row gives
itself away. The same test on a real holdout against the real training rows gives the AUC that
sampling noise alone reaches, so a reader can judge the synthetic AUC against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from synthtab.schema import Table
from synthtab.tools.encoding import (
    deterministic_sample,
    fit_encoding,
    metric_columns,
    ordinal_features,
)
from synthtab.tools.native_threads import single_native_thread

DETECTION_MODEL = "HistGradientBoosting"
DETECTION_FOLDS = 3
DETECTION_MAX_ROWS = 3_000  # per side
MODEL_MAX_CATEGORIES = 250


class DetectionReport(BaseModel):
    model: str = DETECTION_MODEL
    auc: float | None = Field(description="cross-validated ROC AUC, real vs synthetic")
    score: float | None = Field(description="1 - 2 * |AUC - 0.5|: 1 when indistinguishable")
    holdout_auc: float | None = Field(
        default=None, description="the same test for the real holdout against real training rows"
    )
    rows_per_side: int = 0
    folds: int = DETECTION_FOLDS
    seed: int = 0
    notes: list[str] = Field(default_factory=list)


def _auc(
    real: pd.DataFrame, other: pd.DataFrame, table: Table, seed: int, max_rows: int
) -> tuple[float | None, int]:
    columns = [c.name for c in metric_columns(table, real, other)]
    rows = min(len(real), len(other), max_rows)
    if not columns or rows < DETECTION_FOLDS * 2:
        return None, rows
    real_sample = deterministic_sample(real, rows, seed)
    other_sample = deterministic_sample(other, rows, seed + 1)
    encoding = fit_encoding(real_sample, table, columns, max_categories=MODEL_MAX_CATEGORIES)
    real_x, categorical = ordinal_features(real_sample, encoding, table)
    other_x, _ = ordinal_features(other_sample, encoding, table)
    features = np.vstack([real_x, other_x])
    # an all-null numeric column cannot be binned; a constant says the same nothing
    all_null = np.isnan(features).all(axis=0) & ~categorical
    features[:, all_null] = 0.0
    labels = np.r_[np.zeros(len(real_x), dtype=int), np.ones(len(other_x), dtype=int)]
    scores = np.zeros(len(labels))
    folds = StratifiedKFold(n_splits=DETECTION_FOLDS, shuffle=True, random_state=seed)
    for train_index, test_index in folds.split(features, labels):
        model = HistGradientBoostingClassifier(
            categorical_features=categorical, random_state=seed, max_iter=100
        )
        model.fit(features[train_index], labels[train_index])
        scores[test_index] = model.predict_proba(features[test_index])[:, 1]
    return float(roc_auc_score(labels, scores)), rows


@single_native_thread
def detection(
    real_train: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    seed: int,
    real_holdout: pd.DataFrame | None = None,
    max_rows: int = DETECTION_MAX_ROWS,
) -> DetectionReport:
    """Real-vs-synthetic classifier AUC (and the holdout's, as the noise floor)."""
    auc, rows = _auc(real_train, synthetic, table, seed, max_rows)
    notes: list[str] = []
    if auc is None:
        notes.append("too few rows or no usable columns to train a detector")
    if rows < min(len(real_train), len(synthetic)):
        notes.append(f"detector trained on {rows:,} rows per side (deterministic sample)")
    holdout_auc = None
    if real_holdout is not None and len(real_holdout):
        holdout_auc = _auc(real_train, real_holdout, table, seed, max_rows)[0]
    return DetectionReport(
        auc=auc,
        score=None if auc is None else float(1.0 - 2.0 * abs(auc - 0.5)),
        holdout_auc=holdout_auc,
        rows_per_side=rows,
        seed=seed,
        notes=notes,
    )
