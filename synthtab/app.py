"""Entry points: the ``synthtab`` command line. A thin layer over synthtab.graphs.runner."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from synthtab.graphs.runner import EventSink, RunFailed, RunOutcome, resume_run, start_run
from synthtab.io.errors import InputError
from synthtab.io.readers import demo_dataset_path, read_rules, read_schema_declaration
from synthtab.schema import GenerationRequest, OutputFormat
from synthtab.schema.request import explain_request_error

EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 4
DEMO_TARGET = "income"
DEMO_RULES = "adult_rules.yaml"


class ProgressPrinter:
    """Human progress on stderr: one line per node, with its progress messages."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.started: dict[str, float] = {}
        self.color = stream.isatty()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "node_started":
            self.started[event["node"]] = time.perf_counter()
            return
        if kind == "node_finished":
            seconds = time.perf_counter() - self.started.get(event["node"], time.perf_counter())
            mark = "✗" if event.get("error") else "✓"
            self._line(f"{mark} {event['node']:<10} {seconds:6.1f}s")
        elif kind == "progress":
            self._line(f"  · {event['node']:<10} {event['message']}")
        elif kind in {"run_started", "run_resumed"}:
            verb = "resuming" if kind == "run_resumed" else "starting"
            self._line(f"{verb} run {event['run_id']} in {event['run_dir']}")

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def json_events(event: dict[str, Any]) -> None:
    print(json.dumps({"time": round(time.time(), 3), **event}, default=str), flush=True)


def _quiet(_: dict[str, Any]) -> None:
    return None


def _event_sink(args: argparse.Namespace) -> EventSink:
    if args.json:
        return json_events
    if args.quiet:
        return _quiet
    return ProgressPrinter(sys.stderr)


def _condition_flags(values: list[str] | None) -> dict[str, str]:
    """``--condition COLUMN=VALUE`` flags as {column: value text}."""
    conditions: dict[str, str] = {}
    for text in values or []:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise InputError(message=f"--condition {text!r}: write COLUMN=VALUE")
        if name.strip() in conditions:
            raise InputError(message=f"--condition {name.strip()!r} is given twice")
        conditions[name.strip()] = value
    return conditions


def _model_setting_flags(values: list[str] | None) -> dict[str, Any]:
    """``--model-setting KEY=VALUE`` flags as {key: value}, VALUE read as JSON when it is
    (numbers, true/false, null, lists, objects) and as text otherwise."""
    settings: dict[str, Any] = {}
    for text in values or []:
        key, equals, value = text.partition("=")
        key = key.strip()
        if not equals or not key:
            raise InputError(message=f"--model-setting {text!r}: write KEY=VALUE")
        if key in settings:
            raise InputError(message=f"--model-setting {key!r} is given twice")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _rebalance_flags(values: list[str] | None) -> dict[str, dict[str, float]]:
    """``--rebalance COLUMN=VALUE:SHARE[,VALUE:SHARE]`` flags as {column: {value: share}}."""
    rebalance: dict[str, dict[str, float]] = {}
    for text in values or []:
        name, equals, pairs = text.partition("=")
        name = name.strip()
        if not equals or not name or not pairs:
            raise InputError(message=f"--rebalance {text!r}: write COLUMN=VALUE:SHARE[,...]")
        if name in rebalance:
            raise InputError(message=f"--rebalance {name!r} is given twice")
        shares: dict[str, float] = {}
        for pair in pairs.split(","):
            value, colon, share = pair.rpartition(":")
            try:
                parsed = float(share)
            except ValueError:
                parsed = math.nan
            if not colon or math.isnan(parsed):
                raise InputError(
                    message=f"--rebalance {text!r}: {pair!r} is not VALUE:SHARE (a share like 0.3)"
                )
            shares[value] = parsed
        rebalance[name] = shares
    return rebalance


def _request_from_args(args: argparse.Namespace) -> GenerationRequest:
    source = args.input
    target = args.target
    rules = read_rules(Path(args.rules)) if args.rules else []
    if args.demo:
        source = str(demo_dataset_path())
        target = target or DEMO_TARGET
        if not args.rules:
            rules = read_rules(demo_dataset_path().with_name(DEMO_RULES))
    if source is None:
        raise InputError(message="give the path of a table to learn from, or --demo")
    declaration = read_schema_declaration(Path(args.schema)) if args.schema else None
    return GenerationRequest(
        source=source,
        rows=args.rows,
        target=target,
        output_format=args.format,
        seed=args.seed,
        declaration=declaration,
        rules=rules,
        model=args.model,
        quality_preference=args.preference,
        max_validation_rounds=args.max_rounds,
        quality_threshold=args.quality_threshold,
        detection_threshold=args.detection_threshold,
        tstr_threshold=args.tstr_threshold,
        max_quality_rounds=args.max_quality_rounds,
        remove_exact_copies=not args.keep_copies,
        compute_tstr=not args.no_tstr,
        holdout_fraction=args.holdout_fraction,
        fake_pii=not args.no_fake_pii,
        rare_category_k=args.rare_k,
        cap_quantile=args.cap_quantile,
        privacy_attacks=not args.no_attacks,
        sensitive_columns=args.sensitive or [],
        privacy_risk_threshold=args.privacy_threshold,
        max_privacy_rounds=args.max_privacy_rounds,
        llm_summary=args.llm_summary,
        llm_feedback=args.llm_feedback,
        epsilon=args.epsilon,
        delta=args.delta,
        privacy_budget=args.privacy_budget,
        dp_engine=args.dp_engine,
        model_settings=_model_setting_flags(args.model_setting),
        conditions=_condition_flags(args.condition),
        rebalance=_rebalance_flags(args.rebalance),
        seed_table=args.seed_table,
    )


def _check_real_data_flags(args: argparse.Namespace) -> None:
    """The real-data path writes one table in one format, to files."""
    fmt = args.format
    choices = typing.get_args(OutputFormat)
    if args.db:
        raise InputError(message="--db is for --schema without an input table")
    if "," in fmt:
        raise InputError(
            message=f"--format {fmt!r}: learning from a table writes one format; choose one of "
            f"{', '.join(choices)} (several formats are for --schema without an input table)"
        )
    if fmt not in choices:
        raise InputError(message=f"unknown --format {fmt!r}; choose one of {', '.join(choices)}")


def _is_schema_first(args: argparse.Namespace) -> bool:
    return args.command == "generate" and args.input is None and not args.demo and bool(args.schema)


def _print_outcome(outcome: RunOutcome, args: argparse.Namespace) -> None:
    report_path = Path(outcome.run_dir) / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if args.json:
        json_events({"event": "outcome", **outcome.model_dump()})
        return
    if args.quiet and outcome.exit_code == 0:
        return
    summary = report.get("summary", {})
    quality = report.get("quality") or {}
    privacy = report.get("privacy") or {}
    lines = [
        f"{outcome.status.upper()}: {summary.get('rows_delivered', 0):,} of "
        f"{summary.get('rows_requested', 0):,} rows -> {outcome.run_dir}",
    ]
    if quality and quality.get("overall_score") is not None:
        lines.append(f"  fidelity {quality['overall_score']:.3f}")
        utility = quality.get("utility") or {}
        if utility.get("ratio") is not None:
            lines.append(f"  TSTR ratio {utility['ratio']:.3f} ({utility.get('primary_metric')})")
    if privacy:
        share = privacy.get("dcr_share")
        lines.append(
            f"  exact copies removed {privacy.get('exact_copies_removed', 0)}, "
            + (f"DCR share {share:.3f}" if share is not None else "DCR share not computed")
        )
    lines.extend(f"  ! {m}" for m in outcome.messages if outcome.exit_code != 0)
    if report.get("differential_privacy"):
        from synthtab.dp.domain import release_warnings

        # a DP release that found nothing (or only noise) shapes the data: say so, not only
        # in the manifest
        warnings = release_warnings(report["differential_privacy"])
        lines.extend(f"  warning: {w}" for w in warnings)
    print("\n".join(lines), file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    events = _event_sink(args)
    try:
        if args.command == "generate":
            _check_real_data_flags(args)
            request = _request_from_args(args)
            if request.epsilon is not None:
                from synthtab.dp.private_run import start_private_run

                ledger = Path(args.budget_ledger) if args.budget_ledger else None
                outcome = start_private_run(
                    request, Path(args.out), events, overwrite=args.overwrite, ledger_path=ledger
                )
            else:
                outcome = start_run(request, Path(args.out), events, overwrite=args.overwrite)
        else:
            outcome = resume_run(Path(args.run_dir), events)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except ValidationError as error:
        print(f"error: invalid request: {explain_request_error(error)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except RunFailed as error:
        where = getattr(args, "out", None) or getattr(args, "run_dir", "")
        print(
            f"error: the run failed: {error}\n"
            f"  the run directory {where} is unfinished (no manifest.json); "
            "`synthtab resume` continues it",
            file=sys.stderr,
        )
        return EXIT_RUN_FAILED
    _print_outcome(outcome, args)
    return outcome.exit_code


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("--json", action="store_true", help="print progress events as JSON lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthtab", description="Synthetic tabular data people can trust."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate", help="learn from a real table, write a synthetic one"
    )
    generate.add_argument("input", nargs="?", help="CSV, Parquet, JSON lines or Excel file")
    generate.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled 2,000-row sample of UCI Adult (target income)",
    )
    generate.add_argument("--out", required=True, help="run directory to create")
    generate.add_argument(
        "--rows", type=int, help="rows to generate (default: as many as the input)"
    )
    generate.add_argument("--target", help="a column to measure ML utility (TSTR) on")
    generate.add_argument(
        "--format",
        default="csv",
        help="output format: csv, parquet, json or xlsx; with --schema and no input table, "
        "a comma list of csv, xlsx, sql, parquet, json",
    )
    generate.add_argument(
        "--schema",
        help="declared schema (JSON or YAML); declared beats inferred. Without an input "
        "table: a full multi-table schema to make a dataset from (no real data, no LLM)",
    )
    generate.add_argument(
        "--db", help="with --schema and no input table: also write into this SQLAlchemy URL"
    )
    generate.add_argument("--rules", help="business rules (YAML, JSON or one rule per line)")
    generate.add_argument(
        "--condition",
        action="append",
        metavar="COLUMN=VALUE",
        help="every synthetic row takes VALUE in COLUMN, the rest drawn given it (repeatable; "
        "a category the data holds, or a number or date inside its range)",
    )
    generate.add_argument(
        "--rebalance",
        action="append",
        metavar="COLUMN=VALUE:SHARE[,VALUE:SHARE]",
        help="a categorical column's categories at these shares of the synthetic rows, the "
        "other categories sharing the rest in their real proportions (repeatable)",
    )
    generate.add_argument(
        "--seed-table",
        metavar="FILE",
        help="a table of some of the columns: one synthetic row per row of FILE, in its order, "
        "keeping its filled cells and drawing the blank ones and the other columns given them "
        "(identifier columns are copied as given); the run delivers as many rows as FILE has",
    )
    generate.add_argument("--seed", type=int, default=0, help="same seed, same data, bit for bit")
    generate.add_argument(
        "--model",
        default="auto",
        choices=["auto", "gaussian_copula", "argn", "dp_mst", "dp_copula", "dp_argn"],
        help="dp_mst / dp_copula / dp_argn: differentially private (with --epsilon)",
    )
    generate.add_argument(
        "--model-setting",
        action="append",
        metavar="KEY=VALUE",
        help="a setting of the forced --model (repeatable), e.g. temperature=0.8 or "
        "max_epochs=20 for argn; VALUE is read as JSON when it parses",
    )
    generate.add_argument(
        "--preference",
        default="fast",
        choices=["fast", "balanced", "best"],
        help="speed vs quality when --model is auto: fast = copula; balanced/best = neural model",
    )
    generate.add_argument(
        "--max-rounds", type=int, default=8, help="bound on generate/validate rounds"
    )
    generate.add_argument(
        "--max-quality-rounds",
        type=int,
        default=2,
        help="bound on the assessor's feedback rounds (0: measure only, no feedback)",
    )
    generate.add_argument(
        "--quality-threshold",
        type=float,
        default=0.80,
        help="fidelity below this sends the assessor's feedback to the generator",
    )
    generate.add_argument(
        "--detection-threshold",
        type=float,
        default=0.90,
        help="a real-vs-synthetic detection AUC above this also sends feedback (0.5 is ideal)",
    )
    generate.add_argument(
        "--tstr-threshold",
        type=float,
        default=0.80,
        help="a TSTR ratio (synthetic-trained / real-trained score) below this also sends feedback",
    )
    generate.add_argument(
        "--keep-copies",
        action="store_true",
        help="do not remove synthetic rows identical to a training row",
    )
    generate.add_argument("--no-tstr", action="store_true", help="skip the TSTR utility check")
    generate.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.2,
        help="share of the real rows held out from training to measure quality and privacy",
    )
    privacy = generate.add_argument_group("privacy protection and policy")
    privacy.add_argument(
        "--no-fake-pii", action="store_true", help="learn personal data columns instead of faking"
    )
    privacy.add_argument(
        "--rare-k", type=int, default=5, help="merge categories seen in fewer rows (0: off)"
    )
    privacy.add_argument(
        "--cap-quantile", type=float, default=0.005, help="cap numbers at q / 1-q (0: off)"
    )
    privacy.add_argument("--no-attacks", action="store_true", help="skip the privacy attacks")
    privacy.add_argument(
        "--sensitive", action="append", help="a column for attribute inference (repeatable)"
    )
    privacy.add_argument(
        "--privacy-threshold",
        type=float,
        default=0.2,
        help="an attack risk above this (lower 95%% bound) sends the run back",
    )
    privacy.add_argument(
        "--max-privacy-rounds", type=int, default=2, help="bound on the privacy policy's loops"
    )
    dp = generate.add_argument_group("differential privacy")
    dp.add_argument(
        "--epsilon",
        type=float,
        help="differential privacy budget of this run: the schema's bounds and categories and "
        "the model are all inside it (a DP model is chosen; the manifest shows every spend)",
    )
    dp.add_argument("--delta", type=float, default=1e-6, help="with --epsilon (default 1e-6)")
    dp.add_argument(
        "--privacy-budget",
        type=float,
        help="total epsilon allowed on this file over all runs; a run that would exceed it is "
        "refused before it reads the data (the ledger adds runs up by the file's content hash)",
    )
    dp.add_argument(
        "--dp-engine",
        choices=["builtin", "opacus"],
        default="builtin",
        help="whose DP-SGD trains dp_argn: synthtab's own or opacus's (its DPOptimizer and RDP "
        "analysis); the account is one either way",
    )
    dp.add_argument(
        "--budget-ledger",
        help="the ledger file (default: $SYNTHTAB_HOME/privacy_ledger.db, else "
        "~/.local/share/synthtab/privacy_ledger.db)",
    )
    generate.add_argument(
        "--overwrite", action="store_true", help="replace a previous run in --out"
    )
    generate.add_argument(
        "--llm-summary",
        action="store_true",
        help="the report's plain summary written by the LLM and verified against the report "
        "(~20-60 s on the embedded model; the template when it fails)",
    )
    generate.add_argument(
        "--llm-feedback",
        action="store_true",
        help="the assessor's adjustments chosen by the LLM through tool calls (the policy's "
        "when its choice does not apply)",
    )
    _add_output_flags(generate)

    resume = commands.add_parser("resume", help="continue a run that was killed")
    resume.add_argument("run_dir")
    _add_output_flags(resume)

    evaluate = commands.add_parser(
        "eval", help="the eval harness: run a suite, write result tables"
    )
    evaluate.add_argument("--suite", default="spine")
    evaluate.add_argument("--datasets", help="comma-separated subset of the suite's datasets")
    evaluate.add_argument("--data-dir", help="folder of the benchmark datasets")
    evaluate.add_argument("--out", default="evals-out", help="folder for results")
    evaluate.add_argument("--rows", type=int, help="rows to generate per dataset")
    evaluate.add_argument(
        "--peers",
        help="compare suite: peers to run, comma-separated (sdv-gaussiancopula, ctgan, tvae, "
        "tabularargn; 'none' for none; default all)",
    )
    evaluate.add_argument(
        "--models", help="compare suite: SynthTab models, comma-separated (default: all registered)"
    )
    evaluate.add_argument(
        "--no-sdmetrics", action="store_true", help="compare suite: skip SDMetrics' QualityReport"
    )
    evaluate.add_argument(
        "--seed", type=int, help="compare, conditioning and datetimes suites: the first seed"
    )
    evaluate.add_argument(
        "--repeats",
        type=int,
        help="compare, conditioning and datetimes suites: runs of every synthesizer per "
        "dataset (seeds --seed, --seed + 1, ...; same split); the tables show medians "
        "(default 1)",
    )
    evaluate.add_argument(
        "--epsilons", help="dp suite: epsilons, comma-separated (default 0.5,1,3,10)"
    )
    evaluate.add_argument("--jobs", type=int, help="dp suite: runs at a time (default 1)")
    evaluate.add_argument(
        "--device", help="training suite: auto (a CUDA GPU when there is one), cpu or cuda"
    )
    evaluate.add_argument(
        "--max-epochs", type=int, help="training suite: epochs at most (default: argn's)"
    )
    evaluate.add_argument(
        "--time-budget", type=float, help="training suite: training seconds at most per fit"
    )
    evaluate.add_argument(
        "--train-rows",
        type=int,
        help="training suite: rows of the large table drawn from the real one (default 1,000,000)",
    )
    evaluate.add_argument(
        "--peer-timeout",
        type=int,
        help="seconds allowed per peer run: dp suite (smartnoise; default 600), compare suite "
        "(default: no cap)",
    )

    assess = commands.add_parser(
        "evaluate", help="SynthTab's quality and privacy report for any real/synthetic pair"
    )
    assess.add_argument("real", help="the real table (CSV, Parquet, JSON lines or Excel)")
    assess.add_argument("synthetic", help="the synthetic table, whoever made it")
    assess.add_argument("--target", help="a column to measure ML utility (TSTR/TRTS) on")
    assess.add_argument("--out", default="evaluation", help="folder for report.json/report.html")
    assess.add_argument("--seed", type=int, default=0, help="seed of the holdout split and metrics")
    assess.add_argument(
        "--llm-summary",
        action="store_true",
        help="the plain summary written by the LLM and verified (the template when it fails)",
    )

    commands.add_parser("graph", help="print the run graph as a mermaid diagram")

    from synthtab.api.serve import add_serve_parser
    from synthtab.chat_cli import add_chat_parser

    add_serve_parser(commands)
    add_chat_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "graph":
        from synthtab.graphs.build import mermaid_diagram

        print(mermaid_diagram())
        return 0
    if args.command == "evaluate":
        from synthtab.evaluation import run_evaluate_cli

        return run_evaluate_cli(args)
    if args.command == "eval":
        from synthtab.evals.harness import run_eval_cli

        return run_eval_cli(args)
    if args.command == "chat":
        from synthtab.chat_cli import run_chat_cli

        return run_chat_cli(args)
    if args.command == "serve":
        from synthtab.api.serve import run_serve_cli

        return run_serve_cli(args)
    if _is_schema_first(args):
        from synthtab.schema_first_cli import run_schema_first_cli

        return run_schema_first_cli(args)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
