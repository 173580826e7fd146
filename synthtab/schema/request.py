"""What a user asks for: the ``GenerationRequest`` every entry point (CLI, API, chat) produces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthtab.schema.model import Rule, SchemaDeclaration

OutputFormat = Literal["csv", "parquet", "json", "xlsx"]
ModelChoice = Literal["auto", "gaussian_copula", "argn", "dp_mst", "dp_copula", "dp_argn"]
# the models whose every look at the data is inside an epsilon (see synthtab.models.dp_*)
DP_MODELS = ("dp_mst", "dp_copula", "dp_argn")
# what "auto" optimises for: "fast" picks the copula; "balanced" and "best" the neural model
# when the table has rows enough to train it (see synthtab.agents.generator.choose_model)
QualityPreference = Literal["fast", "balanced", "best"]


class GenerationRequest(BaseModel):
    """One run: where the real data is, how much synthetic data to make, and the policy."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="path of the real table")
    table_name: str | None = Field(default=None, description="defaults to the file's stem")
    rows: int | None = Field(default=None, ge=1, description="defaults to the source's row count")
    target: str | None = None
    output_format: OutputFormat = "csv"
    seed: int = 0
    declaration: SchemaDeclaration | None = None
    rules: list[Rule] = Field(default_factory=list)
    model: ModelChoice = "auto"
    quality_preference: QualityPreference = "fast"
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    max_validation_rounds: int = Field(default=8, ge=1, le=100)
    max_quality_rounds: int = Field(default=2, ge=0, le=10)
    quality_threshold: float = Field(default=0.80, ge=0.0, le=1.0)
    # the assessor's other triggers: each alone sends feedback. Lenient defaults: a classifier
    # that tells nearly every row apart, or a model trained on synthetic rows losing a fifth of
    # the real one's score (the report's stricter pass marks are 0.75 and 0.90)
    detection_threshold: float = Field(
        default=0.90, ge=0.5, le=1.0, description="a detection AUC above this sends feedback"
    )
    tstr_threshold: float = Field(
        default=0.80, ge=0.0, le=2.0, description="a TSTR ratio below this sends feedback"
    )
    remove_exact_copies: bool = True
    compute_tstr: bool = True
    # privacy (pre): protection of the training rows without differential privacy
    fake_pii: bool = Field(default=True, description="personal data columns replaced by fakes")
    rare_category_k: int = Field(
        default=5, ge=0, description="categories in fewer training rows merged; 0 switches off"
    )
    rare_category_action: Literal["merge", "suppress"] = "merge"
    cap_quantile: float = Field(
        default=0.005, ge=0.0, lt=0.5, description="numbers capped at q / 1-q quantiles; 0: off"
    )
    # privacy (post): attacks and the policy that acts on them
    privacy_attacks: bool = True
    sensitive_columns: list[str] = Field(
        default_factory=list, description="attribute inference secrets; defaults to the target"
    )
    privacy_risk_threshold: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="an attack whose risk's lower 95% bound exceeds this sends the run back",
    )
    max_privacy_rounds: int = Field(default=2, ge=0, le=5)
    # the LLM (opt-in: each costs ~20-60 s on the embedded CPU model); both fall back to the
    # deterministic path, and the report says which one ran
    llm_summary: bool = Field(
        default=False, description="the report's plain summary written by the LLM, verified"
    )
    llm_feedback: bool = Field(
        default=False, description="the assessor's adjustments chosen by the LLM via tool calls"
    )
    # differential privacy: every look at the training rows spends from (epsilon, delta)
    epsilon: float | None = Field(
        default=None, gt=0.0, description="differential privacy budget of this run; None: no DP"
    )
    delta: float = Field(default=1e-6, gt=0.0, lt=1e-2, description="used with epsilon only")
    privacy_budget: float | None = Field(
        default=None,
        gt=0.0,
        description="total epsilon allowed on this source file over all runs (the ledger)",
    )
    dp_engine: Literal["builtin", "opacus"] = Field(
        default="builtin",
        description="whose DP-SGD trains dp_argn: synthtab's or opacus's (DPOptimizer and RDP "
        "analysis)",
    )
    model_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of the forced --model (--model-setting KEY=VALUE), e.g. argn's "
        "temperature or max_epochs; the user's values stay through the quality feedback",
    )
    # conditional generation (synthtab.tools.conditions): what every synthetic row must hold
    conditions: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="column -> the value every synthetic row takes (--condition COL=VALUE)",
    )
    rebalance: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="categorical column -> {category: share} of the synthetic rows "
        "(--rebalance); categories not named share the rest in their training proportions",
    )
    seed_table: str | None = Field(
        default=None,
        description="path of a table (--seed-table) whose every row seeds one synthetic row, in "
        "its order: the row's filled cells are kept and the rest drawn given them",
    )

    @model_validator(mode="after")
    def _model_settings_need_a_model(self) -> Self:
        if not self.model_settings:
            return self
        if self.model == "auto":
            raise ValueError(
                "--model-setting needs --model (gaussian_copula or argn): settings belong to one "
                "model, and auto may pick either"
            )
        if self.epsilon is not None or self.model in DP_MODELS:
            raise ValueError(
                "--model-setting cannot change a differentially private model: its settings "
                "decide what the privacy budget buys"
            )
        if "dp" in self.model_settings:
            raise ValueError(
                "--model-setting dp: a private run is --epsilon (its budget accounted in the "
                "ledger, every look at the data inside it), not a setting"
            )
        return self

    @model_validator(mode="after")
    def _conditions_are_consistent(self) -> Self:
        for name, shares in self.rebalance.items():
            if any(not 0.0 <= share <= 1.0 for share in shares.values()):
                raise ValueError(f"--rebalance {name}: each share must be between 0 and 1")
            if sum(shares.values()) > 1.0 + 1e-9:
                raise ValueError(f"--rebalance {name}: the shares add up to more than 1")
        both = sorted(set(self.conditions) & set(self.rebalance))
        if both:
            raise ValueError(f"column {both[0]!r} is given both --condition and --rebalance")
        conditioned = self.conditions or self.rebalance
        if conditioned and (self.epsilon is not None or self.model in DP_MODELS):
            raise ValueError(
                "--condition and --rebalance need a model that conditions (gaussian_copula or "
                "argn); the differentially private models cannot, and rebalancing reads the "
                "training shares outside any epsilon"
            )
        if self.seed_table is not None and (self.epsilon is not None or self.model in DP_MODELS):
            raise ValueError(
                "--seed-table needs a model that conditions (gaussian_copula or argn); the "
                "differentially private models cannot"
            )
        return self

    @model_validator(mode="after")
    def _dp_needs_a_dp_model(self) -> Self:
        if self.epsilon is None:
            if self.privacy_budget is not None:
                raise ValueError("--privacy-budget needs --epsilon (the budget of this run)")
            if self.dp_engine != "builtin":
                raise ValueError(f"--dp-engine {self.dp_engine} needs --epsilon (DP-SGD's budget)")
            return self
        if self.dp_engine != "builtin" and self.model not in ("auto", "dp_argn"):
            raise ValueError(
                f"--dp-engine {self.dp_engine} trains dp_argn with DP-SGD; --model {self.model} "
                "has no DP-SGD to train (use --model dp_argn or auto)"
            )
        if self.model not in ("auto", *DP_MODELS):
            why = (
                "its DP-SGD covers the network only; its column encodings are learned from the "
                "data without noise (--model dp_argn is the same network with private encodings)"
                if self.model == "argn"
                else "it is not differentially private"
            )
            raise ValueError(
                f"--model {self.model} cannot run under --epsilon: {why}; use --model auto, "
                f"{', '.join(DP_MODELS[:-1])} or {DP_MODELS[-1]}"
            )
        return self


# the `synthtab generate` flag of each request field, so an invalid value is reported by the
# name the user typed
CLI_FLAGS = {
    "rows": "--rows",
    "holdout_fraction": "--holdout-fraction",
    "max_validation_rounds": "--max-rounds",
    "max_quality_rounds": "--max-quality-rounds",
    "quality_threshold": "--quality-threshold",
    "detection_threshold": "--detection-threshold",
    "tstr_threshold": "--tstr-threshold",
    "rare_category_k": "--rare-k",
    "cap_quantile": "--cap-quantile",
    "privacy_risk_threshold": "--privacy-threshold",
    "max_privacy_rounds": "--max-privacy-rounds",
    "epsilon": "--epsilon",
    "delta": "--delta",
    "privacy_budget": "--privacy-budget",
    "dp_engine": "--dp-engine",
    "model_settings": "--model-setting",
    "conditions": "--condition",
    "rebalance": "--rebalance",
    "seed_table": "--seed-table",
}
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def allowed_range(field: str, model: type[BaseModel] = GenerationRequest) -> str | None:
    """A field's bounds as text ("an integer >= 0"), None where it has none."""
    info = model.model_fields.get(field)
    if info is None:
        return None
    limits = [
        f"{sign} {getattr(item, name):g}"
        for item in info.metadata
        for name, sign in _BOUNDS
        if getattr(item, name, None) is not None
    ]
    if not limits:
        return None
    whole = int in (info.annotation, *get_args(info.annotation))
    kind = "an integer" if whole else "a number"
    return f"{kind} {' and '.join(limits)}"


def explain_request_error(
    error: ValidationError,
    model: type[BaseModel] = GenerationRequest,
    names: Mapping[str, str] | None = CLI_FLAGS,
) -> str:
    """Each problem of an invalid ``model`` (by default a ``GenerationRequest``) as one line
    naming the option as the user typed it (``names``: field -> flag; None: the field's own
    name, as the SDK's keyword arguments), the value given and what is allowed (pydantic's own
    text names the field and links its docs)."""
    lines: list[str] = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        if not field:  # a check across fields: its message already names the options
            lines.append(str(problem["msg"]).removeprefix("Value error, "))
            continue
        name = field if names is None and field in model.model_fields else (names or {}).get(field)
        if name is None:  # not an option's value: where it is, and pydantic's reason
            where = ".".join(str(part) for part in problem["loc"])
            lines.append(f"{where}: {problem['msg']}")
            continue
        allowed = allowed_range(field, model)
        description = model.model_fields[field].description if allowed else None
        what = f"must be {allowed}" if allowed else str(problem["msg"]).lower()
        given = repr(problem.get("input"))
        given = given if len(given) <= 60 else f"{given[:45]}... ({len(given):,} characters)"
        lines.append(f"{name} {given}: {what}" + (f" ({description})" if description else ""))
    return "; ".join(lines)
