"""The Python SDK: the same LangGraph run the CLI makes, called with pandas in and pandas out.

    import synthtab
    result = synthtab.generate(df, rows=1_000, target="income", rules=["adults: age >= 18"])
    result.data, result.report, result.manifest, result.schema, result.run_dir

Everything here is a thin layer over ``synthtab.graphs.runner``: a DataFrame is written to a
snapshot file first, so the run (and its manifest's input hash) is exactly the one the CLI
would make from that file."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from synthtab.agents.workspace import RunPaths
from synthtab.graphs.runner import (
    EventSink,
    RunFailed,
    snapshot_frame,
    start_run,
    table_of,
)
from synthtab.io.errors import InputError
from synthtab.io.readers import read_schema_declaration, read_table
from synthtab.schema import GenerationRequest, Rule, Schema, SchemaDeclaration, Table
from synthtab.schema.request import (
    ModelChoice,
    OutputFormat,
    QualityPreference,
    explain_request_error,
)

__all__ = ["InputError", "Result", "RunFailed", "Synthesizer", "evaluate", "generate"]

_NAMED_RULE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)")
DataSource = pd.DataFrame | str | Path


class Result(BaseModel):
    """What one run delivered: the synthetic rows and the files the run wrote."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    data: pd.DataFrame
    report: dict[str, Any]
    manifest: dict[str, Any]
    schema_: Table
    run_dir: Path
    status: str
    messages: list[str]

    @property
    def schema(self) -> Table:  # pydantic reserves the attribute name ``schema``
        return self.schema_


def _ignore(_: dict[str, Any]) -> None:
    return None


def as_rules(rules: Sequence[str | Rule] | None) -> list[Rule]:
    """``"name: expression"`` strings (or bare expressions) and Rule objects, as Rules."""
    parsed: list[Rule] = []
    for position, rule in enumerate(rules or [], start=1):
        if isinstance(rule, Rule):
            parsed.append(rule)
            continue
        if not isinstance(rule, str) or not rule.strip():
            raise InputError(
                message=f"rule {position} must be a non-empty string or a Rule, got {rule!r}"
            )
        named = _NAMED_RULE.fullmatch(rule.strip())
        name, expression = (
            (named.group(1), named.group(2)) if named else (f"rule_{position}", rule.strip())
        )
        if not expression.strip():
            raise InputError(message=f"rule {name!r} has no expression after ':'")
        parsed.append(Rule(name=name, expression=expression, evidence=["declared in the SDK"]))
    return parsed


def _as_declaration(schema: SchemaDeclaration | dict[str, Any] | str | Path | None) -> Any:
    if schema is None or isinstance(schema, SchemaDeclaration):
        return schema
    if isinstance(schema, dict):
        try:
            return SchemaDeclaration.model_validate(schema)
        except ValidationError as error:
            raise InputError(message=f"the schema declaration is invalid: {error}") from error
    return read_schema_declaration(Path(schema))


def _frame_file(data: pd.DataFrame, folder: Path, table_name: str) -> Path:
    if not isinstance(data, pd.DataFrame):
        raise InputError(message=f"data must be a DataFrame or a file path, got {type(data)}")
    frame = data.copy()
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InputError(message=f"the DataFrame has duplicate column names: {duplicated}")
    path = folder / f"{table_name}.parquet"
    snapshot_frame(frame.reset_index(drop=True)).to_parquet(path, index=False)
    return path


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def generate(
    data: DataSource,
    rows: int | None = None,
    target: str | None = None,
    rules: Sequence[str | Rule] | None = None,
    schema: SchemaDeclaration | dict[str, Any] | str | Path | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    *,
    output_format: OutputFormat = "csv",
    model: ModelChoice = "auto",
    table_name: str | None = None,
    compute_tstr: bool = True,
    remove_exact_copies: bool = True,
    quality_threshold: float = 0.80,
    detection_threshold: float = 0.90,
    tstr_threshold: float = 0.80,
    max_quality_rounds: int = 2,
    quality_preference: QualityPreference = "fast",
    max_validation_rounds: int = 8,
    overwrite: bool = False,
    events: EventSink = _ignore,
    epsilon: float | None = None,
    delta: float = 1e-6,
    privacy_budget: float | None = None,
    budget_ledger: str | Path | None = None,
    dp_engine: str = "builtin",
    conditions: Mapping[str, str | int | float | bool] | None = None,
    rebalance: Mapping[str, Mapping[str, float]] | None = None,
    model_settings: Mapping[str, Any] | None = None,
    seed_table: DataSource | None = None,
) -> Result:
    """Learn from ``data`` (a DataFrame or a CSV/Parquet/JSON/Excel path) and make synthetic rows.

    ``out`` is the run directory (a new temporary one when left out); it holds the data file,
    ``report.html``, ``report.json``, ``manifest.json`` and ``schema.json``. Raises ``InputError``
    for bad input and ``RunFailed`` when the graph stops on an error.

    ``epsilon``: a differentially private run, as the CLI's --epsilon: its budget is reserved in
    the privacy ledger (``budget_ledger``, default the CLI's) before the data is read, and a run
    that would take the data's total beyond ``privacy_budget`` is refused (``InputError``).
    ``dp_engine``: "opacus" trains dp_argn with opacus's DP-SGD instead of synthtab's.
    ``conditions`` ({column: value}) and ``rebalance`` ({column: {category: share}}): what every
    synthetic row holds, as the CLI's --condition and --rebalance. ``model_settings``: settings
    of the forced ``model`` (the CLI's --model-setting), e.g. ``{"temperature": 0.8}``.
    ``seed_table`` (a DataFrame or a file path with some of the columns): one synthetic row per
    seed row, in its order, keeping its filled cells, as the CLI's --seed-table."""
    run_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="synthtab-run-"))
    with tempfile.TemporaryDirectory(prefix="synthtab-input-") as scratch:
        if isinstance(data, (str, Path)):
            source = Path(data)
        else:
            source = _frame_file(data, Path(scratch), table_name or "data")
        seeds = (
            seed_table
            if seed_table is None or isinstance(seed_table, (str, Path))
            else _frame_file(seed_table, Path(scratch), "seed_table")
        )
        try:
            request = GenerationRequest(
                source=str(source),
                table_name=table_name,
                rows=rows,
                target=target,
                output_format=output_format,
                seed=seed,
                declaration=_as_declaration(schema),
                rules=as_rules(rules),
                model=model,
                max_validation_rounds=max_validation_rounds,
                quality_threshold=quality_threshold,
                detection_threshold=detection_threshold,
                tstr_threshold=tstr_threshold,
                max_quality_rounds=max_quality_rounds,
                quality_preference=quality_preference,
                remove_exact_copies=remove_exact_copies,
                compute_tstr=compute_tstr,
                epsilon=epsilon,
                delta=delta,
                privacy_budget=privacy_budget,
                dp_engine=dp_engine,
                model_settings=dict(model_settings or {}),
                conditions=dict(conditions or {}),
                rebalance={name: dict(shares) for name, shares in (rebalance or {}).items()},
                seed_table=None if seeds is None else str(seeds),
            )
        except ValidationError as error:
            explained = explain_request_error(error, names=None)
            raise InputError(message=f"invalid request: {explained}") from error
        if request.epsilon is not None:
            from synthtab.dp.private_run import start_private_run

            ledger = Path(budget_ledger) if budget_ledger is not None else None
            outcome = start_private_run(
                request, run_dir, events, overwrite=overwrite, ledger_path=ledger
            )
        else:
            outcome = start_run(request, run_dir, events, overwrite=overwrite)
    data_path = RunPaths(run_dir=Path(outcome.run_dir)).data_file(output_format)
    return Result(
        data=read_table(data_path) if data_path.is_file() else pd.DataFrame(),
        report=_read_json(Path(outcome.run_dir) / "report.json"),
        manifest=_read_json(Path(outcome.run_dir) / "manifest.json"),
        schema_=table_of(Path(outcome.run_dir)),
        run_dir=Path(outcome.run_dir),
        status=outcome.status,
        messages=outcome.messages,
    )


def _as_frame(data: DataSource, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.columns = [str(c) for c in frame.columns]
        return frame.reset_index(drop=True)
    if isinstance(data, (str, Path)):
        return read_table(Path(data))
    raise InputError(message=f"{what} must be a DataFrame or a file path, got {type(data)}")


def infer_schema(data: DataSource, name: str = "data") -> Schema:
    """The schema SynthTab infers from a table: types, semantics, keys, constraints."""
    from synthtab.schema.infer import infer_table

    return Schema(tables=[infer_table(_as_frame(data, "data"), name)])


def evaluate(
    real: DataSource,
    synthetic: DataSource,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Fidelity, utility (with ``target``) and privacy of ``synthetic`` against ``real``, as
    ``{"quality": ..., "privacy": ...}`` (the same blocks as a run's report.json).

    The real rows are split the way a run splits them: the synthetic data is compared with the
    training part, and the holdout part is the yardstick for what "natural" closeness is. The
    result is the body of the report `synthtab evaluate` writes."""
    from synthtab.evaluation import evaluate_frames

    real_frame = _as_frame(real, "real")
    synthetic_frame = _as_frame(synthetic, "synthetic")
    missing = sorted(set(real_frame.columns) - set(synthetic_frame.columns))
    if missing:
        raise InputError(message=f"the synthetic data lacks the real data's columns {missing}")
    if len(real_frame) < 2 or len(synthetic_frame) == 0:
        raise InputError(message="evaluate needs at least 2 real rows and 1 synthetic row")
    if target is not None and target not in real_frame.columns:
        raise InputError(
            message=f"target {target!r} is not a column; columns are {list(real_frame.columns)}",
            column=target,
        )
    body, _, _ = evaluate_frames(
        real_frame, synthetic_frame[list(real_frame.columns)], target=target, seed=seed
    )
    return body


class Synthesizer:
    """Only the model, sklearn style: ``Synthesizer("gaussian_copula").fit(df).sample(1000)``.

    No rules, validation or privacy checks: use ``generate`` for those."""

    def __init__(self, model: str = "gaussian_copula", **settings: Any) -> None:
        from synthtab.models.registry import available_models, get_model

        if model not in available_models():
            raise InputError(
                message=f"unknown model {model!r}; known models: {', '.join(available_models())}"
            )
        try:
            self._model = get_model(model, **settings)
        except (TypeError, ValueError) as error:
            raise InputError(message=f"invalid settings for {model!r}: {error}") from error
        self.model_name = model
        self.table: Table | None = None

    def fit(self, data: DataSource, seed: int = 0, table: Table | None = None) -> Self:
        from synthtab.schema.infer import infer_table

        frame = _as_frame(data, "data")
        if frame.empty:
            raise InputError(message="cannot fit on an empty table")
        self.table = table or infer_table(frame, "data")
        self._model.fit(frame, self.table, seed=seed)
        return self

    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        if self.table is None:
            raise InputError(message="call fit(data) before sample(n)")
        if not isinstance(n, int) or n < 1:
            raise InputError(message=f"n must be a positive integer, got {n!r}")
        return self._model.sample(n, seed=seed)

    def settings(self) -> dict[str, Any]:
        return self._model.settings()
