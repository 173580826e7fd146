"""Machine-learning utility: train on synthetic, test on real (TSTR), and the reverse (TRTS).

The same gradient-boosted model is trained twice, once on the synthetic rows and once on the
real training rows, and both are scored on real rows neither saw (the holdout). The ratio of the
two scores says how much of the real data's predictive value the synthetic data kept. Three
model families (linear, random forest, gradient boosting) repeat the test, each also trained on
real rows and tested on synthetic ones (TRTS), and the forests' feature importances are compared.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from scipy.stats import spearmanr
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from synthtab.schema import SemanticType, Table
from synthtab.tools.encoding import (
    NULL_KEY,
    category_keys,
    deterministic_sample,
    distance_features,
    fit_encoding,
    metric_columns,
    ordinal_features,
    to_continuous,
)
from synthtab.tools.native_threads import single_native_thread

Task = Literal["classification", "regression"]

MODEL_NAME = "HistGradientBoosting"
# HistGradientBoosting takes at most 255 bins per categorical feature; one code is kept for "other"
MODEL_MAX_CATEGORIES = 250
TRAIN_CELL_BUDGET = 2_000_000  # training rows x features per model
MIN_TRAIN_ROWS = 2_000


class UtilityScore(BaseModel):
    """One metric for both training sources, scored on the same real holdout."""

    metric: str
    real: float | None = Field(description="model trained on real training rows")
    synthetic: float | None = Field(description="model trained on synthetic rows")
    ratio: float | None = Field(default=None, description="synthetic / real")


class UtilityReport(BaseModel):
    target: str
    task: Task | None
    status: Literal["ok", "skipped"]
    model: str = MODEL_NAME
    primary_metric: str | None = None
    ratio: float | None = Field(default=None, description="synthetic / real on the primary metric")
    scores: list[UtilityScore] = Field(default_factory=list)
    train_rows_real: int = 0
    train_rows_synthetic: int = 0
    holdout_rows: int = 0
    features: list[str] = Field(default_factory=list)
    families: list[FamilyUtility] = Field(
        default_factory=list, description="TSTR / TRTR / TRTS for three model families"
    )
    feature_importance_correlation: float | None = Field(
        default=None,
        description="Spearman correlation of random-forest feature importances, real vs synthetic",
    )
    notes: list[str] = Field(default_factory=list)


def infer_task(table: Table, target: str, values: pd.Series) -> Task | None:
    """Classification for categories and two-valued numbers (0/1 flags), regression for numbers."""
    semantic = table.column(target).semantic
    if semantic in (SemanticType.categorical, SemanticType.boolean, SemanticType.constant):
        return "classification"
    if semantic == SemanticType.numeric:
        distinct = pd.Series(to_continuous(values, table.column(target))).dropna().nunique()
        return "classification" if distinct <= 2 else "regression"
    return None


def _ratio(synthetic: float | None, real: float | None) -> float | None:
    if synthetic is None or real is None or real <= 0:
        return None
    return float(synthetic / real)


def _skipped(target: str, task: Task | None, note: str) -> UtilityReport:
    return UtilityReport(target=target, task=task, status="skipped", notes=[note])


def _trainable(features: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Fill continuous features that are null in every row with 0.

    HistGradientBoosting cannot bin an all-NaN numeric column; a constant carries the same
    (absent) information and is never split on.
    """
    all_null = np.isnan(features).all(axis=0) & ~categorical
    if not all_null.any() or len(features) == 0:
        return features
    filled = features.copy()
    filled[:, all_null] = 0.0
    return filled


def _holdout_probabilities(
    model: HistGradientBoostingClassifier | None,
    constant_class: str | None,
    features: np.ndarray,
    classes: list[str],
) -> np.ndarray:
    """Probabilities over ``classes`` (all classes of the real data), zero for any the model lacks."""
    proba = np.zeros((len(features), len(classes)))
    if model is None:
        proba[:, classes.index(constant_class)] = 1.0  # type: ignore[arg-type]
        return proba
    predicted = model.predict_proba(features)
    for j, label in enumerate(model.classes_):
        proba[:, classes.index(str(label))] = predicted[:, j]
    return proba


def _macro_auc(labels: np.ndarray, proba: np.ndarray, classes: list[str]) -> float | None:
    """ROC AUC: binary as usual; multiclass as the macro mean of one-vs-rest AUCs."""
    present = [c for c in classes if (labels == c).any() and (labels != c).any()]
    if not present:
        return None
    if len(classes) == 2:
        positive = present[0]
        return float(roc_auc_score(labels == positive, proba[:, classes.index(positive)]))
    aucs = [roc_auc_score(labels == c, proba[:, classes.index(c)]) for c in present]
    return float(np.mean(aucs))


def _classification(
    train_x: dict[str, np.ndarray],
    train_y: dict[str, np.ndarray],
    holdout_x: np.ndarray,
    holdout_y: np.ndarray,
    categorical: np.ndarray,
    seed: int,
) -> tuple[list[UtilityScore], list[str]]:
    notes: list[str] = []
    classes = sorted(set(train_y["real"]) | set(holdout_y))
    results: dict[str, dict[str, float | None]] = {}
    for source in ("real", "synthetic"):
        y = train_y[source]
        seen = sorted(set(y))
        missing = [c for c in classes if c not in seen]
        if missing and source == "synthetic":
            shown = ", ".join(repr(c) for c in missing[:5])
            notes.append(f"synthetic data lacks {len(missing)} target class(es): {shown}")
        unknown = sorted(set(seen) - set(classes))
        if unknown:
            keep = np.isin(y, classes)
            notes.append(f"{source} rows with target classes unseen in real data ignored")
            train_x[source], y = train_x[source][keep], y[keep]
            seen = sorted(set(y))
        if not seen:
            notes.append(f"no {source} rows to train on")
            results[source] = {"roc_auc": None, "accuracy": None}
            continue
        model: HistGradientBoostingClassifier | None = None
        constant_class: str | None = None
        if len(seen) == 1:
            constant_class = seen[0]
            notes.append(
                f"{source} target has a single class {constant_class!r}: predicting it always"
            )
        else:
            model = HistGradientBoostingClassifier(
                categorical_features=categorical, random_state=seed
            )
            model.fit(_trainable(train_x[source], categorical), y)
        proba = _holdout_probabilities(model, constant_class, holdout_x, classes)
        predicted = np.asarray(classes)[proba.argmax(axis=1)]
        results[source] = {
            "roc_auc": _macro_auc(holdout_y, proba, classes),
            "accuracy": float(accuracy_score(holdout_y, predicted)),
        }
    if len(set(holdout_y)) < 2:
        notes.append("holdout target has a single class: ROC AUC is undefined")
    scores = [
        UtilityScore(
            metric=metric,
            real=results["real"][metric],
            synthetic=results["synthetic"][metric],
            ratio=_ratio(results["synthetic"][metric], results["real"][metric]),
        )
        for metric in ("roc_auc", "accuracy")
    ]
    return scores, notes


def _regression(
    train_x: dict[str, np.ndarray],
    train_y: dict[str, np.ndarray],
    holdout_x: np.ndarray,
    holdout_y: np.ndarray,
    categorical: np.ndarray,
    seed: int,
) -> tuple[list[UtilityScore], list[str]]:
    notes: list[str] = []
    results: dict[str, float | None] = {}
    holdout_constant = np.ptp(holdout_y) == 0 if len(holdout_y) else True
    if holdout_constant:
        notes.append("holdout target is constant: R² is undefined")
    for source in ("real", "synthetic"):
        y = train_y[source]
        if len(y) == 0:
            notes.append(f"no {source} rows to train on")
            results[source] = None
            continue
        if np.ptp(y) == 0:
            notes.append(f"{source} target is constant: predicting it always")
            predicted = np.full(len(holdout_y), y[0])
        else:
            model = HistGradientBoostingRegressor(
                categorical_features=categorical, random_state=seed
            )
            model.fit(_trainable(train_x[source], categorical), y)
            predicted = model.predict(holdout_x)
        results[source] = None if holdout_constant else float(r2_score(holdout_y, predicted))
    scores = [
        UtilityScore(
            metric="r2",
            real=results["real"],
            synthetic=results["synthetic"],
            ratio=_ratio(results["synthetic"], results["real"]),
        )
    ]
    return scores, notes


@single_native_thread
def tstr(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    target: str,
    seed: int,
    *,
    max_train_rows: int = 20_000,
    max_holdout_rows: int = 20_000,
    with_families: bool = True,
) -> UtilityReport:
    """Train-on-synthetic / test-on-real against the train-on-real ceiling, for one target."""
    if not table.has_column(target):
        return _skipped(target, None, f"target {target!r} is not a column of the table")
    if any(target not in f.columns for f in (real_train, real_holdout, synthetic)):
        return _skipped(target, None, f"target {target!r} is missing from a frame")
    task = infer_task(table, target, real_train[target])
    if task is None:
        semantic = table.column(target).semantic.value
        return _skipped(target, None, f"target {target!r} ({semantic}) is not predictable")
    target_column = table.column(target)

    feature_names = [
        c.name
        for c in metric_columns(table, real_train, real_holdout, synthetic)
        if c.name != target
    ]
    if not feature_names:
        return _skipped(target, task, "no feature columns besides the target")
    notes: list[str] = []
    # wide tables train on fewer rows so a report never waits minutes for its models
    train_cap = min(max_train_rows, max(MIN_TRAIN_ROWS, TRAIN_CELL_BUDGET // len(feature_names)))

    def labelled(frame: pd.DataFrame, offset: int) -> tuple[pd.DataFrame, np.ndarray]:
        if task == "classification":
            y = category_keys(frame[target], target_column)
            keep = (y != NULL_KEY).to_numpy()
            values = y.to_numpy(dtype=object)
        else:
            values = to_continuous(frame[target], target_column)
            keep = ~np.isnan(values)
        frame, values = frame[keep].reset_index(drop=True), values[keep]
        cap = max_holdout_rows if offset == 1 else train_cap
        strata = pd.Series(values) if task == "classification" else None
        sample = deterministic_sample(frame, cap, seed + offset, strata)
        return sample, values[sample.index.to_numpy()]

    real_train_sample, real_y = labelled(real_train, 0)
    holdout_sample, holdout_y = labelled(real_holdout, 1)
    synthetic_sample, synthetic_y = labelled(synthetic, 2)
    if len(holdout_sample) == 0:
        return _skipped(target, task, "no holdout rows with a target value")
    if train_cap < max_train_rows and max(len(real_train), len(synthetic)) > train_cap:
        notes.append(f"training rows capped at {train_cap:,} for {len(feature_names)} features")

    encoding = fit_encoding(
        real_train_sample, table, feature_names, max_categories=MODEL_MAX_CATEGORIES
    )
    holdout_x, categorical = ordinal_features(holdout_sample, encoding, table)
    train_x = {
        "real": ordinal_features(real_train_sample, encoding, table)[0],
        "synthetic": ordinal_features(synthetic_sample, encoding, table)[0],
    }
    train_y = {"real": real_y, "synthetic": synthetic_y}
    fit = _classification if task == "classification" else _regression
    scores, fit_notes = fit(train_x, train_y, holdout_x, holdout_y, categorical, seed)
    notes.extend(fit_notes)
    families: list[FamilyUtility] = []
    importance_correlation = None
    if with_families:
        linear_encoding = fit_encoding(
            real_train_sample, table, feature_names, max_categories=LINEAR_MAX_CATEGORIES
        )
        # the families compare model kinds, not the last decimal: smaller samples keep them quick
        frames = {
            "real": real_train_sample,
            "synthetic": synthetic_sample,
            "holdout": holdout_sample,
        }
        picks = {
            name: np.sort(np.random.default_rng(seed + n).permutation(len(frame))[:FAMILY_MAX_ROWS])
            for n, (name, frame) in enumerate(frames.items())
        }
        frames = {k: f.iloc[picks[k]].reset_index(drop=True) for k, f in frames.items()}
        labels = {"real": real_y, "synthetic": synthetic_y, "holdout": holdout_y}
        labels = {k: v[picks[k]] for k, v in labels.items()}
        if task == "classification":
            labels = {k: v.astype(str) for k, v in labels.items()}
        features = _Features(
            trees={k: m[picks[k]] for k, m in {**train_x, "holdout": holdout_x}.items()},
            linear={k: distance_features(f, linear_encoding, table) for k, f in frames.items()},
            labels=labels,
            categorical=categorical,
        )
        families, importance_correlation, family_notes = family_utilities(features, task, seed)
        notes.extend(family_notes)
    primary = scores[0]
    return UtilityReport(
        target=target,
        task=task,
        status="ok",
        primary_metric=primary.metric,
        ratio=primary.ratio,
        scores=scores,
        train_rows_real=len(real_train_sample),
        train_rows_synthetic=len(synthetic_sample),
        holdout_rows=len(holdout_sample),
        features=encoding.column_names(),
        families=families,
        feature_importance_correlation=importance_correlation,
        notes=notes,
    )


# ---- three model families: TSTR, TRTR and TRTS -----------------------------------------------

Family = Literal["linear", "random_forest", "gradient_boosting"]
FAMILIES: tuple[Family, ...] = ("linear", "random_forest", "gradient_boosting")
FAMILY_LABELS = {
    "linear": "logistic / ridge regression",
    "random_forest": "random forest",
    "gradient_boosting": "HistGradientBoosting",
}
LINEAR_MAX_CATEGORIES = 20
FAMILY_MAX_ROWS = 5_000  # per source


class FamilyUtility(BaseModel):
    """One model family trained on each source and tested across: what a data scientist would try.

    ``tstr``: trained on synthetic, tested on the real holdout; ``trtr``: trained on real,
    tested on the real holdout (the ceiling); ``trts``: trained on real, tested on synthetic
    rows (low when the synthetic rows break the real feature-target relation)."""

    family: Family
    model: str
    metric: str
    tstr: float | None
    trtr: float | None
    trts: float | None
    ratio: float | None = Field(default=None, description="tstr / trtr")


class _Features(BaseModel):
    """Each source's feature matrices for trees (ordinal codes) and linear models (one-hot)."""

    model_config = {"arbitrary_types_allowed": True}

    trees: dict[str, np.ndarray]
    linear: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    categorical: np.ndarray


def _family_model(family: Family, task: Task, categorical: np.ndarray, seed: int) -> Any:
    if family == "linear":
        if task == "classification":
            return LogisticRegression(max_iter=300, C=1.0)
        return Ridge(alpha=1.0)
    if family == "random_forest":
        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(n_estimators=50, min_samples_leaf=3, max_features="sqrt", random_state=seed)
    if task == "classification":
        return HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed)
    return HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed)


def _score(task: Task, model: Any, features: np.ndarray, labels: np.ndarray) -> float | None:
    if len(labels) == 0:
        return None
    if task == "regression":
        return None if np.ptp(labels) == 0 else float(r2_score(labels, model.predict(features)))
    known = np.isin(labels, model.classes_)
    labels, features = labels[known], features[known]
    classes = [str(c) for c in model.classes_]
    if len(set(labels)) < 2:
        return None
    proba = model.predict_proba(features)
    return _macro_auc(labels, proba, classes)


def _matrix(features: _Features, family: Family, source: str) -> np.ndarray:
    if family == "linear":
        return features.linear[source]
    matrix = features.trees[source]
    if family == "random_forest":
        # ordinal codes with a sentinel: a forest splits nulls off like any other value
        return np.where(np.isnan(matrix), -1.0, matrix)
    return _trainable(matrix, features.categorical)


def family_utilities(
    features: _Features, task: Task, seed: int
) -> tuple[list[FamilyUtility], float | None, list[str]]:
    """Every family's TSTR / TRTR / TRTS, and how alike the forests' feature importances are."""
    notes: list[str] = []
    results: list[FamilyUtility] = []
    importances: dict[str, np.ndarray] = {}
    for family in FAMILIES:
        fitted: dict[str, Any] = {}
        for source in ("real", "synthetic"):
            labels = features.labels[source]
            if len(labels) == 0 or len(set(labels.tolist())) < 2:
                continue  # one class or a constant: nothing a model can learn
            model = _family_model(family, task, features.categorical, seed)
            model.fit(_matrix(features, family, source), labels)
            fitted[source] = model
            if family == "random_forest":
                importances[source] = model.feature_importances_

        def scored(source: str, test: str, family: Family, fitted: dict[str, Any]) -> float | None:
            if source not in fitted:
                return None
            matrix = _matrix(features, family, test)
            return _score(task, fitted[source], matrix, features.labels[test])

        tstr_value = scored("synthetic", "holdout", family, fitted)
        trtr_value = scored("real", "holdout", family, fitted)
        results.append(
            FamilyUtility(
                family=family,
                model=FAMILY_LABELS[family],
                metric="roc_auc" if task == "classification" else "r2",
                tstr=tstr_value,
                trtr=trtr_value,
                trts=scored("real", "synthetic", family, fitted),
                ratio=_ratio(tstr_value, trtr_value),
            )
        )
    correlation = None
    if len(importances) == 2 and len(importances["real"]) > 1:
        rho = spearmanr(importances["real"], importances["synthetic"]).statistic
        correlation = None if np.isnan(rho) else float(rho)
    else:
        notes.append("feature-importance correlation needs forests trained on both sources")
    return results, correlation, notes


UtilityReport.model_rebuild()
