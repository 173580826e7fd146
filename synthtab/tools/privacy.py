"""Privacy checks after generation: exact copies of training rows and distance to closest record.

The reference for every figure is real data the generator never saw: real rows of a holdout also
coincide with training rows now and then, and also lie at some distance from them. Synthetic
data is as private as a fresh real sample when it is no closer to the training rows than the
holdout is — a DCR share of 0.5.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.neighbors import NearestNeighbors

from synthtab.schema import Column, SemanticType, Table
from synthtab.tools.attacks import AttackReport, AttackSettings, run_attacks
from synthtab.tools.encoding import (
    category_keys,
    column_kind,
    deterministic_sample,
    distance_features,
    fit_encoding,
    to_continuous,
)
from synthtab.tools.native_threads import single_native_thread

# distances within this of each other count as a tie (float32 encodings)
TIE_TOLERANCE = 1e-6
DCR_CATEGORIES = 10
RiskLevel = Literal["low", "medium", "high"]
RISK_ORDER: tuple[RiskLevel, ...] = ("low", "medium", "high")


# ---- exact copies ----------------------------------------------------------------------------


def _copy_columns(
    table: Table, *frames: pd.DataFrame, ignore: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Columns a copy is judged on: not ids (issued fresh) and not ``ignore`` (say, personal
    data replaced by fakes, which would hide a copy of everything else)."""
    return [
        c.name
        for c in table.columns
        if c.semantic != SemanticType.id
        and c.name not in ignore
        and all(c.name in f.columns for f in frames)
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


def exact_copies(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    table: Table,
    ignore_columns: set[str] | frozenset[str] = frozenset(),
) -> pd.Series:
    """True for each synthetic row equal to some training row on every non-id column outside
    ``ignore_columns``.

    Nulls compare equal to nulls. The caller removes these rows before delivery.
    """
    columns = _copy_columns(table, synthetic, train, ignore=ignore_columns)
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


def near_copies(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    table: Table,
    seed: int,
    quantile: float = 0.05,
    ignore_columns: set[str] | frozenset[str] = frozenset(),
    max_rows: int = 20_000,
) -> tuple[pd.Series, float]:
    """True for each synthetic row nearer a training row than all but ``quantile`` of unseen real
    rows are, and that distance threshold.

    Exact copies miss a memorised row with one value nudged; this does not. The threshold is the
    holdout's own ``quantile`` of distance to the training rows, so rows a fresh real sample
    would also produce are kept; where that quantile is 0 (duplicates are natural in the data)
    only exact matches fall under it.
    """
    none = pd.Series(False, index=synthetic.index, dtype=bool)
    if min(len(train), len(holdout), len(synthetic)) == 0:
        return none, 0.0
    train_sample = deterministic_sample(train, max_rows, seed)
    holdout_sample = deterministic_sample(holdout, max_rows, seed + 1)
    columns = [
        c
        for c in synthetic.columns
        if c in train.columns and c in holdout.columns and c not in ignore_columns
    ]
    encoding = fit_encoding(
        pd.concat([train_sample, holdout_sample], ignore_index=True),
        table,
        columns,
        max_categories=DCR_CATEGORIES,
    )
    if not encoding.columns:
        return none, 0.0
    train_x = distance_features(train_sample, encoding, table)
    threshold = float(
        np.quantile(_nearest(train_x, distance_features(holdout_sample, encoding, table)), quantile)
    )
    to_train = _nearest(train_x, distance_features(synthetic, encoding, table))
    close = to_train <= TIE_TOLERANCE if threshold <= TIE_TOLERANCE else to_train < threshold
    return pd.Series(close, index=synthetic.index, dtype=bool), threshold


# ---- the privacy agent's report -----------------------------------------------------------------


class PrivacyReport(BaseModel):
    exact_copies_removed: int = Field(default=0, description="filled by the caller")
    exact_copy_rate: float = Field(description="synthetic rows copying a training row, as assessed")
    natural_copy_rate: float | None = Field(description="holdout rows copying a training row")
    dcr_share: float | None
    dcr: DCRReport | None
    risk: RiskLevel
    verdict: str
    attacks: AttackReport | None = Field(
        default=None, description="NNDR, membership, attribute inference, singling out, linkage"
    )
    near_copies_removed: int = Field(default=0, description="filled by the caller")
    protection: list[dict[str, Any]] = Field(
        default_factory=list, description="what privacy(pre) did to the training rows, per round"
    )
    policy: list[dict[str, Any]] = Field(
        default_factory=list, description="each time the policy sent the run back, and why"
    )


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


@single_native_thread
def assess_privacy(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    seed: int,
    max_rows: int = 5_000,
    exact_copies_removed: int = 0,
    attacks: bool = False,
    sensitive_columns: list[str] | None = None,
    ignore_columns: set[str] | frozenset[str] = frozenset(),
    attack_settings: AttackSettings | None = None,
) -> PrivacyReport:
    """Copy rates and DCR share of ``synthetic`` against the training rows, with a verdict; with
    ``attacks`` also every attack of ``synthtab.tools.attacks``, whose worst level raises the
    risk. ``ignore_columns`` (faked personal data) take part in no figure."""
    if ignore_columns:
        keep = [c for c in synthetic.columns if c not in ignore_columns]
        train = train[[c for c in train.columns if c not in ignore_columns]]
        holdout = holdout[[c for c in holdout.columns if c not in ignore_columns]]
        synthetic = synthetic[keep]
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
    attack_report = None
    if attacks:
        attack_report = run_attacks(
            train, holdout, synthetic, table, seed, sensitive_columns, settings=attack_settings
        )
        if attack_report is not None:
            risk = max(risk, attack_report.level, key=RISK_ORDER.index)
            verdict = f"{verdict[:-1]}; {attack_report.verdict}."
    return PrivacyReport(
        attacks=attack_report,
        exact_copies_removed=exact_copies_removed,
        exact_copy_rate=copy_rate,
        natural_copy_rate=natural,
        dcr_share=dcr.share if dcr is not None else None,
        dcr=dcr,
        risk=risk,
        verdict=verdict,
    )
