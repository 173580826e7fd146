"""Assessor: measures fidelity, utility and detectability of what will be delivered, against a real
holdout, and when any of them misses its threshold (fidelity below, detection AUC above, TSTR
ratio below) sends the generator concrete adjustments, a bounded number of times.

The feedback policy is a set of named tools (switch model, train longer, fix a column's type,
condition on a column, raise or lower the temperature), each with a description and a function
that turns the report's weak spots into an ``Adjustment`` of the model's settings — or declines.
Which tools are tried first depends on the metric that failed. A deterministic chooser picks
among them, or an LLM through tool calls (feedback_chooser.py). An adjustment only names settings
the model accepts, so the same policy serves the copula and the neural model.

The policy learns from the rounds it has seen: every round is ranked by one merit (fidelity,
detection and TSTR together), the next round always starts from the best round's settings, and
an adjustment that made a round worse than the one it started from is not tried again, nor is a
configuration already measured. When nothing promising is left the loop stops, and the best
round's rows are delivered.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.io.writers import write_json
from synthtab.models.registry import available_models, get_model
from synthtab.schema import GenerationRequest, Table
from synthtab.tools.conditions import in_seed_order, resolve_conditions
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.summary import round_merit

NODE = "assessor"
ToolName = Literal[
    "switch_model", "train_longer", "fix_column_type", "condition_on_column", "adjust_temperature"
]
# the metrics that send feedback, in the order their tools are tried when several fail
MetricName = Literal["utility", "detection", "fidelity"]
METRIC_ORDER: tuple[MetricName, ...] = ("utility", "detection", "fidelity")
# a model a run may switch to, best first; the neural model learns interactions the copula misses
SWITCH_ORDER = ("argn", "gaussian_copula")
SWITCH_TRAINING_SECONDS = 300.0
WEAK_MARGIN = 0.02  # a score this far below its holdout ceiling is a weak spot
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


def _request_default(field: str) -> float:
    return float(GenerationRequest.model_fields[field].default)


class FeedbackThresholds(BaseModel):
    """When the assessor sends feedback: any one metric on the wrong side is enough."""

    fidelity: float = Field(
        default=_request_default("quality_threshold"), description="overall fidelity at least"
    )
    detection_auc: float = Field(
        default=_request_default("detection_threshold"), description="detection AUC at most"
    )
    tstr_ratio: float = Field(
        default=_request_default("tstr_threshold"), description="TSTR ratio at least"
    )

    @classmethod
    def of(cls, request: GenerationRequest) -> FeedbackThresholds:
        return cls(
            fidelity=request.quality_threshold,
            detection_auc=request.detection_threshold,
            tstr_ratio=request.tstr_threshold,
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
    failing: list[MetricName] = Field(
        default_factory=list, description="the metrics on the wrong side of their threshold"
    )
    thresholds: FeedbackThresholds = Field(default_factory=FeedbackThresholds)


class FeedbackTool(BaseModel):
    name: ToolName
    description: str
    settings: list[str] = Field(description="model settings the tool may change")


def _entropy(shares: list[float]) -> float:
    total = sum(shares)
    if total <= 0:
        return 0.0
    return float(-sum((s / total) * math.log(s / total) for s in shares if s > 0))


def failing_metrics(
    overall: float,
    detection_auc: float | None,
    tstr_ratio: float | None,
    thresholds: FeedbackThresholds,
) -> list[MetricName]:
    """The metrics on the wrong side of their threshold, in ``METRIC_ORDER``."""
    failing: dict[MetricName, bool] = {
        "utility": tstr_ratio is not None and tstr_ratio < thresholds.tstr_ratio,
        "detection": detection_auc is not None and detection_auc > thresholds.detection_auc,
        "fidelity": overall < thresholds.fidelity,
    }
    return [metric for metric in METRIC_ORDER if failing[metric]]


def describe_failing(spots: WeakSpots) -> list[str]:
    """Each failing metric against its threshold, as a reader would say it."""
    limits = spots.thresholds
    said: dict[MetricName, str] = {
        "utility": f"TSTR ratio {spots.tstr_ratio or 0.0:.3f} < {limits.tstr_ratio:g}",
        "detection": f"detection AUC {spots.detection_auc or 0.0:.3f} > {limits.detection_auc:g}",
        "fidelity": f"overall fidelity {spots.overall:.3f} < {limits.fidelity:g}",
    }
    return [said[metric] for metric in spots.failing]


def find_weak_spots(
    quality: Mapping[str, Any], thresholds: FeedbackThresholds | None = None
) -> WeakSpots:
    """Read the weak spots off a QualityReport dump (a pure function of the report), and which
    metrics fail ``thresholds`` (the request's defaults when not given)."""
    thresholds = thresholds or FeedbackThresholds()
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
    overall = float(quality["overall_score"])
    tstr_ratio, detection_auc = utility.get("ratio"), detection.get("auc")
    return WeakSpots(
        overall=overall,
        overall_ceiling=reference.get("overall_score"),
        column_gap=float(reference.get("column_shape_score", 1.0) - quality["column_shape_score"]),
        pair_gap=float(reference.get("pair_trend_score", 1.0) - quality["pair_trend_score"]),
        weak_continuous=weak_continuous,
        weak_categorical=weak_categorical,
        synthetic_too_diverse=None if not (wider or narrower) else wider > narrower,
        target=target,
        target_shares=target_shares or None,
        tstr_ratio=tstr_ratio,
        detection_auc=detection_auc,
        failing=failing_metrics(overall, detection_auc, tstr_ratio, thresholds),
        thresholds=thresholds,
    )


def as_weak_spots(weak: WeakSpots | Mapping[str, Any]) -> WeakSpots:
    """Weak spots as given, or read off a QualityReport dump with the default thresholds."""
    return weak if isinstance(weak, WeakSpots) else find_weak_spots(weak)


def _weakness(spots: WeakSpots) -> str:
    """The first failing metric against its threshold: what an adjustment answers to."""
    failing = describe_failing(spots)
    if failing:
        return failing[0]
    return f"fidelity {spots.overall:.3f} trails its holdout ceiling {spots.overall_ceiling or 1.0:.3f}"


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
        why=f"{_weakness(spots)}"
        + (f", pair trends trail the holdout by {spots.pair_gap:.3f}" if spots.pair_gap > 0 else "")
        + f": switch to {others[0]}"
        + (
            ", which learns interactions beyond pairwise correlation" if others[0] == "argn" else ""
        ),
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
        why=f"{_weakness(spots)}: train longer / fit on more rows",
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
    if "utility" not in spots.failing:
        return None
    return Adjustment(
        tool="condition_on_column",
        settings={"rebalance": {spots.target: spots.target_shares}},
        column=spots.target,
        why=f"{_weakness(spots)}: generate conditioned on {spots.target} at its real class shares",
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
    """The deterministic chooser's preference for these weak spots and the current model: the
    tools that answer the failing metrics, first those of the first failing metric. A tool no
    failing metric calls for is not promising and is left out (all of them when only fidelity
    fails, or nothing does — a direct call)."""
    # the copula's length moves nothing measurable: a switch comes before training it longer
    stronger: list[ToolName] = (
        ["switch_model", "train_longer"]
        if model in LENGTH_INSENSITIVE_MODELS
        else ["train_longer", "switch_model"]
    )
    # the temperature comes last of the settings: 1.0 is what the model learned, and moving it
    # lowered every table it was tried on (adult's neural model alone: fidelity 0.990 -> 0.973)
    if spots.pair_gap > spots.column_gap:
        fidelity: list[ToolName] = [*stronger, "fix_column_type", "adjust_temperature"]
    else:
        fidelity = ["fix_column_type", "train_longer", "adjust_temperature", "switch_model"]
    by_metric: dict[MetricName, list[ToolName]] = {
        # a model that learns the target badly: generate at its real shares, or a stronger model
        "utility": ["condition_on_column", *stronger],
        # rows a classifier tells apart: a model that learns more of the joint distribution;
        # numbers sampled between the few values a column really takes give rows away
        "detection": [*stronger, "fix_column_type"],
        "fidelity": fidelity,
    }
    order: list[ToolName] = []
    for metric in spots.failing or ["fidelity"]:
        order.extend(tool for tool in by_metric[metric] if tool not in order)
    return order


def configuration_key(model_choice: Mapping[str, Any]) -> str:
    """A model choice as a comparable string: its name and every setting, defaults filled in."""
    name = model_choice.get("name")
    return json.dumps(
        {"name": name, "settings": model_settings(model_choice)}, sort_keys=True, default=str
    )


class Lessons(BaseModel):
    """What the rounds so far taught the policy."""

    tried: list[str] = Field(
        default_factory=list, description="configuration keys of the models already measured"
    )
    made_worse: list[str] = Field(
        default_factory=list,
        description="'tool on model': adjustments whose round ranked below the round they "
        "started from",
    )
    keep_model: bool = Field(
        default=False,
        description="the request named the model (--model): feedback tunes it, never swaps it",
    )
    pinned: list[str] = Field(
        default_factory=list,
        description="settings the user set (--model-setting): no adjustment changes them",
    )

    def allows(self, model_choice: Mapping[str, Any], adjustment: Adjustment) -> bool:
        if self.keep_model and adjustment.model not in (None, model_choice.get("name")):
            return False
        if set(adjustment.settings) & set(self.pinned):
            return False
        if f"{adjustment.tool} on {model_choice.get('name')}" in self.made_worse:
            return False
        refit = apply_adjustments(model_choice, [adjustment])
        return configuration_key(refit) not in self.tried


def applicable_adjustments(
    weak: WeakSpots | Mapping[str, Any],
    model_choice: Mapping[str, Any],
    lessons: Lessons | None = None,
) -> list[Adjustment]:
    """Every tool's proposal for these weak spots, in ``tool_order``: the tools that apply, would
    change something and that the lessons allow. What the policy chooses from, and what an LLM
    is offered."""
    spots = as_weak_spots(weak)
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
        if lessons is not None and not lessons.allows(model_choice, adjustment):
            continue
        proposals.append(adjustment)
    return proposals


def choose_adjustments(
    weak: WeakSpots | Mapping[str, Any],
    model_choice: Mapping[str, Any],
    lessons: Lessons | None = None,
) -> list[Adjustment]:
    """The deterministic policy: the first applicable tool in ``tool_order``, alone — one change
    per round, so the next round can tell whether it helped. Empty when nothing is left."""
    return applicable_adjustments(weak, model_choice, lessons)[:1]


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
    model_choice: Mapping[str, Any],
    weak: WeakSpots | Mapping[str, Any],
    *,
    use_llm: bool = False,
    lessons: Lessons | None = None,
) -> dict[str, Any] | None:
    """The generator's feedback for one round, starting from ``model_choice``: the new model
    choice, why, the adjustments and who chose them (the LLM through tool calls with
    ``use_llm``, else the policy). None when nothing is left to try."""
    if not weak:
        return None
    # the LLM chooser builds on this module's tools: imported here, not at the top, to keep
    # the import one-way at load time
    from synthtab.agents.feedback_chooser import choose_feedback

    choice = choose_feedback(weak, model_choice, use_llm=use_llm, lessons=lessons)
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


# ---- learning from the rounds -------------------------------------------------------------------


def _merit(record: Mapping[str, Any]) -> float:
    # records written before merits were kept rank by overall fidelity
    return float(record.get("merit", record["overall"]))


def _rank(record: Mapping[str, Any]) -> tuple[bool, float]:
    """Rounds that pass every threshold first, then the higher merit."""
    return bool(record.get("passed", False)), _merit(record)


def best_round(rounds: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The best round so far: among those that accepted as many rows as any, the highest
    ``_rank``, the earlier on a tie."""
    most = max(int(r.get("rows") or 0) for r in rounds)
    complete = [r for r in rounds if int(r.get("rows") or 0) >= most]
    best = complete[0]
    for record in complete[1:]:
        if _rank(record) > _rank(best):
            best = record
    return best


def learn_from_rounds(
    rounds: list[Mapping[str, Any]], keep_model: bool = False, pinned: Sequence[str] = ()
) -> Lessons:
    """Configurations measured, and adjustments that ranked their round below its base;
    ``keep_model``: the user chose the model, so no adjustment may switch it; ``pinned``: the
    settings the user set, which no adjustment may change."""
    by_round = {int(r["quality_round"]): r for r in rounds}
    made_worse: list[str] = []
    for record in rounds:
        base = by_round.get(record.get("from_round", -1))
        if base is None or _rank(record) >= _rank(base):
            continue
        model = (base.get("model_choice") or {}).get("name")
        made_worse.extend(f"{a['tool']} on {model}" for a in record.get("applied") or [])
    return Lessons(
        tried=[configuration_key(r.get("model_choice") or {}) for r in rounds],
        made_worse=made_worse,
        keep_model=keep_model,
        pinned=list(pinned),
    )


def best_earlier_round(
    earlier: list[Mapping[str, Any]], final: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The earlier quality round to deliver instead of the final one: the best ranked (passing
    every threshold first, then the higher merit), the earlier round on a tie, and only when it
    beats the final round strictly. A round that accepted fewer rows than the final one does not
    compete: it would make the run incomplete."""
    best: Mapping[str, Any] | None = None
    for record in earlier:
        if int(record.get("rows") or 0) < int(final.get("rows") or 0):
            continue
        if best is None or _rank(record) > _rank(best):
            best = record
    if best is None or _rank(best) <= _rank(final):
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
            f"assessor: round {chosen} ranked higher (merit {_merit(best):.3f}) but its rows "
            f"were not kept; delivering round {quality_round}",
        ]
        return update
    note = (
        f"assessor: delivered round {chosen} (overall {float(best['overall']):.3f}, merit "
        f"{_merit(best):.3f}) — it ranks above the last round {quality_round} (overall "
        f"{float(history['overall']):.3f}, merit {_merit(history):.3f})"
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
                "merit": round(_merit(best), 4),
                "reason": note,
            }
        ],
    }


def _round_record(
    state: Mapping[str, Any],
    quality_round: int,
    spots: WeakSpots,
    quality: Mapping[str, Any],
    rows: int,
) -> dict[str, Any]:
    """This round's entry in ``quality_history``: its scores, its merit, which metrics failed,
    and which round's settings and adjustments it was refit from."""
    earlier = list(state.get("quality_history") or [])
    previous = earlier[-1] if earlier else {}
    detection = quality.get("detection") or {}
    return {
        "quality_round": quality_round,
        "generation_round": state["generation_round"],
        "overall": spots.overall,
        "column_shapes": quality.get("column_shape_score"),
        "pair_trends": quality.get("pair_trend_score"),
        "tstr_ratio": spots.tstr_ratio,
        "detection_auc": spots.detection_auc,
        "merit": round_merit(spots.overall, detection.get("score"), spots.tstr_ratio),
        "failing": list(spots.failing),
        "passed": not spots.failing,
        "rows": rows,
        "model_choice": state.get("model_choice", {}),
        # what produced this round: the adjustments sent after an earlier round, from the round
        # whose settings they changed (not always the previous one)
        "from_round": previous.get("refit_from"),
        "applied": list(previous.get("adjustments") or []),
        "weak_spots": spots.model_dump(mode="json"),
        "adjustments": [],
    }


# fewest real training rows holding a run's --condition values that fidelity is measured against
MIN_CONDITIONED_REFERENCE_ROWS = 50


def _conditioned_reference(
    request: GenerationRequest, table: Table, train: pd.DataFrame, holdout: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The real rows a conditioned run's rows are compared with (those holding every
    --condition value, when there are enough of them), and notes saying which."""
    resolved = resolve_conditions(table, train, request.conditions, request.rebalance)
    notes: list[str] = []
    if resolved.fixed:
        wanted = ", ".join(f"{name}={value}" for name, value in resolved.fixed.items())
        matching_train, matching_holdout = resolved.matching(train), resolved.matching(holdout)
        if len(matching_train) >= MIN_CONDITIONED_REFERENCE_ROWS and len(matching_holdout):
            train, holdout = matching_train, matching_holdout
            notes.append(
                f"quality measured against the real rows with {wanted} ({len(train):,} training, "
                f"{len(holdout):,} holdout)"
            )
        else:
            notes.append(
                f"only {len(matching_train):,} training rows have {wanted}: quality measured "
                "against all real rows, which the conditioned rows differ from by design"
            )
    if resolved.rebalanced:
        notes.append(
            f"{', '.join(resolved.rebalanced)} rebalanced: their shares differ from the real "
            "rows' by design"
        )
    return train, holdout, notes


def assess(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    pool = in_seed_order(pd.read_parquet(paths.accepted))
    train = pd.read_parquet(paths.train)
    holdout = pd.read_parquet(paths.holdout)
    target = request.target if request.compute_tstr else None
    condition_notes: list[str] = []
    if request.conditions or request.rebalance:
        train, holdout, condition_notes = _conditioned_reference(request, table, train, holdout)
        if target in request.conditions:
            target = None
            condition_notes.append("TSTR is not measured: every synthetic row has the same target")
    if request.seed_table is not None:
        condition_notes.append(
            "the seed table's columns hold its values, not values drawn like the real rows': "
            "quality is measured against all real rows"
        )
    emit_progress(NODE, f"measuring fidelity{' and TSTR' if target else ''}")
    report = assess_quality(
        real_train=train,
        real_holdout=holdout,
        synthetic=pool,
        table=table,
        target=target,
        seed=request.seed,
    )
    quality = report.model_dump(mode="json")
    quality_round = state.get("quality_round", 0)
    spots = find_weak_spots(quality, FeedbackThresholds.of(request))
    history = _round_record(state, quality_round, spots, quality, len(pool))
    update: dict[str, Any] = {
        "quality": quality,
        "timings": {NODE: time.perf_counter() - started},
        "next_node": "reporter",
    }
    if condition_notes:
        update["messages"] = [f"assessor: {note}" for note in condition_notes]
    if not spots.failing:
        return _deliver_best(state, paths, update, history)
    problems = "; ".join(describe_failing(spots))
    if condition_notes:
        # the rows follow the user's conditions, not the real distribution, on purpose: a refit
        # chosen to move them towards the real rows would work against the request
        update["messages"].append(
            f"assessor: {problems}; with --condition / --rebalance / --seed-table the quality "
            "feedback refits are off (the rows differ from the real ones as asked)"
        )
        return _deliver_best(state, paths, update, history)
    if request.epsilon is not None:
        # a refit chosen from scores measured on the training rows is a release outside epsilon
        update["messages"] = [
            f"assessor: {problems}; under differential privacy the quality feedback refits are "
            "off (each would be chosen from non-private scores)"
        ]
        return _deliver_best(state, paths, update, history)
    rounds = [*(state.get("quality_history") or []), history]
    # learn from every round so far: start from the best one, skip what made things worse
    base = best_round(rounds)
    lessons = learn_from_rounds(
        rounds, keep_model=request.model != "auto", pinned=sorted(request.model_settings)
    )
    feedback = None
    if quality_round < request.max_quality_rounds:
        feedback = next_adjustment(
            base["model_choice"],
            WeakSpots.model_validate(base["weak_spots"]),
            use_llm=request.llm_feedback,
            lessons=lessons,
        )
    if feedback is None:
        within = (
            ""
            if quality_round < request.max_quality_rounds
            else f" within the {request.max_quality_rounds} feedback round(s) allowed"
        )
        update["messages"] = [f"assessor: {problems} and no adjustment is left to try{within}"]
        return _deliver_best(state, paths, update, history)
    # the refit replaces the accepted rows: keep this round's in case it stays the best
    keep_round(paths, state, quality_round, quality)
    base_round = int(base["quality_round"])
    restart = (
        ""
        if base_round == quality_round
        else f"round {quality_round} ranks below round {base_round} (merit "
        f"{_merit(history):.3f} < {_merit(base):.3f}): starting again from round {base_round}'s "
        f"{(base.get('model_choice') or {}).get('name')}; "
    )
    # each tool's why names the first failing metric of the round it starts from
    also = describe_failing(spots)[1:] if not restart else []
    reason = f"assessor: {restart}{feedback['why']}" + (
        f" (also: {'; '.join(also)})" if also else ""
    )
    history["adjustments"] = feedback["adjustments"]
    history["refit_from"] = base_round
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
            "overall_fidelity": round(spots.overall, 4),
            "merit": round(_merit(history), 4),
            "from_round": base_round,
            "reason": reason,
            "chosen_by": feedback["chosen_by"],
            "llm_reason": feedback["llm_reason"],
        }
    ]
    return update
