"""The report's plain-language summary: a few sentences a reader can act on.

This is the deterministic template used when no LLM is configured. Every number in it is read
from the report and printed with the same rounding the report uses; nothing is estimated here.
An LLM-written summary replaces it through the same signature: ``summarize_report(report)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# thresholds a reader is told about; the report's own pass/fail uses the same ones
THRESHOLDS: Mapping[str, float] = {
    "overall_score": 0.80,
    "column_shape_score": 0.80,
    "pair_trend_score": 0.80,
    "tstr_ratio": 0.90,
    "detection_score": 0.50,
}
WEAK_COLUMN_MARGIN = 0.05


def thresholds_of(report: Mapping[str, Any]) -> dict[str, float]:
    """The default thresholds, overridden by those the run was given (``report["thresholds"]``)."""
    given = report.get("thresholds")
    overrides = {
        k: float(v)
        for k, v in (given.items() if isinstance(given, Mapping) else [])
        if isinstance(v, int | float)
    }
    return {**THRESHOLDS, **overrides}  # a column this far under its holdout score is called out


def round_merit(
    overall: float, detection_score: float | None = None, tstr_ratio: float | None = None
) -> float:
    """One number to rank a run's quality rounds: the mean of overall fidelity, the detection
    score (1 - 2|AUC - 0.5|) and the TSTR ratio capped at 1, over those measured. Each is 1 at
    its best, so a round that trades a little fidelity for rows a classifier can no longer tell
    apart, or for a model that learns the target as well as from real rows, ranks higher."""
    parts = [float(overall)]
    if detection_score is not None and math.isfinite(detection_score):
        parts.append(float(detection_score))
    if tstr_ratio is not None and math.isfinite(tstr_ratio):
        parts.append(min(float(tstr_ratio), 1.0))
    return sum(parts) / len(parts)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _f(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "n/a"


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def weak_columns(quality: Mapping[str, Any], limit: int = 3) -> list[tuple[str, float, float]]:
    """(column, score, holdout score) of the columns furthest below their holdout ceiling."""
    reference = _mapping(_mapping(quality.get("holdout_reference")).get("column_scores"))
    gaps: list[tuple[float, str, float, float]] = []
    for column in quality.get("columns") or []:
        column = _mapping(column)
        name, score = column.get("column"), column.get("score")
        ceiling = reference.get(name, 1.0)
        if isinstance(score, int | float) and isinstance(ceiling, int | float):
            if ceiling - score > WEAK_COLUMN_MARGIN:
                gaps.append((ceiling - score, str(name), float(score), float(ceiling)))
    gaps.sort(key=lambda g: (-g[0], g[1]))
    return [(name, score, ceiling) for _, name, score, ceiling in gaps[:limit]]


def summarize_report(report: Mapping[str, Any]) -> str:
    """A short paragraph per topic (fidelity, utility, detection, rules, privacy, feedback)."""
    quality = _mapping(report.get("quality"))
    privacy = _mapping(report.get("privacy"))
    validation = _mapping(report.get("validation"))
    sentences: list[str] = []
    thresholds = thresholds_of(report)
    if quality:
        reference = _mapping(quality.get("holdout_reference"))
        overall = quality.get("overall_score")
        verdict = (
            "meets"
            if isinstance(overall, int | float) and overall >= thresholds["overall_score"]
            else "falls short of"
        )
        sentences.append(
            f"Overall fidelity is {_f(overall)} (column shapes {_f(quality.get('column_shape_score'))}"
            f", pair trends {_f(quality.get('pair_trend_score'))}); a real holdout scores "
            f"{_f(reference.get('overall_score'))} on the same test, and the result {verdict} the "
            f"{thresholds['overall_score']:.2f} threshold."
        )
        weak = weak_columns(quality)
        if weak:
            listed = "; ".join(f"{n} {s:.3f} (holdout {c:.3f})" for n, s, c in weak)
            sentences.append(f"Columns furthest below their holdout score: {listed}.")
        else:
            sentences.append("No column is more than 0.05 below its holdout score.")
        utility = _mapping(quality.get("utility"))
        if utility.get("status") == "ok" and utility.get("ratio") is not None:
            sentences.append(
                f"A model trained on the synthetic rows reaches {_f(utility.get('ratio'))} of the "
                f"{utility.get('primary_metric')} of one trained on real rows, predicting "
                f"{utility.get('target')} on the holdout."
            )
        detection = _mapping(quality.get("detection"))
        if detection.get("auc") is not None:
            sentences.append(
                f"A classifier tells synthetic from real rows with AUC {_f(detection.get('auc'))} "
                f"(0.5 means it cannot; real holdout rows get {_f(detection.get('holdout_auc'))})."
            )
    if validation:
        checks = [_mapping(c) for c in validation.get("checks") or []]
        failed = [c.get("name") for c in checks if (c.get("violations") or 0) > 0]
        if failed:
            sentences.append(
                f"{_n(validation.get('violating_rows'))} of {_n(validation.get('rows'))} rows break at "
                f"least one of {len(checks)} checks, among them: {', '.join(map(str, failed[:4]))}."
            )
        else:
            sentences.append(
                f"All {_n(validation.get('rows'))} rows pass all {len(checks)} checks."
            )
    if privacy:
        share = privacy.get("dcr_share")
        sentences.append(
            f"Privacy risk is {privacy.get('risk', 'unknown')}: DCR share {_f(share)} (0.5 is "
            f"ideal) and exact-copy rate {_f(privacy.get('exact_copy_rate'))}."
        )
    history = [_mapping(h) for h in report.get("quality_history") or []]
    if len(history) > 1:
        first, last = history[0].get("overall"), history[-1].get("overall")
        sentences.append(
            f"The assessor's feedback ran {len(history) - 1} extra round(s): overall fidelity went "
            f"from {_f(first)} to {_f(last)}."
        )
        delivered = report.get("quality_round_delivered")
        chosen = [h for h in history if h.get("quality_round") == delivered]
        if delivered is not None and chosen and chosen[0] is not history[-1]:
            sentences.append(
                f"The delivered rows are round {delivered}'s (overall fidelity "
                f"{_f(chosen[0].get('overall'))}): later rounds ranked lower on fidelity, detection "
                "and TSTR together."
            )
    return " ".join(sentences) if sentences else "The report holds no metrics to summarise."
