"""Privacy checks after generation: exact copies of training rows and distance to closest record.

The reference for every figure is real data the generator never saw: real rows of a holdout also
coincide with training rows now and then, and also lie at some distance from them. Synthetic
data is as private as a fresh real sample when it is no closer to the training rows than the
holdout is — a DCR share of 0.5.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.neighbors import NearestNeighbors

from synthtab.schema import Column, SemanticType, Table
from synthtab.tools.encoding import (
    category_keys,
    column_kind,
    deterministic_sample,
    distance_features,
    fit_encoding,
    to_continuous,
)

# distances within this of each other count as a tie (float32 encodings)
TIE_TOLERANCE = 1e-6
DCR_CATEGORIES = 10
RiskLevel = Literal["low", "medium", "high"]
RISK_ORDER: tuple[RiskLevel, ...] = ("low", "medium", "high")


# ---- exact copies ----------------------------------------------------------------------------


def _copy_columns(table: Table, *frames: pd.DataFrame) -> list[str]:
    return [
        c.name
        for c in table.columns
        if c.semantic != SemanticType.id and all(c.name in f.columns for f in frames)
    ]


def _normalised(series: pd.Series, column: Column) -> pd.Series:
    if column_kind(column) == "continuous":
        values = to_continuous(series, column) + 0.0  # -0.0 + 0.0 is 0.0: one zero
        values[np.isnan(values)] = np.nan  # one NaN bit pattern, so nulls hash alike
        return pd.Series(values, index=series.index)
    return category_keys(series, column)


def row_hashes(frame: pd.DataFrame, table: Table, columns: list[str]) -> pd.Series:
    """One 64-bit hash per row over ``columns``, after normalising every value.

    Numbers and datetimes are compared as floats (seconds for datetimes), everything else by
    its category key, so ``1`` and ``1.0``, a date string and its timestamp, ``None`` and ``NaN``
    are equal and a copy is found whatever dtype each side came back with.
    """
    if not columns:
        return pd.Series(np.zeros(len(frame), dtype=np.uint64), index=frame.index)
    normalised = pd.DataFrame(
        {name: _normalised(frame[name], table.column(name)) for name in columns},
        index=frame.index,
    )
    return pd.util.hash_pandas_object(normalised, index=False)


def _copies_of(
    rows: pd.DataFrame, train_hashes: np.ndarray, table: Table, columns: list[str]
) -> pd.Series:
    hashes = row_hashes(rows, table, columns)
    return pd.Series(np.isin(hashes.to_numpy(), train_hashes), index=rows.index, dtype=bool)


def exact_copies(synthetic: pd.DataFrame, train: pd.DataFrame, table: Table) -> pd.Series:
    """True for each synthetic row equal to some training row on every non-id column.

    Nulls compare equal to nulls. The caller removes these rows before delivery.
    """
    columns = _copy_columns(table, synthetic, train)
    if len(train) == 0 or not columns:
        return pd.Series(False, index=synthetic.index, dtype=bool)
    train_hashes = np.unique(row_hashes(train, table, columns).to_numpy())
    return _copies_of(synthetic, train_hashes, table, columns)


def exact_copy_rate(synthetic: pd.DataFrame, train: pd.DataFrame, table: Table) -> float:
    """Share of synthetic rows that copy a training row."""
    if len(synthetic) == 0:
        return 0.0
    return float(exact_copies(synthetic, train, table).mean())


def natural_copy_rate(holdout: pd.DataFrame, train: pd.DataFrame, table: Table) -> float:
    """Share of unseen real rows that coincide with a training row anyway (the baseline)."""
    return exact_copy_rate(holdout, train, table)


# ---- distance to closest record ----------------------------------------------------------------


class DCRReport(BaseModel):
    share: float = Field(
        description="share of synthetic rows closer to train than to holdout (ties halved); 0.5 ideal"
    )
    share_standard_error: float
    synthetic_rows: int
    reference_rows: int = Field(description="rows in each of the train and holdout samples")
    synthetic_to_train_p05: float
    synthetic_to_train_median: float
    holdout_to_train_p05: float
    holdout_to_train_median: float
    distance: str = "euclidean on robust-scaled numbers and one-hot categories (Gower-like)"


def _nearest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    distances, _ = index.kneighbors(queries)
    return distances[:, 0]


def dcr_share(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    seed: int,
    max_rows: int = 5_000,
) -> DCRReport | None:
    """How often a synthetic row is nearer the training rows than equally many unseen real rows.

    Returns None when a frame is empty or no column can be encoded.
    """
    reference_rows = min(len(train), len(holdout), max_rows)
    if reference_rows == 0 or len(synthetic) == 0:
        return None
    train_sample = deterministic_sample(train, reference_rows, seed)
    holdout_sample = deterministic_sample(holdout, reference_rows, seed + 1)
    synthetic_sample = deterministic_sample(synthetic, max_rows, seed + 2)
    encoding = fit_encoding(
        pd.concat([train_sample, holdout_sample], ignore_index=True),
        table,
        [c for c in synthetic.columns if c in train.columns and c in holdout.columns],
        max_categories=DCR_CATEGORIES,
    )
    if not encoding.columns:
        return None
    train_x = distance_features(train_sample, encoding, table)
    holdout_x = distance_features(holdout_sample, encoding, table)
    synthetic_x = distance_features(synthetic_sample, encoding, table)

    to_train = _nearest(train_x, synthetic_x)
    to_holdout = _nearest(holdout_x, synthetic_x)
    holdout_to_train = _nearest(train_x, holdout_x)
    tie = np.abs(to_train - to_holdout) <= TIE_TOLERANCE
    closer = (to_train < to_holdout) & ~tie
    share = float(closer.mean() + 0.5 * tie.mean())
    return DCRReport(
        share=share,
        share_standard_error=float(math.sqrt(0.25 / len(synthetic_sample))),
        synthetic_rows=len(synthetic_sample),
        reference_rows=reference_rows,
        synthetic_to_train_p05=float(np.quantile(to_train, 0.05)),
        synthetic_to_train_median=float(np.median(to_train)),
        holdout_to_train_p05=float(np.quantile(holdout_to_train, 0.05)),
        holdout_to_train_median=float(np.median(holdout_to_train)),
    )


# ---- the privacy agent's report -----------------------------------------------------------------


class PrivacyReport(BaseModel):
    exact_copies_removed: int = Field(default=0, description="filled by the caller")
    exact_copy_rate: float = Field(description="synthetic rows copying a training row, as assessed")
    natural_copy_rate: float | None = Field(description="holdout rows copying a training row")
    dcr_share: float | None
    dcr: DCRReport | None
    risk: RiskLevel
    verdict: str


def _judge(
    dcr: DCRReport | None, copy_rate: float, natural_rate: float | None
) -> tuple[RiskLevel, str]:
    sentences: list[str] = []
    risk: RiskLevel = "low"
    if dcr is None:
        sentences.append("DCR share not computed: a frame was empty or had no usable column")
    else:
        # within sampling noise of 0.5 (and a small practical margin) counts as 0.5
        margin = max(0.03, 3 * dcr.share_standard_error)
        share = f"DCR share {dcr.share:.2f}"
        if dcr.share <= 0.5 + margin:
            if dcr.share < 0.5 - margin:
                sentences.append(
                    f"{share} < 0.5: synthetic rows are farther from training rows than unseen "
                    "real rows are"
                )
            else:
                sentences.append(
                    f"{share} ≈ 0.5: synthetic rows are no closer to training rows than unseen "
                    "real rows are"
                )
        elif dcr.share <= 0.6:
            risk = "medium"
            sentences.append(
                f"{share} > 0.5: synthetic rows are somewhat closer to training rows than unseen "
                "real rows are"
            )
        else:
            risk = "high"
            sentences.append(
                f"{share} ≫ 0.5: synthetic rows sit much closer to training rows than unseen "
                "real rows do — the model may have memorised them"
            )
    baseline = natural_rate if natural_rate is not None else 0.0
    if copy_rate > baseline + 0.01:
        risk = "high" if copy_rate > baseline + 0.05 else max(risk, "medium", key=RISK_ORDER.index)
        reference = (
            f"real holdout: {natural_rate:.1%}" if natural_rate is not None else "no holdout"
        )
        sentences.append(f"{copy_rate:.1%} of synthetic rows copy a training row ({reference})")
    return risk, "; ".join(sentences) + "."


def assess_privacy(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    seed: int,
    max_rows: int = 5_000,
    exact_copies_removed: int = 0,
) -> PrivacyReport:
    """Copy rates and DCR share of ``synthetic`` against the training rows, with a verdict."""
    columns = _copy_columns(table, synthetic, train, holdout)
    copy_rate, natural = 0.0, None
    if columns and len(train):
        # hashing the training rows is the expensive part: do it once for both rates
        train_hashes = np.unique(row_hashes(train, table, columns).to_numpy())
        if len(synthetic):
            copy_rate = float(_copies_of(synthetic, train_hashes, table, columns).mean())
        if len(holdout):
            natural = float(_copies_of(holdout, train_hashes, table, columns).mean())
    elif len(holdout):
        natural = 0.0
    dcr = dcr_share(train, holdout, synthetic, table, seed, max_rows)
    risk, verdict = _judge(dcr, copy_rate, natural)
    return PrivacyReport(
        exact_copies_removed=exact_copies_removed,
        exact_copy_rate=copy_rate,
        natural_copy_rate=natural,
        dcr_share=dcr.share if dcr is not None else None,
        dcr=dcr,
        risk=risk,
        verdict=verdict,
    )
