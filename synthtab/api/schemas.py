"""Request and response bodies of the REST API (pydantic; they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from synthtab.schema import GenerationRequest

_SERVER_CHOSEN = {"source", "table_name", "seed_table"}

# The CLI's request, minus what the server decides (where the data is): one source of truth
RunSettings = create_model(
    "RunSettings",
    __config__=ConfigDict(extra="forbid"),
    **{
        name: (field.annotation, field)
        for name, field in GenerationRequest.model_fields.items()
        if name not in _SERVER_CHOSEN
    },
)


class RunCreate(RunSettings):  # type: ignore[misc, valid-type]
    """Start a run on an uploaded dataset; every other field is the CLI's."""

    dataset_id: str = Field(min_length=1, max_length=64)
    seed_dataset_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="an uploaded dataset whose every row seeds one synthetic row (the CLI's "
        "--seed-table)",
    )


class DatasetOut(BaseModel):
    id: str
    name: str
    file_format: str
    size_bytes: int
    rows: int
    columns: list[str]
    sha256: str
    created_at: datetime


class ArtifactOut(BaseModel):
    name: str
    size_bytes: int
    sha256: str | None


class RunOut(BaseModel):
    id: str
    dataset_id: str
    status: Literal["queued", "running", "waiting", "complete", "incomplete", "failed", "cancelled"]
    request: dict[str, Any]
    error: str | None
    messages: list[str]
    questions: list[Any] | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_delivered: int | None
    fidelity: float | None
    tstr_ratio: float | None
    dcr_share: float | None
    exact_copies_removed: int | None
    artifacts: list[ArtifactOut] = Field(default_factory=list)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str | int | float | bool | dict[str, Any] | list[Any] = Field(
        description="the answer to the run's pending question(s)"
    )


class CancelOut(BaseModel):
    id: str
    status: str


class ErrorOut(BaseModel):
    detail: Any


class PoolOut(BaseModel):
    size: int
    running: int
    max_running: int


class ServerSettings(BaseModel):
    """Where the server keeps its files and database, and its limits."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Path("synthtab-server")
    database_url: str | None = Field(
        default=None, description="any SQLAlchemy URL; default: a SQLite file in data_dir"
    )
    workers: int = Field(default=2, ge=1, le=64)
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_rows: int = Field(default=2_000_000, ge=1)

    privacy_ledger: Path | None = Field(
        default=None,
        description="the privacy budget ledger of DP runs; default: privacy_ledger.db in data_dir",
    )

    def resolved_ledger_path(self) -> Path:
        return self.privacy_ledger or self.data_dir / "privacy_ledger.db"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'synthtab.db').resolve()}"
