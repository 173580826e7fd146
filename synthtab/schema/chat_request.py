"""A plain-language request: the text, the formats wanted, and the bounds of the conversation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DatasetFormat = Literal["csv", "xlsx", "sql", "parquet", "json"]
DATASET_FORMATS: tuple[DatasetFormat, ...] = ("csv", "xlsx", "sql", "parquet", "json")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=8000, description="what the user asked for")
    formats: list[DatasetFormat] | None = Field(
        default=None, description="None: the formats the text names, else csv"
    )
    seed: int = 0
    assume_yes: bool = Field(default=False, description="accept the proposal without questions")
    database_url: str | None = Field(default=None, description="also load into this database")
    max_llm_attempts: int = Field(default=3, ge=1, le=6, description="per proposal")
    max_question_rounds: int = Field(default=3, ge=0, le=10)
    max_generation_rounds: int = Field(default=3, ge=1, le=10)
