"""`synthtab generate --schema schema.yaml --out DIR`: a dataset from a schema alone.

No real rows and no LLM: the schema's priors, vocabularies and fakes make every table
(synthtab.models.schema_first), the dataset check proves keys, links and rules
(synthtab.tools.dataset_checks), and the writers put the tables in every format asked for.
``schema.yaml`` and ``report.json`` follow, and ``manifest.json`` comes last: a directory with a
manifest is a finished dataset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthtab.agents.reporter import file_digest, package_versions
from synthtab.io.dataset_writers import (
    DatasetFormat,
    parse_formats,
    write_dataset,
    write_to_database,
)
from synthtab.io.errors import InputError
from synthtab.io.readers import read_full_schema
from synthtab.io.writers import write_json, write_text
from synthtab.models.schema_first import SchemaFirstError, generate_from_schema
from synthtab.tools.dataset_checks import DatasetCheck, check_dataset

EXIT_INPUT_ERROR = 1
EXIT_CHECK_FAILED = 4
MANIFEST = "manifest.json"
REPORT = "report.json"
SCHEMA_COPY = "schema.yaml"


class SchemaFirstOutcome(BaseModel):
    out_dir: str
    status: str  # complete | failed_checks
    rows: dict[str, int]
    files: list[str]
    problems: list[str]
    seconds: float

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "complete" else EXIT_CHECK_FAILED


def _redacted(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: write_to_database reports it; keep no secret here
        return "(unparsable URL)"


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """A new or empty directory; with --overwrite, one holding a previous dataset of ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("--out names a file, not a directory", file=str(out_dir))
    if not out_dir.exists():
        out_dir.mkdir(parents=True)
        return
    entries = {p.name for p in out_dir.iterdir()}
    if not entries:
        return
    if not overwrite:
        raise InputError(
            "the output directory is not empty; pass --overwrite to replace a previous "
            "dataset, or choose a new directory",
            file=str(out_dir),
        )
    ours = {MANIFEST}
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            ours |= set(json.loads(manifest.read_text()).get("outputs_sha256", {}))
        except (ValueError, AttributeError):
            pass
    foreign = sorted(entries - ours)
    if foreign:
        raise InputError(
            f"the output directory holds files this command did not write "
            f"({', '.join(foreign[:5])}); choose an empty or new directory",
            file=str(out_dir),
        )
    for name in entries:
        target = out_dir / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def _report(check: DatasetCheck, status: str, seed: int, seconds: float) -> dict[str, Any]:
    return {
        "status": status,
        "kind": "schema_first",
        "summary": {
            "tables": len(check.tables),
            "rows": {name: table.rows for name, table in check.tables.items()},
            "foreign_key_violations": check.foreign_key_violations,
            "violating_rows": sum(t.violating_rows for t in check.tables.values()),
            "seed": seed,
            "seconds": round(seconds, 3),
        },
        "checks": check.model_dump(mode="json"),
    }


def run_schema_first(
    schema_path: Path,
    out_dir: Path,
    formats: Sequence[DatasetFormat],
    *,
    seed: int = 0,
    db_url: str | None = None,
    overwrite: bool = False,
) -> SchemaFirstOutcome:
    """Generate, check and write a dataset from the schema file; raises InputError on bad
    input (the schema file, a schema that cannot be filled, the output directory)."""
    started = time.perf_counter()
    schema = read_full_schema(schema_path)
    timings: dict[str, float] = {}
    try:
        frames = generate_from_schema(schema, seed=seed)
    except InputError:
        raise
    except (SchemaFirstError, ValueError) as error:
        # a schema that cannot be filled: a rule it cannot meet, a bad pattern or bound
        raise InputError(str(error), file=str(schema_path)) from error
    timings["generate"] = time.perf_counter() - started
    mark = time.perf_counter()
    # the counts generated are the ones expected: the schema's own, or derived from cardinalities
    check = check_dataset(frames, schema, {name: len(frame) for name, frame in frames.items()})
    timings["check"] = time.perf_counter() - mark
    status = "complete" if check.ok else "failed_checks"
    _prepare_out_dir(out_dir, overwrite)
    mark = time.perf_counter()
    written = write_dataset(frames, schema, out_dir, formats)
    written.append(write_text(schema.to_yaml(), out_dir / SCHEMA_COPY))
    if db_url is not None:
        write_to_database(frames, schema, db_url)
    timings["write"] = time.perf_counter() - mark
    seconds = time.perf_counter() - started
    written.append(write_json(_report(check, status, seed, seconds), out_dir / REPORT))
    manifest = {
        "kind": "schema_first",
        "status": status,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema_file": str(schema_path),
        "schema_sha256": file_digest(schema_path),
        "seed": seed,
        "formats": list(formats),
        "rows": {name: len(frame) for name, frame in frames.items()},
        "database": None if db_url is None else _redacted(db_url),
        "packages": package_versions(),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "outputs_sha256": {p.name: file_digest(p) for p in written},
    }
    write_json(manifest, out_dir / MANIFEST)
    return SchemaFirstOutcome(
        out_dir=str(out_dir),
        status=status,
        rows=manifest["rows"],
        files=[p.name for p in written] + [MANIFEST],
        problems=check.problems,
        seconds=round(time.perf_counter() - started, 3),
    )


def run_schema_first_cli(args: argparse.Namespace) -> int:
    """The branch of `synthtab generate` taken with --schema and no input table."""
    try:
        conditioned = [
            flag
            for flag, name in (
                ("--condition", "condition"),
                ("--rebalance", "rebalance"),
                ("--seed-table", "seed_table"),
            )
            if getattr(args, name, None)
        ]
        if conditioned:
            raise InputError(
                message=f"{' and '.join(conditioned)} condition a model learned from a table; "
                "give the input table (a schema alone has no rows to learn from)"
            )
        formats = parse_formats(args.format)
        outcome = run_schema_first(
            Path(args.schema),
            Path(args.out),
            formats,
            seed=args.seed,
            db_url=args.db,
            overwrite=args.overwrite,
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    if args.json:
        print(json.dumps({"event": "outcome", **outcome.model_dump()}), flush=True)
    elif not (args.quiet and outcome.exit_code == 0):
        rows = ", ".join(f"{name} {count:,}" for name, count in outcome.rows.items())
        lines = [f"{outcome.status.upper()}: {rows} -> {outcome.out_dir} ({outcome.seconds:.1f}s)"]
        lines += [f"  ! {problem}" for problem in outcome.problems]
        print("\n".join(lines), file=sys.stderr)
    return outcome.exit_code
