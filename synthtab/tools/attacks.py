"""Privacy attacks on synthetic data, each measured against real rows the generator never saw.

Every attack is run twice: on *targets* (training rows, which the model saw) and on *controls*
(holdout rows, which it did not). What the attacker achieves on controls is what anyone would
achieve from the population alone; only the excess on targets is a leak. Following anonymeter
(Giomi et al., PoPETs 2023), that excess is reported as a risk in [0, 1]:
``(target_rate - control_rate) / (1 - control_rate)``, with a 95% interval from the Wilson
interval of the target rate. Membership inference reports the attacker's advantage
``2 * (AUC - 0.5)`` with a bootstrap interval.

Attacks: nearest-neighbour distance ratio (NNDR), distance-based membership inference, attribute
inference on chosen sensitive columns, singling out (multivariate predicates read off synthetic
rows) and linkability (two halves of the columns pointing at the same synthetic row).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from synthtab.schema import Table
from synthtab.tools.encoding import (
    category_keys,
    column_kind,
    deterministic_sample,
    distance_features,
    fit_encoding,
    metric_columns,
    to_continuous,
)
from synthtab.tools.native_threads import single_native_thread

RiskLevel = Literal["low", "medium", "high"]
Z_95 = 1.959964
# the lower end of a risk's interval above these makes it medium / high
MEDIUM_RISK = 0.05
HIGH_RISK = 0.20
ENCODING_CATEGORIES = 20
SINGLING_OUT_COLUMNS = 3
NUMERIC_TOLERANCE = 0.05  # attribute inference: a numeric guess within 5% counts as right


class AttackSettings(BaseModel):
    targets: int = Field(default=500, ge=10, description="training and holdout rows attacked")
    synthetic_rows: int = Field(default=5_000, ge=10)
    singling_out_queries: int = Field(default=500, ge=10)
    bootstrap_rounds: int = Field(default=200, ge=10)
    medium_risk: float = MEDIUM_RISK
    high_risk: float = HIGH_RISK


class AttackResult(BaseModel):
    """One attack's outcome, with the baseline it is judged against."""

    attack: str
    column: str | None = Field(default=None, description="the secret, for attribute inference")
    target_rate: float = Field(description="attacker's success on training rows (AUC for MIA)")
    control_rate: float = Field(description="the same on holdout rows (0.5 for MIA)")
    risk: float = Field(description="excess over the control, normalised to [0, 1]")
    risk_low: float
    risk_high: float
    trials: int
    level: RiskLevel
    verdict: str


class AttackReport(BaseModel):
    results: list[AttackResult]
    level: RiskLevel
    max_risk: float
    max_risk_low: float = Field(description="the largest lower interval end among the attacks")
    columns: list[str] = Field(description="columns the attacker used")
    verdict: str


# ---- statistics -----------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial rate (sound near 0 and 1, unlike the normal one)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def normalised_risk(target_rate: float, control_rate: float) -> float:
    if control_rate >= 1.0:
        return 0.0
    return (target_rate - control_rate) / (1.0 - control_rate)


def _level(risk_low: float, settings: AttackSettings) -> RiskLevel:
    if risk_low > settings.high_risk:
        return "high"
    if risk_low > settings.medium_risk:
        return "medium"
    return "low"


def _rate_result(
    attack: str,
    target_successes: int,
    control_successes: int,
    trials: int,
    settings: AttackSettings,
    what: str,
    column: str | None = None,
    compared: tuple[str, str] = ("training rows", "unseen rows"),
) -> AttackResult:
    target_rate = target_successes / max(trials, 1)
    control_rate = control_successes / max(trials, 1)
    low, high = wilson_interval(target_successes, trials)
    risk = normalised_risk(target_rate, control_rate)
    risk_low = max(0.0, normalised_risk(low, control_rate))
    risk_high = min(1.0, max(0.0, normalised_risk(high, control_rate)))
    level = _level(risk_low, settings)
    verdict = (
        f"{what}: {target_rate:.1%} of {compared[0]} vs {control_rate:.1%} of {compared[1]}; "
        f"risk {max(risk, 0.0):.3f} (95% CI {risk_low:.3f}-{risk_high:.3f}) → {level}"
    )
    return AttackResult(
        attack=attack,
        column=column,
        target_rate=target_rate,
        control_rate=control_rate,
        risk=max(risk, 0.0),
        risk_low=risk_low,
        risk_high=risk_high,
        trials=trials,
        level=level,
        verdict=verdict,
    )


# ---- shared preparation --------------------------------------------------------------------------


class _Frames(BaseModel, arbitrary_types_allowed=True):
    targets: pd.DataFrame
    controls: pd.DataFrame
    synthetic: pd.DataFrame
    train: pd.DataFrame
    columns: list[str]


def attack_columns(
    table: Table, frames: list[pd.DataFrame], ignore: set[str] | None = None
) -> list[str]:
    """Columns an attacker can compare: metric columns that are not free text and not ignored
    (personal data replaced by fakes carries nothing to attack)."""
    return [
        c.name
        for c in metric_columns(table, *frames)
        if column_kind(c) != "freeform" and c.name not in (ignore or set())
    ]


def _features(
    reference: pd.DataFrame, table: Table, columns: list[str], *frames: pd.DataFrame
) -> list[np.ndarray]:
    encoding = fit_encoding(reference, table, columns, max_categories=ENCODING_CATEGORIES)
    return [distance_features(f, encoding, table) for f in frames]


def _nearest(reference: np.ndarray, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, ...]:
    index = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute").fit(reference)
    distances, positions = index.kneighbors(queries)
    return distances, positions


def _value_keys(frame: pd.DataFrame, table: Table, columns: list[str]) -> dict[str, np.ndarray]:
    """Each column's values as comparable keys (floats rounded for numbers, text otherwise)."""
    keys: dict[str, np.ndarray] = {}
    for name in columns:
        column = table.column(name)
        if column_kind(column) == "continuous":
            keys[name] = np.round(to_continuous(frame[name], column), 9)
        else:
            keys[name] = category_keys(frame[name], column).to_numpy(dtype=object)
    return keys


# ---- the attacks ---------------------------------------------------------------------------------


def nndr_attack(
    train_x: np.ndarray, control_x: np.ndarray, synthetic_x: np.ndarray, settings: AttackSettings
) -> AttackResult:
    """Nearest-neighbour distance ratio: a synthetic row much nearer its closest training row than
    its second closest sits on one person. The share of synthetic rows with a ratio below the
    holdout's 5th percentile should be 5%; the excess is the risk."""

    def ratios(queries: np.ndarray) -> np.ndarray:
        distances, _ = _nearest(train_x, queries, k=2)
        if distances.shape[1] < 2:
            return np.ones(len(queries))
        second = distances[:, 1]
        return np.where(second > 0, distances[:, 0] / np.maximum(second, 1e-12), 1.0)

    control = ratios(control_x)
    synthetic = ratios(synthetic_x)
    threshold = float(np.quantile(control, 0.05))
    hits = int((synthetic < threshold).sum()) if threshold > 0 else int((synthetic == 0).sum())
    control_hits = int(round(0.05 * len(synthetic))) if threshold > 0 else 0
    return _rate_result(
        "nndr",
        hits,
        control_hits,
        len(synthetic),
        settings,
        f"NNDR below the holdout's 5th percentile ({threshold:.3f})",
        compared=("synthetic rows", "unseen real rows (by construction)"),
    )


def membership_inference(
    targets_x: np.ndarray,
    controls_x: np.ndarray,
    synthetic_x: np.ndarray,
    settings: AttackSettings,
    seed: int,
) -> AttackResult:
    """Distance-based membership inference: the attacker calls a row a training member the
    nearer it lies to the synthetic data. AUC 0.5 means members cannot be told apart."""
    distances, _ = _nearest(synthetic_x, np.vstack([targets_x, controls_x]))
    score = -distances[:, 0]
    truth = np.r_[np.ones(len(targets_x)), np.zeros(len(controls_x))]
    auc = float(roc_auc_score(truth, score))
    rng = np.random.default_rng(seed)
    members, others = np.flatnonzero(truth == 1), np.flatnonzero(truth == 0)
    boots = []
    for _ in range(settings.bootstrap_rounds):
        chosen = np.r_[rng.choice(members, members.size), rng.choice(others, others.size)]
        boots.append(roc_auc_score(truth[chosen], score[chosen]))
    auc_low, auc_high = (float(v) for v in np.quantile(boots, [0.025, 0.975]))
    risk = max(0.0, 2 * (auc - 0.5))
    risk_low, risk_high = max(0.0, 2 * (auc_low - 0.5)), max(0.0, 2 * (auc_high - 0.5))
    level = _level(risk_low, settings)
    return AttackResult(
        attack="membership_inference",
        target_rate=auc,
        control_rate=0.5,
        risk=risk,
        risk_low=risk_low,
        risk_high=risk_high,
        trials=len(truth),
        level=level,
        verdict=(
            f"distance-based membership inference: AUC {auc:.3f} (95% CI {auc_low:.3f}-"
            f"{auc_high:.3f}, 0.5 = no information); advantage {risk:.3f} → {level}"
        ),
    )


def attribute_inference(
    frames: _Frames, table: Table, secret: str, settings: AttackSettings
) -> AttackResult | None:
    """The attacker knows every other column of a person and reads ``secret`` off the nearest
    synthetic row. Success on training rows beyond success on unseen rows is the leak."""
    known = [c for c in frames.columns if c != secret]
    if secret not in frames.columns or not known:
        return None
    synthetic_x, targets_x, controls_x = _features(
        frames.train, table, known, frames.synthetic, frames.targets, frames.controls
    )
    if synthetic_x.shape[1] == 0:
        return None
    column = table.column(secret)
    continuous = column_kind(column) == "continuous"
    secret_keys = _value_keys(frames.synthetic, table, [secret])[secret]

    def successes(rows: pd.DataFrame, rows_x: np.ndarray) -> int:
        _, positions = _nearest(synthetic_x, rows_x)
        guesses = secret_keys[positions[:, 0]]
        truth = _value_keys(rows, table, [secret])[secret]
        if continuous:
            guesses, truth = guesses.astype(float), truth.astype(float)
            right = np.abs(guesses - truth) <= NUMERIC_TOLERANCE * np.maximum(np.abs(truth), 1e-9)
            right |= np.isnan(guesses) & np.isnan(truth)
        else:
            right = guesses == truth
        return int(right.sum())

    trials = min(len(frames.targets), len(frames.controls))
    return _rate_result(
        "attribute_inference",
        successes(frames.targets.iloc[:trials], targets_x[:trials]),
        successes(frames.controls.iloc[:trials], controls_x[:trials]),
        trials,
        settings,
        f"guessing {secret!r} from the other columns",
        column=secret,
    )


def singling_out(
    frames: _Frames, table: Table, settings: AttackSettings, seed: int
) -> AttackResult | None:
    """Predicates read off synthetic rows (``a == x and b == y and c == z`` on a few random
    columns) that match exactly one training row single that person out; the same predicates
    matching exactly one of equally many unseen rows is what chance gives."""
    columns = frames.columns
    if not columns:
        return None
    n = min(len(frames.targets), len(frames.controls))
    targets, controls = frames.targets.iloc[:n], frames.controls.iloc[:n]
    synthetic_keys = _value_keys(frames.synthetic, table, columns)
    target_keys = _value_keys(targets, table, columns)
    control_keys = _value_keys(controls, table, columns)
    rng = np.random.default_rng(seed)
    width = min(SINGLING_OUT_COLUMNS, len(columns))
    queries = min(settings.singling_out_queries, len(frames.synthetic))
    rows = rng.choice(len(frames.synthetic), size=queries, replace=False)
    hit_target = hit_control = 0
    for row in rows:
        chosen = rng.choice(len(columns), size=width, replace=False)
        match_t = np.ones(n, dtype=bool)
        match_c = np.ones(n, dtype=bool)
        for position in chosen:
            name = columns[position]
            value = synthetic_keys[name][row]
            match_t &= _equal(target_keys[name], value)
            match_c &= _equal(control_keys[name], value)
        hit_target += int(match_t.sum() == 1)
        hit_control += int(match_c.sum() == 1)
    return _rate_result(
        "singling_out",
        hit_target,
        hit_control,
        queries,
        settings,
        f"{width}-column predicates from synthetic rows matching exactly one person",
    )


def _equal(keys: np.ndarray, value: object) -> np.ndarray:
    if isinstance(value, float):
        if math.isnan(value):
            return np.isnan(keys.astype(float))
        return keys.astype(float) == value
    return keys == value


def linkability(frames: _Frames, table: Table, settings: AttackSettings) -> AttackResult | None:
    """Two parties each hold half of a person's columns; if both halves' nearest synthetic row is
    the same row, the synthetic data links their records."""
    columns = frames.columns
    if len(columns) < 2:
        return None
    first, second = columns[0::2], columns[1::2]
    n = min(len(frames.targets), len(frames.controls))
    targets, controls = frames.targets.iloc[:n], frames.controls.iloc[:n]

    def links(rows: pd.DataFrame) -> int:
        a_syn, a_rows = _features(frames.train, table, first, frames.synthetic, rows)
        b_syn, b_rows = _features(frames.train, table, second, frames.synthetic, rows)
        _, a_pos = _nearest(a_syn, a_rows)
        _, b_pos = _nearest(b_syn, b_rows)
        return int((a_pos[:, 0] == b_pos[:, 0]).sum())

    return _rate_result(
        "linkability",
        links(targets),
        links(controls),
        n,
        settings,
        "two halves of a record pointing at the same synthetic row",
    )


# ---- all of them ---------------------------------------------------------------------------------


@single_native_thread
def run_attacks(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    table: Table,
    seed: int,
    sensitive_columns: list[str] | None = None,
    ignore_columns: set[str] | None = None,
    settings: AttackSettings | None = None,
) -> AttackReport | None:
    """Every attack on ``synthetic``; None when a frame is empty or no column can be compared."""
    settings = settings or AttackSettings()
    if min(len(train), len(holdout), len(synthetic)) == 0:
        return None
    columns = attack_columns(table, [train, holdout, synthetic], ignore_columns)
    if not columns:
        return None
    n = min(settings.targets, len(train), len(holdout))
    frames = _Frames(
        targets=deterministic_sample(train, n, seed + 11).reset_index(drop=True),
        controls=deterministic_sample(holdout, n, seed + 12).reset_index(drop=True),
        synthetic=deterministic_sample(synthetic, settings.synthetic_rows, seed + 13).reset_index(
            drop=True
        ),
        train=train,
        columns=columns,
    )
    train_x, targets_x, controls_x, synthetic_x = _features(
        pd.concat([frames.targets, frames.controls], ignore_index=True),
        table,
        columns,
        train,
        frames.targets,
        frames.controls,
        frames.synthetic,
    )
    results: list[AttackResult] = [
        nndr_attack(train_x, controls_x, synthetic_x, settings),
        membership_inference(targets_x, controls_x, synthetic_x, settings, seed),
    ]
    for secret in sensitive_columns or []:
        result = attribute_inference(frames, table, secret, settings)
        if result is not None:
            results.append(result)
    for result in (
        singling_out(frames, table, settings, seed),
        linkability(frames, table, settings),
    ):
        if result is not None:
            results.append(result)
    worst = max(results, key=lambda r: (r.risk_low, r.risk))
    level: RiskLevel = max((r.level for r in results), key=("low", "medium", "high").index)
    flagged = [
        r.attack + (f"[{r.column}]" if r.column else "") for r in results if r.level != "low"
    ]
    verdict = (
        f"{len(results)} attacks; highest risk {worst.attack} {worst.risk:.3f} "
        f"(95% CI {worst.risk_low:.3f}-{worst.risk_high:.3f})"
        + (f"; above the medium threshold: {', '.join(flagged)}" if flagged else "; all low")
    )
    return AttackReport(
        results=results,
        level=level,
        max_risk=max(r.risk for r in results),
        max_risk_low=worst.risk_low,
        columns=columns,
        verdict=verdict,
    )
