"""Privacy, before and after generation.

privacy(pre) protects the training rows the model will see — personal data replaced by fakes,
rare categories merged, extremes capped — and records what it did; the holdout stays untouched.

privacy(post) removes synthetic rows identical to a training row (and, once the policy has been
triggered, rows nearer a training row than unseen real rows are), then runs the attacks against
the holdout. An attack whose risk is above the threshold sends the run back to the generator
with stronger protection, a bounded number of times; the report lists what changed.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.conditions import in_seed_order
from synthtab.tools.privacy import PrivacyReport, assess_privacy, exact_copies, near_copies
from synthtab.tools.protection import (
    ProtectionPlan,
    ProtectionSettings,
    apply_protection,
    fit_protection,
    protected_table,
)

NODE = "privacy"
PRE_NODE = "privacy_pre"


def _settings(request: GenerationRequest) -> ProtectionSettings:
    private = request.epsilon is not None
    return ProtectionSettings(
        fake_pii=request.fake_pii,
        # under --epsilon both are off: which categories are rare and where the quantiles lie
        # are read off the rows without noise (the DP schema's thresholds do this job)
        rare_category_k=0 if private else request.rare_category_k,
        rare_action=request.rare_category_action,
        cap_quantile=0.0 if private else request.cap_quantile,
    )


DP_OFF_PRE = (
    "differential privacy: rare-category merging and quantile capping are off (each reads the "
    "rows without noise; the DP schema's category threshold and DP bounds take their place)"
)
DP_OFF_POST = (
    "differential privacy: exact-copy removal and the privacy policy's refits are off (each "
    "compares synthetic rows with the training rows, a release outside epsilon); the attacks "
    "still run and are reported as internal measurements, not covered by epsilon"
)


def _protect_training_rows(
    paths: RunPaths, table: Table, settings: ProtectionSettings, request: GenerationRequest
) -> tuple[Table, dict[str, Any]]:
    """Fit a plan on the training rows, rewrite them protected, and return the schema they obey
    and the round's record (plan + report)."""
    train = pd.read_parquet(paths.train)
    plan = fit_protection(train, table, settings, target=request.target)
    protected, report = apply_protection(train, plan, seed=request.seed)
    protected.to_parquet(paths.train)
    record = {
        "plan": plan.model_dump(mode="json"),
        "report": report.model_dump(mode="json"),
    }
    return protected_table(table, plan, protected), record


def privacy_pre(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    settings = _settings(request)
    table, record = _protect_training_rows(paths, table, settings, request)
    actions = record["report"]["actions"]
    summary = (
        ", ".join(f"{a['action']} {a['column']} ({a['values_changed']:,})" for a in actions)
        or "nothing needed protecting"
    )
    emit_progress(PRE_NODE, f"protected the training rows: {summary}")
    dp_note = [DP_OFF_PRE] if request.epsilon is not None else []
    return {
        "table": table.model_dump(mode="json"),
        "protection": {
            "settings": settings.model_dump(mode="json"),
            "rounds": [record],
            "near_copy_filter": False,
        },
        "privacy_round": 0,
        "messages": [f"privacy(pre): {summary}", *dp_note],
        "timings": {PRE_NODE: time.perf_counter() - started},
    }


def faked_columns(protection: dict[str, Any]) -> set[str]:
    """The columns whose training values privacy_pre replaced by fakes."""
    return {f["name"] for r in protection.get("rounds", []) for f in r["plan"]["fakes"]}


def _holdout_in_protected_space(
    holdout: pd.DataFrame, protection: dict[str, Any], seed: int
) -> pd.DataFrame:
    """The holdout through the same merges and caps as the training rows (in memory only), so a
    merged label or a capped value is not mistaken for a difference between them."""
    for record in protection.get("rounds", []):
        plan = ProtectionPlan.model_validate(record["plan"])
        holdout, _ = apply_protection(holdout, plan, seed=seed, fake_pii=False)
    return holdout


def _policy_trigger(report: PrivacyReport, request: GenerationRequest) -> str | None:
    """Why the policy acts on this report, or None."""
    reasons: list[str] = []
    if report.attacks is not None:
        for result in report.attacks.results:
            if result.risk_low > request.privacy_risk_threshold:
                what = result.attack + (f"[{result.column}]" if result.column else "")
                reasons.append(
                    f"{what} risk {result.risk:.3f} (95% CI from {result.risk_low:.3f}) > "
                    f"{request.privacy_risk_threshold:g}"
                )
    if report.risk == "high" and report.dcr_share is not None and report.dcr_share > 0.6:
        reasons.append(f"DCR share {report.dcr_share:.2f} > 0.6")
    return "; ".join(reasons) or None


def protect(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    generation_round = state["generation_round"]
    rows_wanted = request.rows or 0
    protection = state.get("protection") or {}
    faked = faked_columns(protection)

    pool = pd.read_parquet(paths.accepted) if state.get("accepted_rows", 0) else None
    if pool is None:
        pool = pd.read_parquet(paths.candidate(generation_round)).iloc[0:0]
    train = pd.read_parquet(paths.train)
    holdout = _holdout_in_protected_space(pd.read_parquet(paths.holdout), protection, request.seed)
    removed_now = near_now = 0
    private = request.epsilon is not None
    if request.remove_exact_copies and len(pool) and not private:
        copies = exact_copies(pool, train, table, ignore_columns=faked)
        removed_now = int(copies.sum())
        if removed_now:
            pool = pool[~copies.to_numpy()].reset_index(drop=True)
    if protection.get("near_copy_filter") and len(pool):
        close, threshold = near_copies(
            pool, train, holdout, table, request.seed, ignore_columns=faked
        )
        near_now = int(close.sum())
        if near_now:
            pool = pool[~close.to_numpy()].reset_index(drop=True)
            emit_progress(
                NODE, f"removed {near_now:,} rows nearer a training row than {threshold:.4f}"
            )
    if removed_now or near_now:
        pool.to_parquet(paths.accepted)
    removed_total = state.get("exact_copies_removed", 0) + removed_now
    near_total = state.get("near_copies_removed", 0) + near_now
    short = rows_wanted - len(pool)
    update: dict[str, Any] = {
        "accepted_rows": len(pool),
        "exact_copies_removed": removed_total,
        "near_copies_removed": near_total,
        "timings": {NODE: time.perf_counter() - started},
    }
    if removed_now or near_now:
        emit_progress(NODE, f"removed {removed_now:,} synthetic rows identical to a training row")
        update["iterations"] = [
            {
                "iteration": generation_round,
                "node": NODE,
                "action": "remove exact and near copies",
                "rows_removed": removed_now + near_now,
                "reason": "synthetic rows identical to (or nearer than unseen real rows are to) a "
                "training row are never delivered",
            }
        ]
    if short > 0 and (removed_now or near_now) and generation_round < request.max_validation_rounds:
        update["next_node"] = "generator"
        update["feedback"] = {
            "action": "refill",
            "rows_needed": short,
            "acceptance_rate": None,
            "reason": f"privacy: {removed_now + near_now:,} copies of training rows removed",
        }
        return update

    emit_progress(NODE, "measuring distance to closest record and running the attacks")
    sensitive = request.sensitive_columns or ([request.target] if request.target else [])
    report = assess_privacy(
        train=train,
        holdout=holdout,
        synthetic=in_seed_order(pool),
        table=table,
        seed=request.seed,
        exact_copies_removed=removed_total,
        attacks=request.privacy_attacks,
        sensitive_columns=[c for c in sensitive if c not in faked],
        ignore_columns=faked,
    )
    policy = list(state.get("privacy_policy") or [])
    report = report.model_copy(
        update={
            "near_copies_removed": near_total,
            "protection": [r["report"] for r in protection.get("rounds", [])],
        }
    )
    privacy_round = state.get("privacy_round", 0)
    trigger = _policy_trigger(report, request)
    if private:
        policy.append(
            {
                "round": privacy_round,
                "action": "none: " + DP_OFF_POST,
                "reason": trigger or "no attack above the threshold",
            }
        )
        trigger = None
    if trigger and privacy_round < request.max_privacy_rounds:
        escalation = _escalate(state, request, table, paths, protection, trigger, report)
        escalation["iterations"] = [*update.get("iterations", []), *escalation["iterations"]]
        return {**update, **escalation}
    if trigger:
        policy.append(
            {
                "round": privacy_round,
                "action": "none: the bound on privacy rounds is reached",
                "reason": trigger,
            }
        )
    report = report.model_copy(update={"policy": policy})
    update["privacy"] = report.model_dump(mode="json")
    update["privacy_policy"] = policy
    update["next_node"] = "assessor"
    update["timings"] = {NODE: time.perf_counter() - started}
    return update


def _escalate(
    state: dict[str, Any],
    request: GenerationRequest,
    table: Table,
    paths: RunPaths,
    protection: dict[str, Any],
    trigger: str,
    report: PrivacyReport,
) -> dict[str, Any]:
    """One step up: stronger protection of the training rows, the near-copy filter on, a refit."""
    before = ProtectionSettings.model_validate(protection.get("settings") or {})
    after = before.stronger()
    table, record = _protect_training_rows(paths, table, after, request)
    privacy_round = state.get("privacy_round", 0) + 1
    change = (
        f"rare-category k {before.rare_category_k} → {after.rare_category_k}, cap quantile "
        f"{before.cap_quantile:g} → {after.cap_quantile:g}, near-copy filter on"
    )
    entry = {
        "round": privacy_round,
        "action": "stronger protection and refit",
        "reason": trigger,
        "changes": change,
        "risk_before": report.risk,
        "attacks_before": report.attacks.model_dump(mode="json") if report.attacks else None,
    }
    emit_progress(NODE, f"privacy risk too high ({trigger}): {change}")
    return {
        "table": table.model_dump(mode="json"),
        "protection": {
            "settings": after.model_dump(mode="json"),
            "rounds": [*protection.get("rounds", []), record],
            "near_copy_filter": True,
        },
        "privacy_round": privacy_round,
        "privacy_policy": [*(state.get("privacy_policy") or []), entry],
        "next_node": "generator",
        "feedback": {
            "action": "refit",
            "model_choice": {},
            "acceptance_rate": None,
            "reason": f"privacy: {trigger}; {change}",
        },
        "iterations": [
            {
                "iteration": state["generation_round"],
                "node": NODE,
                "action": "stronger protection and refit",
                "reason": trigger,
                "changes": change,
            }
        ],
    }
