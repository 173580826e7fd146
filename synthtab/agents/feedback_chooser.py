"""The assessor's feedback chosen by the LLM through tool calls, the deterministic policy behind it.

The LLM is offered only the tools that apply to this round's weak spots (the policy's own
``applicable_adjustments``), each as a pydantic model of the arguments it may choose: which
model to switch to, which weak column, what temperature. Its choice is then checked with the
code the policy relies on — the tool's own proposal, ``apply_adjustments`` and the model's
settings validation — and a choice that does not pass, an answer that never parses, or no LLM at
all falls back to the deterministic policy. The outcome records who chose and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from synthtab.agents.assessor import (
    TOOLS,
    Adjustment,
    Lessons,
    WeakSpots,
    applicable_adjustments,
    apply_adjustments,
    as_weak_spots,
    choose_adjustments,
    describe_failing,
    model_settings,
)
from synthtab.agents.progress import emit_progress
from synthtab.llm import (
    ChatMessage,
    ChatModel,
    LLMOutputError,
    LLMUnavailable,
    choose_tool,
    get_chat_model,
    render_prompt,
    tool_name,
)
from synthtab.models.registry import get_model

NODE = "assessor"
ChosenBy = Literal["llm", "policy"]
MAX_ATTEMPTS = 2  # one answer and one retry: each costs ~10-30 s on the CPU
MAX_CHOICE_TOKENS = 160
MAX_REASON_CHARS = 140
# the largest temperature change one round may make, as a factor of the current temperature
TEMPERATURE_STEP_LIMITS = (0.5, 1.5)


class FeedbackChoice(BaseModel):
    """A round's adjustments and who chose them."""

    adjustments: list[Adjustment]
    chosen_by: ChosenBy
    llm_reason: str | None = Field(default=None, description="the LLM's one-line reason")
    llm_rejection: str | None = Field(
        default=None, description="why the LLM's choice was not used (the policy's was)"
    )


def _literal(values: Sequence[str]) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


def tool_arguments(proposal: Adjustment, spots: WeakSpots, settings: Mapping[str, Any]) -> Any:
    """The pydantic model of what the LLM may choose for ``proposal``'s tool; its name is the
    tool's and its docstring the tool's description. Choices the facts fix (the model to switch
    to, the weak columns, the target) are enumerated so the decoding grammar keeps to them."""
    tool, _ = TOOLS[proposal.tool]
    reason = (str, Field(max_length=MAX_REASON_CHARS, description="one line: why this tool"))
    fields: dict[str, Any] = {"reason": reason}
    if proposal.tool == "switch_model" and proposal.model is not None:
        fields["model"] = (_literal([proposal.model]), ...)
    elif proposal.tool == "fix_column_type" and spots.weak_continuous:
        fields["column"] = (_literal(spots.weak_continuous), ...)
    elif proposal.tool == "condition_on_column" and spots.target:
        fields["column"] = (_literal([spots.target]), ...)
    elif proposal.tool == "adjust_temperature":
        current = float(settings["temperature"])
        fields["temperature"] = (
            float,
            Field(description=f"the new sampling temperature (now {current:g})"),
        )
    return create_model(proposal.tool, __doc__=tool.description, **fields)


def choice_problems(
    call: BaseModel, proposals: Sequence[Adjustment], settings: Mapping[str, Any]
) -> list[str]:
    """What is wrong with the LLM's tool call; empty when it can be applied as it stands."""
    name = tool_name(type(call))
    proposal = next((p for p in proposals if p.tool == name), None)
    if proposal is None:
        offered = ", ".join(p.tool for p in proposals)
        return [f"{name} does not apply to these weak spots (applicable: {offered})"]
    problems: list[str] = []
    if proposal.tool == "adjust_temperature":
        current = float(settings["temperature"])
        wanted = float(call.model_dump().get("temperature", current))
        proposed = float(proposal.settings["temperature"])
        low, high = (current * f for f in TEMPERATURE_STEP_LIMITS)
        if (wanted - current) * (proposed - current) <= 0:
            direction = "lower" if proposed < current else "higher"
            problems.append(
                f"temperature {wanted:g}: the weak spots call for a {direction} temperature than "
                f"{current:g}"
            )
        elif not low <= wanted <= high:
            problems.append(f"temperature {wanted:g} is outside one round's range {low:g}-{high:g}")
    return problems


def adjustment_from_call(call: BaseModel, proposal: Adjustment) -> Adjustment:
    """The tool's own proposal with the LLM's arguments in it."""
    arguments = call.model_dump()
    update: dict[str, Any] = {"why": f"{proposal.why} (LLM: {arguments.get('reason', '')})"}
    if arguments.get("column") is not None:
        update["column"] = arguments["column"]
    if proposal.tool == "adjust_temperature":
        update["settings"] = {"temperature": round(float(arguments["temperature"]), 3)}
    return proposal.model_copy(update=update)


def settings_problems(model_choice: Mapping[str, Any], adjustment: Adjustment) -> list[str]:
    """Whether the model accepts the settings the adjustment leads to (its own validation)."""
    refit = apply_adjustments(model_choice, [adjustment])
    try:
        get_model(refit["name"], **refit["settings"])
    except (ValueError, TypeError) as error:
        return [f"{refit['name']} does not accept {refit['settings']}: {error}"]
    return []


def weak_spot_facts(spots: WeakSpots, model_choice: Mapping[str, Any]) -> list[str]:
    """The weak spots as short lines for the prompt."""
    ceiling = spots.overall_ceiling
    failing = describe_failing(spots)
    lines = [
        f"model: {model_choice.get('name')}",
        "below threshold: " + ("; ".join(failing) if failing else "nothing"),
        f"overall fidelity {spots.overall:.3f}"
        + (f" (real holdout scores {ceiling:.3f})" if ceiling is not None else ""),
        f"column shapes trail the holdout by {spots.column_gap:.3f}",
        f"pair trends trail the holdout by {spots.pair_gap:.3f}",
    ]
    if spots.weak_continuous:
        lines.append(f"weak numeric columns: {', '.join(spots.weak_continuous[:5])}")
    if spots.weak_categorical:
        spread = {True: "more", False: "less", None: "as"}[spots.synthetic_too_diverse]
        lines.append(
            f"weak categorical columns: {', '.join(spots.weak_categorical[:5])} "
            f"(synthetic categories {spread} spread than the real ones)"
        )
    if spots.tstr_ratio is not None:
        lines.append(f"TSTR ratio {spots.tstr_ratio:.3f} (target {spots.target})")
    if spots.detection_auc is not None:
        lines.append(f"detection AUC {spots.detection_auc:.3f} (0.5 is ideal)")
    return lines


def llm_feedback(
    llm: ChatModel,
    weak: WeakSpots | Mapping[str, Any],
    model_choice: Mapping[str, Any],
    lessons: Lessons | None = None,
) -> FeedbackChoice:
    """The LLM's choice among the applicable tools (those the lessons of earlier rounds allow),
    checked; the policy's when it fails."""
    spots = as_weak_spots(weak)
    proposals = applicable_adjustments(spots, model_choice, lessons)
    if not proposals:
        return FeedbackChoice(adjustments=[], chosen_by="policy")
    settings = model_settings(model_choice)
    tools = [tool_arguments(p, spots, settings) for p in proposals]
    prompt = render_prompt(
        "choose_feedback",
        facts=weak_spot_facts(spots, model_choice),
        tools=[p.tool for p in proposals],
    )
    try:
        call = choose_tool(
            llm,
            [ChatMessage(role="user", content=prompt)],
            tools,
            max_attempts=MAX_ATTEMPTS,
            max_tokens=MAX_CHOICE_TOKENS,
        )
    except (LLMOutputError, LLMUnavailable) as error:
        return policy_feedback(
            spots, model_choice, f"{llm.name} gave no usable choice: {error}", lessons
        )
    problems = choice_problems(call, proposals, settings)
    proposal = next((p for p in proposals if p.tool == tool_name(type(call))), None)
    if not problems and proposal is not None:
        adjustment = adjustment_from_call(call, proposal)
        problems = settings_problems(model_choice, adjustment)
        if not problems:
            return FeedbackChoice(
                adjustments=[adjustment],
                chosen_by="llm",
                llm_reason=" ".join(str(call.model_dump().get("reason", "")).split()) or None,
            )
    return policy_feedback(
        spots,
        model_choice,
        f"{llm.name} chose {tool_name(type(call))}: " + "; ".join(problems),
        lessons,
    )


def policy_feedback(
    weak: WeakSpots | Mapping[str, Any],
    model_choice: Mapping[str, Any],
    llm_rejection: str | None = None,
    lessons: Lessons | None = None,
) -> FeedbackChoice:
    return FeedbackChoice(
        adjustments=choose_adjustments(weak, model_choice, lessons),
        chosen_by="policy",
        llm_rejection=llm_rejection,
    )


def choose_feedback(
    weak: WeakSpots | Mapping[str, Any],
    model_choice: Mapping[str, Any],
    *,
    use_llm: bool,
    lessons: Lessons | None = None,
) -> FeedbackChoice:
    """A round's feedback: the deterministic policy's unless ``use_llm``; then the configured
    chat model's choice (the model is created here, never kept in graph state), the policy's when
    no model can be reached or its choice does not pass."""
    if not use_llm:
        return policy_feedback(weak, model_choice, lessons=lessons)
    try:
        llm = get_chat_model()
    except LLMUnavailable as error:
        return policy_feedback(weak, model_choice, f"no LLM available: {error}", lessons)
    emit_progress(NODE, f"asking {llm.name} to choose the feedback")
    return llm_feedback(llm, weak, model_choice, lessons)
