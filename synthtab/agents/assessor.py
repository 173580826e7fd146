"""Assessor: measures fidelity, utility and detectability of what will be delivered, against a real
holdout, and below the threshold sends the generator concrete adjustments, a bounded number of
times.

The feedback policy is a set of named tools (switch model, train longer, fix a column's type,
condition on a column, raise or lower the temperature), each with a description and a function
that turns the report's weak spots into an ``Adjustment`` of the model's settings — or declines.
A deterministic chooser picks among them today; an LLM can pick through tool calls later from the
same names and descriptions. An adjustment only names settings the model accepts, so the same
policy serves the copula and the neural model.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.io.writers import write_json
from synthtab.models.registry import available_models, get_model
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.summary import THRESHOLDS

NODE = "assessor"
ToolName = Literal[
    "switch_model", "train_longer", "fix_column_type", "condition_on_column", "adjust_temperature"
]
# a model a run may switch to, best first; the neural model learns interactions the copula misses
SWITCH_ORDER = ("argn", "gaussian_copula")
SWITCH_TRAINING_SECONDS = 300.0
WEAK_MARGIN = 0.02  # a score this far below its holdout ceiling is a weak spot
MAX_ADJUSTMENTS_PER_ROUND = 2
# models whose pair trends more training does not move (the copula: fit on every row with finer
# marginals changed credit_data's overall fidelity by ±0.001), so a switch is tried first
LENGTH_INSENSITIVE_MODELS = frozenset({"gaussian_copula"})
# the state a quality round leaves that the reporter reads: restored with the round's rows when
# that round is the one delivered
ROUND_STATE_KEYS = (
    "model_choice",
    "validation",
    "privacy",
    "accepted_rows",
    "exact_copies_removed",
    "near_copies_removed",
    "table",
)


class Adjustment(BaseModel):
    """One change the generator understands: a model to switch to and/or settings to set."""

    tool: ToolName
    model: str | None = Field(default=None, description="switch to this model (None: keep)")
    settings: dict[str, Any] = Field(default_factory=dict, description="setting name -> value")
    column: str | None = None
    why: str


class WeakSpots(BaseModel):
    """What the report says is wrong, in the terms the tools reason with."""

    overall: float
    overall_ceiling: float | None
    column_gap: float = Field(description="holdout column-shape score minus ours")
    pair_gap: float = Field(description="holdout pair-trend score minus ours")
    weak_continuous: list[str] = Field(default_factory=list)
    weak_categorical: list[str] = Field(default_factory=list)
    synthetic_too_diverse: bool | None = Field(
        default=None, description="weak categorical columns spread wider than the real ones"
    )
    target: str | None = None
    target_shares: dict[str, float] | None = None
    tstr_ratio: float | None = None
    detection_auc: float | None = None


class FeedbackTool(BaseModel):
    name: ToolName
    description: str
    settings: list[str] = Field(description="model settings the tool may change")


def _entropy(shares: list[float]) -> float:
    total = sum(shares)
    if total <= 0:
        return 0.0
    return float(-sum((s / total) * math.log(s / total) for s in shares if s > 0))


def find_weak_spots(quality: Mapping[str, Any]) -> WeakSpots:
    """Read the weak spots off a QualityReport dump (a pure function of the report)."""
    reference = quality.get("holdout_reference") or {}
    ceilings = reference.get("column_scores") or {}
    weak_continuous: list[str] = []
    weak_categorical: list[str] = []
    wider = narrower = 0
    target = quality.get("target")
    target_shares: dict[str, float] | None = None
    for column in quality.get("columns") or []:
        name = column["column"]
        plot = column.get("plot") or {}
        if name == target and plot.get("kind") == "categories":
            target_shares = {
                label: float(share)
                for label, share in zip(plot.get("labels", []), plot.get("real", []), strict=False)
                if label not in ("(other)", "(null)") and share > 0
            }
        if column["score"] >= ceilings.get(name, 1.0) - WEAK_MARGIN:
            continue
        if column["metric"] == "ks":
            weak_continuous.append(name)
        else:
            weak_categorical.append(name)
            if _entropy(plot.get("synthetic", [])) > _entropy(plot.get("real", [])):
                wider += 1
            else:
                narrower += 1
    utility = quality.get("utility") or {}
    detection = quality.get("detection") or {}
    return WeakSpots(
        overall=float(quality["overall_score"]),
        overall_ceiling=reference.get("overall_score"),
        column_gap=float(reference.get("column_shape_score", 1.0) - quality["column_shape_score"]),
        pair_gap=float(reference.get("pair_trend_score", 1.0) - quality["pair_trend_score"]),
        weak_continuous=weak_continuous,
        weak_categorical=weak_categorical,
        synthetic_too_diverse=None if not (wider or narrower) else wider > narrower,
        target=target,
        target_shares=target_shares or None,
        tstr_ratio=utility.get("ratio"),
        detection_auc=detection.get("auc"),
    )


# ---- the tools ----------------------------------------------------------------------------------

Proposer = Callable[[WeakSpots, str, dict[str, Any]], Adjustment | None]


def _switch_model(spots: WeakSpots, model: str, settings: dict[str, Any]) -> Adjustment | None:
    others = [m for m in SWITCH_ORDER if m != model and m in available_models()]
    if not others:
        return None
    return Adjustment(
        tool="switch_model",
        model=others[0],
        # a bounded budget: the feedback round must not take longer than the run it improves
        settings={"max_training_seconds": SWITCH_TRAINING_SECONDS} if others[0] == "argn" else {},
        why=f"pair trends trail the holdout by {spots.pair_gap:.3f}: switch to {others[0]}, "
        "which learns interactions beyond pairwise correlation",
    )


def _train_longer(spots: WeakSpots, model: str, settings: dict[str, Any]) -> Adjustment | None:
    change: dict[str, Any] = {}
    if "max_epochs" in settings:
        change["max_epochs"] = int(settings["max_epochs"]) * 2
    if "patience" in settings:
        change["patience"] = int(settings["patience"]) + 4
    if settings.get("max_training_seconds") is not None:
        change["max_training_seconds"] = float(settings["max_training_seconds"]) * 2
    # the copula's "training" is its fit sample and its marginals' resolution
    if "max_fit_rows" in settings and int(settings["max_fit_rows"]) < 1_000_000:
        change["max_fit_rows"] = 1_000_000
    if "max_knots" in settings and int(settings["max_knots"]) < 10_000:
        change["max_knots"] = 10_000
    if not change:
        return None
    return Adjustment(
        tool="train_longer",
        settings=change,
        why=f"fidelity {spots.overall:.3f} trails its holdout ceiling "
        f"{spots.overall_ceiling or 1.0:.3f}: train longer / fit on more rows",
    )


def _fix_column_type(spots: WeakSpots, model: str, settings: dict[str, Any]) -> Adjustment | None:
    if not spots.weak_continuous or "max_discrete_values" not in settings:
        return None
    current = int(settings["max_discrete_values"])
    if current >= 1_000:
        return None
    return Adjustment(
        tool="fix_column_type",
        settings={"max_discrete_values": 1_000},
        column=spots.weak_continuous[0],
        why=f"numeric columns {', '.join(spots.weak_continuous[:3])} miss their real shape: "
        "treat numbers with up to 1,000 distinct values as discrete (sample seen values only)",
    )


def _condition_on_column(
    spots: WeakSpots, model: str, settings: dict[str, Any]
) -> Adjustment | None:
    if "rebalance" not in settings or not spots.target or not spots.target_shares:
        return None
    if spots.tstr_ratio is not None and spots.tstr_ratio >= THRESHOLDS["tstr_ratio"]:
        return None
    return Adjustment(
        tool="condition_on_column",
        settings={"rebalance": {spots.target: spots.target_shares}},
        column=spots.target,
        why=f"TSTR ratio {spots.tstr_ratio if spots.tstr_ratio is not None else float('nan'):.3f}"
        f": generate conditioned on {spots.target} at its real class shares",
    )


def _adjust_temperature(
    spots: WeakSpots, model: str, settings: dict[str, Any]
) -> Adjustment | None:
    if "temperature" not in settings or spots.synthetic_too_diverse is None:
        return None
    current = float(settings["temperature"])
    new = round(current * (0.85 if spots.synthetic_too_diverse else 1.15), 3)
    direction = "lower" if spots.synthetic_too_diverse else "raise"
    return Adjustment(
        tool="adjust_temperature",
        settings={"temperature": new},
        why=f"weak categorical columns ({', '.join(spots.weak_categorical[:3])}) are "
        f"{'more' if spots.synthetic_too_diverse else 'less'} spread than the real ones: "
        f"{direction} the temperature {current:g} -> {new:g}",
    )


TOOLS: dict[ToolName, tuple[FeedbackTool, Proposer]] = {
    "switch_model": (
        FeedbackTool(
            name="switch_model",
            description="refit with another model (the neural autoregressive model learns "
            "interactions the Gaussian copula cannot)",
            settings=[],
        ),
        _switch_model,
    ),
    "train_longer": (
        FeedbackTool(
            name="train_longer",
            description="more epochs / patience / time, or for the copula its fit on every row "
            "with finer marginals",
            settings=[
                "max_epochs",
                "patience",
                "max_training_seconds",
                "max_fit_rows",
                "max_knots",
            ],
        ),
        _train_longer,
    ),
    "fix_column_type": (
        FeedbackTool(
            name="fix_column_type",
            description="treat low-cardinality numeric columns as discrete values",
            settings=["max_discrete_values"],
        ),
        _fix_column_type,
    ),
    "condition_on_column": (
        FeedbackTool(
            name="condition_on_column",
            description="generate conditioned on the target column at its real class shares",
            settings=["rebalance"],
        ),
        _condition_on_column,
    ),
    "adjust_temperature": (
        FeedbackTool(
            name="adjust_temperature",
            description="lower the sampling temperature when columns are too spread, raise it "
            "when they are too narrow",
            settings=["temperature"],
        ),
        _adjust_temperature,
    ),
}


def feedback_tools() -> list[FeedbackTool]:
    """The tools' names and descriptions, as an LLM would be offered them."""
    return [tool for tool, _ in TOOLS.values()]


def model_settings(model_choice: Mapping[str, Any]) -> dict[str, Any]:
    """The current settings of the chosen model, defaults filled in: what it accepts."""
    name = model_choice.get("name")
    if name not in available_models():
        return {}
    return {**get_model(name).settings(), **(model_choice.get("settings") or {})}


def tool_order(spots: WeakSpots, model: str | None = None) -> list[ToolName]:
    """The deterministic chooser's preference for these weak spots and the current model."""
    if spots.tstr_ratio is not None and spots.tstr_ratio < THRESHOLDS["tstr_ratio"]:
        first: list[ToolName] = ["condition_on_column"]
    else:
        first = []
    if spots.pair_gap > spots.column_gap and model in LENGTH_INSENSITIVE_MODELS:
        rest: list[ToolName] = [
            "switch_model",
            "train_longer",
            "adjust_temperature",
            "fix_column_type",
        ]
    elif spots.pair_gap > spots.column_gap:
        rest = [
            "train_longer",
            "switch_model",
            "adjust_temperature",
            "fix_column_type",
        ]
    else:
        rest = ["fix_column_type", "adjust_temperature", "train_longer", "switch_model"]
    return [*first, *[t for t in rest if t not in first]]


def applicable_adjustments(
    quality: Mapping[str, Any], model_choice: Mapping[str, Any]
) -> list[Adjustment]:
    """Every tool's proposal for these weak spots, in ``tool_order``: the tools that apply and
    would change something. What the policy chooses from, and what an LLM is offered."""
    spots = find_weak_spots(quality)
    settings = model_settings(model_choice)
    model = str(model_choice.get("name", ""))
    proposals: list[Adjustment] = []
    for name in tool_order(spots, model):
        adjustment = TOOLS[name][1](spots, model, settings)
        if adjustment is None:
            continue
        if adjustment.settings and all(
            settings.get(k) == v for k, v in adjustment.settings.items()
        ):
            continue  # already in place: it cannot change anything
        proposals.append(adjustment)
    return proposals


def choose_adjustments(
    quality: Mapping[str, Any], model_choice: Mapping[str, Any]
) -> list[Adjustment]:
    """The deterministic policy: the first applicable tool in ``tool_order`` and, when both only
    change settings, one more whose settings do not overlap. Empty when nothing is left."""
    chosen: list[Adjustment] = []
    for adjustment in applicable_adjustments(quality, model_choice):
        if chosen and (
            adjustment.model is not None
            or chosen[0].model is not None
            or set(adjustment.settings) & set(chosen[0].settings)
        ):
            continue
        chosen.append(adjustment)
        if adjustment.model is not None or len(chosen) == MAX_ADJUSTMENTS_PER_ROUND:
            break
    return chosen


def apply_adjustments(
    model_choice: Mapping[str, Any], adjustments: list[Adjustment]
) -> dict[str, Any]:
    """The model choice the generator refits with. A switch starts from the new model's
    defaults; settings are only kept where the (new) model accepts them."""
    name = str(model_choice.get("name", ""))
    settings = dict(model_choice.get("settings") or {})
    for adjustment in adjustments:
        if adjustment.model is not None and adjustment.model != name:
            name, settings = adjustment.model, {}
        settings.update(adjustment.settings)
    accepted = set(get_model(name).settings()) if name in available_models() else set()
    return {"name": name, "settings": {k: v for k, v in settings.items() if k in accepted}}


def next_adjustment(
    model_choice: dict[str, Any],
    quality: dict[str, Any],
    quality_round: int,
    *,
    use_llm: bool = False,
) -> dict[str, Any] | None:
    """The generator's feedback for one round: the new model choice, why, the adjustments and
    who chose them (the LLM through tool calls with ``use_llm``, else the policy). None when
    nothing is left to try."""
    if not quality:
        return None
    # the LLM chooser builds on this module's tools: imported here, not at the top, to keep
    # the import one-way at load time
    from synthtab.agents.feedback_chooser import choose_feedback

    choice = choose_feedback(quality, model_choice, use_llm=use_llm)
    adjustments = choice.adjustments
    if not adjustments:
        return None
    return {
        "model_choice": apply_adjustments(model_choice, adjustments),
        "why": "; ".join(a.why for a in adjustments),
        "adjustments": [a.model_dump(mode="json") for a in adjustments],
        "chosen_by": choice.chosen_by,
        "llm_reason": choice.llm_reason,
        "llm_rejection": choice.llm_rejection,
    }


def best_earlier_round(
    earlier: list[Mapping[str, Any]], final: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The earlier quality round to deliver instead of the final one: the highest overall score,
    the earlier round on a tie, and only when it beats the final round strictly. A round that
    accepted fewer rows than the final one does not compete: it would make the run incomplete."""
    best: Mapping[str, Any] | None = None
    for record in earlier:
        if int(record.get("rows") or 0) < int(final.get("rows") or 0):
            continue
        if best is None or float(record["overall"]) > float(best["overall"]):
            best = record
    if best is None or float(best["overall"]) <= float(final["overall"]):
        return None
    return best


def keep_round(
    paths: RunPaths, state: Mapping[str, Any], quality_round: int, quality: dict[str, Any]
) -> None:
    """Keep this round's accepted rows, its quality report and the per-round state the reporter
    reads, before a refit replaces them."""
    shutil.copyfile(paths.accepted, paths.round_pool(quality_round))
    record = {
        "quality_round": quality_round,
        "quality": quality,
        "state": {key: state[key] for key in ROUND_STATE_KEYS if key in state},
    }
    write_json(record, paths.round_record(quality_round))


def restore_round(paths: RunPaths, quality_round: int) -> dict[str, Any] | None:
    """Make a kept round's rows the accepted pool again; its quality and state as an update.
    None when the round was not kept (a run resumed from before rounds were kept)."""
    pool, record = paths.round_pool(quality_round), paths.round_record(quality_round)
    if not (pool.exists() and record.exists()):
        return None
    kept = json.loads(record.read_text(encoding="utf-8"))
    shutil.copyfile(pool, paths.accepted)
    return {**kept["state"], "quality": kept["quality"]}


def _deliver_best(
    state: Mapping[str, Any], paths: RunPaths, update: dict[str, Any], history: dict[str, Any]
) -> dict[str, Any]:
    """The loop has ended: deliver the best round's rows (their validation and privacy checks
    passed in that round), not merely the last round's."""
    quality_round = int(history["quality_round"])
    update = {**update, "quality_history": [history], "delivered_quality_round": quality_round}
    best = best_earlier_round(list(state.get("quality_history") or []), history)
    if best is None:
        return update
    chosen = int(best["quality_round"])
    restored = restore_round(paths, chosen)
    if restored is None:
        update["messages"] = [
            *update.get("messages", []),
            f"assessor: round {chosen} scored higher ({float(best['overall']):.3f}) but its rows "
            f"were not kept; delivering round {quality_round}",
        ]
        return update
    note = (
        f"assessor: delivered round {chosen} (overall {float(best['overall']):.3f}) — later "
        f"rounds scored lower (round {quality_round}: {float(history['overall']):.3f})"
    )
    emit_progress(NODE, note.removeprefix("assessor: "))
    return {
        **update,
        **restored,
        "delivered_quality_round": chosen,
        "messages": [*update.get("messages", []), note],
        "iterations": [
            {
                "iteration": state["generation_round"],
                "node": NODE,
                "action": f"deliver round {chosen}",
                "overall_fidelity": round(float(best["overall"]), 4),
                "reason": note,
            }
        ],
    }


def assess(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    pool = pd.read_parquet(paths.accepted)
    train = pd.read_parquet(paths.train)
    holdout = pd.read_parquet(paths.holdout)
    emit_progress(NODE, f"measuring fidelity{' and TSTR' if request.target else ''}")
    report = assess_quality(
        real_train=train,
        real_holdout=holdout,
        synthetic=pool,
        table=table,
        target=request.target if request.compute_tstr else None,
        seed=request.seed,
    )
    quality = report.model_dump(mode="json")
    score = float(report.overall_score)
    quality_round = state.get("quality_round", 0)
    history = {
        "quality_round": quality_round,
        "generation_round": state["generation_round"],
        "overall": score,
        "column_shapes": report.column_shape_score,
        "pair_trends": report.pair_trend_score,
        "tstr_ratio": report.utility.ratio if report.utility else None,
        "detection_auc": report.detection.auc if report.detection else None,
        "rows": len(pool),
        "model_choice": state.get("model_choice", {}),
        "adjustments": [],
    }
    update: dict[str, Any] = {
        "quality": quality,
        "timings": {NODE: time.perf_counter() - started},
        "next_node": "reporter",
    }
    if score >= request.quality_threshold:
        return _deliver_best(state, paths, update, history)
    if request.epsilon is not None:
        # a refit chosen from scores measured on the training rows is a release outside epsilon
        update["messages"] = [
            f"assessor: overall fidelity {score:.3f} is below the threshold "
            f"{request.quality_threshold:.2f}; under differential privacy the quality feedback "
            "refits are off (each would be chosen from non-private scores)"
        ]
        return _deliver_best(state, paths, update, history)
    feedback = None
    if quality_round < request.max_quality_rounds:
        feedback = next_adjustment(
            state.get("model_choice", {}), quality, quality_round, use_llm=request.llm_feedback
        )
    if feedback is None:
        update["messages"] = [
            f"assessor: overall fidelity {score:.3f} is below the threshold "
            f"{request.quality_threshold:.2f} and no adjustment is left to try"
            + (
                ""
                if quality_round < request.max_quality_rounds
                else f" within the {request.max_quality_rounds} feedback round(s) allowed"
            )
        ]
        return _deliver_best(state, paths, update, history)
    # the refit replaces the accepted rows: keep this round's in case it stays the best
    keep_round(paths, state, quality_round, quality)
    reason = (
        f"assessor: overall fidelity {score:.3f} < {request.quality_threshold:.2f}; "
        f"{feedback['why']}"
    )
    history["adjustments"] = feedback["adjustments"]
    history["chosen_by"] = feedback["chosen_by"]
    if feedback["llm_rejection"]:
        update["messages"] = [f"assessor: the policy chose instead: {feedback['llm_rejection']}"]
    update["quality_history"] = [history]
    update["quality_round"] = quality_round + 1
    update["next_node"] = "generator"
    update["feedback"] = {
        "action": "refit",
        "model_choice": feedback["model_choice"],
        "adjustments": feedback["adjustments"],
        "reason": reason,
    }
    update["iterations"] = [
        {
            "iteration": state["generation_round"],
            "node": NODE,
            "action": "refit: " + ", ".join(a["tool"] for a in feedback["adjustments"]),
            "overall_fidelity": round(score, 4),
            "reason": reason,
            "chosen_by": feedback["chosen_by"],
            "llm_reason": feedback["llm_reason"],
        }
    ]
    return update
