"""Where a run keeps its files. Work files live under ``RUN_DIR/.synthtab``; outputs at the top."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

WORK_DIR_NAME = ".synthtab"


class RunPaths(BaseModel):
    run_dir: Path

    @property
    def work_dir(self) -> Path:
        return self.run_dir / WORK_DIR_NAME

    @property
    def request(self) -> Path:
        return self.work_dir / "request.json"

    @property
    def checkpoint(self) -> Path:
        return self.work_dir / "checkpoint.sqlite"

    @property
    def running_marker(self) -> Path:
        return self.work_dir / "RUNNING"

    @property
    def error(self) -> Path:
        return self.work_dir / "error.json"

    @property
    def input_snapshot(self) -> Path:
        return self.work_dir / "input.parquet"

    @property
    def seed_snapshot(self) -> Path:
        """The --seed-table's rows as read when the run started."""
        return self.work_dir / "seeds.parquet"

    @property
    def train(self) -> Path:
        return self.work_dir / "train.parquet"

    @property
    def holdout(self) -> Path:
        return self.work_dir / "holdout.parquet"

    @property
    def model(self) -> Path:
        return self.work_dir / "model.bin"

    @property
    def accepted(self) -> Path:
        return self.work_dir / "accepted.parquet"

    def candidate(self, generation_round: int) -> Path:
        return self.work_dir / f"candidate_{generation_round:03d}.parquet"

    def round_pool(self, quality_round: int) -> Path:
        """The accepted rows as one quality round left them, kept so the best round can be
        delivered when a later one scores lower."""
        return self.work_dir / f"round_{quality_round:03d}.parquet"

    def round_record(self, quality_round: int) -> Path:
        """That round's quality report and the per-round state the reporter reads."""
        return self.work_dir / f"round_{quality_round:03d}.json"

    @property
    def schema_json(self) -> Path:
        return self.run_dir / "schema.json"

    @property
    def report_json(self) -> Path:
        return self.run_dir / "report.json"

    @property
    def report_html(self) -> Path:
        return self.run_dir / "report.html"

    @property
    def manifest(self) -> Path:
        return self.run_dir / "manifest.json"

    def data_file(self, fmt: str) -> Path:
        suffix = {"json": "jsonl"}.get(fmt, fmt)
        return self.run_dir / f"synthetic.{suffix}"

    def sensitive_work_files(self) -> list[Path]:
        """Files holding real rows or a model of them: removed once a run has finished."""
        return [
            self.input_snapshot,
            self.seed_snapshot,
            self.train,
            self.holdout,
            self.model,
            self.accepted,
            *sorted(self.work_dir.glob("candidate_*.parquet")),
            # a round's rows, and its record (quality plots and schema hold real values)
            *sorted(self.work_dir.glob("round_*.parquet")),
            *sorted(self.work_dir.glob("round_*.json")),
        ]
