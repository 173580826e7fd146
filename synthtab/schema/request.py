"""What a user asks for: the ``GenerationRequest`` every entry point (CLI, API, chat) produces."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synthtab.schema.model import Rule, SchemaDeclaration

OutputFormat = Literal["csv", "parquet", "json", "xlsx"]
ModelChoice = Literal["auto", "gaussian_copula"]


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
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    max_validation_rounds: int = Field(default=8, ge=1, le=100)
    max_quality_rounds: int = Field(default=2, ge=0, le=10)
    quality_threshold: float = Field(default=0.80, ge=0.0, le=1.0)
    remove_exact_copies: bool = True
    compute_tstr: bool = True
