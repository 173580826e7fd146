"""What a user asks for: the ``GenerationRequest`` every entry point (CLI, API, chat) produces."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synthtab.schema.model import Rule, SchemaDeclaration

OutputFormat = Literal["csv", "parquet", "json", "xlsx"]
ModelChoice = Literal["auto", "gaussian_copula", "argn"]
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
