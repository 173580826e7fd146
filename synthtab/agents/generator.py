"""Generator: picks a model for the data and the request, fits it on the training split, and
samples the rows the validator and the privacy node still need."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthtab.agents.privacy import faked_columns
from synthtab.agents.profiler import rows_before_split
from synthtab.agents.progress import emit_progress
from synthtab.agents.workspace import RunPaths
from synthtab.dp.accountant import PrivacyAccountant, PrivacyBudgetExceeded
from synthtab.dp.domain import categorical_share
from synthtab.dp.schema_release import PrivateSynthesizer, table_with_domains
from synthtab.io.errors import InputError
from synthtab.models.base import Synthesizer
from synthtab.models.registry import get_model, load_model
from synthtab.schema import GenerationRequest, SemanticType, Table
from synthtab.schema.request import DP_MODELS
from synthtab.tools.conditions import (
    SEED_ROW,
    ResolvedConditions,
    SeedRows,
    resolve_conditions,
    resolve_seed_rows,
)

NODE = "generator"
MAX_OVERSAMPLING = 20.0


# below this many training rows a neural model has too little to learn from and the copula,
# which needs only marginals and one correlation matrix, is the safer choice
MIN_NEURAL_ROWS = 1_000
# the neural model's training time budget (seconds) per preference; early stopping usually
# ends training well before it
NEURAL_TIME_BUDGET = {"balanced": 300.0, "best": 1_800.0}


# under --epsilon with --model auto: dp_mst (a tree of noisy 2-way marginals) where at least
# this share of the learned columns is categorical, dp_copula (noisy marginals and one noisy
# correlation) where numbers dominate. Measured (eval --suite dp split, seed 0, SDMetrics
# quality at epsilon 0.5 / 1 / 3 / 10, dp_mst vs dp_copula): adult (10 of 15 categorical)
# .936/.943/.955/.960 vs .902/.908/.923/.921 (at 0.5 with the older domain share 0.1);
# telco_churn (17 of 20) .916/.929/.952/.958 vs .896/.905/.899/.900; credit_data (6 of 14)
# .897/.860/.913/.938 vs .900/.886/.956/.963. Direct fits on the full training split.
DP_MST_MIN_CATEGORICAL_SHARE = 0.5
DP_MST_REASON = (
    "dp_mst keeps the pairs between categories that a single correlation matrix blurs: on "
    "adult and telco_churn (67% and 85% categorical columns) its SDMetrics quality measured "
    ".936-.960 and .916-.958 at epsilon 0.5-10 against dp_copula's .902-.923 and .896-.905; "
    "--model dp_copula forces the copula (its TSTR was higher: telco_churn .98-.99 vs .68-.90 "
    "of the non-DP TSTR)"
)
# ... except where a target is named and epsilon is at least this: dp_argn (argn's network with
# DP-SGD) models each column given all the ones before it, so the target keeps its relation to
# every column; dp_mst's tree keeps only its tree neighbours. Measured on telco_churn (eval
# --suite dp, one run, seed 0) at epsilon 3: dp_mst quality .950 and TSTR .882 of the non-DP
# TSTR (below the 0.9 bar), dp_argn .941 and 1.004; at epsilon 10 .958 / .833 against .952 /
# 1.010. Below 3, DP-SGD's noise costs more quality than the tree's (telco at epsilon 1:
# dp_argn .894 against dp_mst .924).
DP_ARGN_MIN_EPSILON = 3.0
DP_ARGN_REASON = (
    "a target is named: dp_argn (the autoregressive network trained with DP-SGD on the DP "
    "domain codes) models each column given all the ones before it, so the target keeps its "
    "relation to every column, where dp_mst's spanning tree keeps its tree neighbours only. On "
    "telco_churn at epsilon 3 its TSTR measured 1.004 of the non-DP TSTR against dp_mst's "
    "0.882, at SDMetrics quality .941 against .950; its fit takes tens of seconds instead of "
    "dp_mst's fraction of one (--model dp_mst forces the tree)"
)
DP_COPULA_REASON = (
    "dp_copula (noisy marginals and one noisy correlation matrix) keeps numeric columns' joint "
    "shape: on credit_data (6 of 14 columns categorical) its SDMetrics quality measured "
    ".886-.963 at epsilon 1-10 against dp_mst's .860-.938, and its TSTR .95-1.06 of the non-DP "
    "TSTR; --model dp_mst forces the marginal model"
)


# targets whose likelihood argn weighs (see argn_target_settings)
WEIGHED_TARGETS = frozenset({SemanticType.categorical, SemanticType.boolean})


def choose_model(request: GenerationRequest, table: Table, train_rows: int) -> dict[str, Any]:
    """The model for this run, its settings and why: forced by ``request.model``, else a rule
    on the table's size and the request's speed-vs-quality preference."""
    if request.epsilon is not None:
        # the row count stays out of the report: under --epsilon it is not released
        return choose_private_model(request, table, f"{len(table.columns)} columns")
    shape = f"{train_rows:,} training rows x {len(table.columns)} columns"
    if request.model != "auto":
        target = argn_target_settings(table, request.target) if request.model == "argn" else {}
        return {
            "name": request.model,
            "reason": f"{shape}; forced by the request (--model {request.model})",
            "settings": {**target, **request.model_settings},
        }
    preference = request.quality_preference
    copula_reason = (
        "the Gaussian copula with empirical marginals keeps every column's distribution and the "
        "pairwise correlations and fits in seconds"
    )
    if preference == "fast":
        return {
            "name": "gaussian_copula",
            "reason": f"{shape}, preference 'fast': {copula_reason} (--preference balanced or "
            "best trains the neural model, which also learns interactions beyond pairs)",
            "settings": {},
        }
    if train_rows < MIN_NEURAL_ROWS:
        return {
            "name": "gaussian_copula",
            "reason": f"{shape}, preference {preference!r}: fewer than {MIN_NEURAL_ROWS:,} rows "
            f"is too little to train the neural model on; {copula_reason}",
            "settings": {},
        }
    budget = NEURAL_TIME_BUDGET[preference]
    settings: dict[str, Any] = {
        "max_training_seconds": budget,
        **argn_target_settings(table, request.target),
    }
    if preference == "best":
        settings |= {"patience": 8, "hidden_size": 128, "layers": 2}
    return {
        "name": "argn",
        "reason": f"{shape}, preference {preference!r}: the autoregressive network learns every "
        "column from the ones before it, so it keeps interactions the copula's pairwise "
        f"correlations miss; training stops early on a validation split or after {budget:.0f} s",
        "settings": settings,
    }


def argn_target_settings(table: Table, target: str | None) -> dict[str, Any]:
    """argn's settings for a run's target: a categorical or boolean target's likelihood is
    weighed above the other columns' (ARGNSettings.target): measured over 3 seeds, it raised
    TSTR on adult, telco_churn, credit_data and lending_club at the same quality, while on
    california_housing's numeric target it cost SDMetrics quality (median 0.953 -> 0.945) for
    little TSTR (r² +0.006). Every run, suite and benchmark that fits argn for a target uses this."""
    if target is None or not table.has_column(target):
        return {}
    if table.column(target).semantic not in WEIGHED_TARGETS:
        return {}
    return {"target": target}


def choose_private_model(request: GenerationRequest, table: Table, shape: str) -> dict[str, Any]:
    """Under --epsilon: a DP model (forced, or by the share of categorical columns, public from
    the schema's types); its (epsilon, delta) is set at fit time to what the run's accountant
    has left."""
    if request.model in DP_MODELS:
        return {
            "name": request.model,
            "reason": f"{shape}; forced by the request (--model {request.model}), "
            "differentially private",
            "settings": _dp_sgd_settings(request, request.model),
        }
    if request.model != "auto":
        raise ValueError(f"--model {request.model} is not differentially private")
    # only public facts decide: the schema's types, the target's name and epsilon (never the
    # row count, which is not released)
    share = categorical_share(table)
    epsilon = request.epsilon or 0.0
    if share < DP_MST_MIN_CATEGORICAL_SHARE:
        name, why = "dp_copula", DP_COPULA_REASON
    elif request.target is not None and epsilon >= DP_ARGN_MIN_EPSILON:
        name, why = "dp_argn", DP_ARGN_REASON
    else:
        name, why = "dp_mst", DP_MST_REASON
    if request.dp_engine != "builtin" and name != "dp_argn":
        why += f" (--dp-engine {request.dp_engine} is unused: {name} trains no network)"
    return {
        "name": name,
        "reason": f"{shape}, epsilon {epsilon:g}, {share:.0%} of the learned columns "
        f"categorical: {why}",
        "settings": _dp_sgd_settings(request, name),
    }


def _dp_sgd_settings(request: GenerationRequest, model: str) -> dict[str, Any]:
    """dp_argn's DP-SGD engine as the request asks; the other DP models train no network."""
    return {"engine": request.dp_engine} if model == "dp_argn" else {}


def fit_private_model(
    choice: dict[str, Any], train: pd.DataFrame, table: Table, seed: int, dp_budget: dict[str, Any]
) -> tuple[Synthesizer, dict[str, Any], Table, int | None]:
    """Fit a DP model on what the accountant has left and spend its block through it; the
    accountant refuses (``PrivacyBudgetExceeded``) before the fit if nothing is left. Returns
    the model, the accountant's summary, the table with the bounds and categories the model
    released (free post-processing: the schema the validator then holds the rows to) and the
    noisy training row count it released (None when it released none)."""
    accountant = PrivacyAccountant.from_summary(dp_budget)
    epsilon, delta = accountant.remaining_epsilon, accountant.remaining_delta
    if not (epsilon > 0.0 and delta > 0.0) or not accountant.can_spend(epsilon, delta):
        raise PrivacyBudgetExceeded(
            f"{choice['name']} on the training rows",
            (epsilon, delta),
            (accountant.spent_epsilon, accountant.spent_delta),
            (accountant.epsilon, accountant.delta),
        )
    settings = {**choice.get("settings", {}), "epsilon": epsilon, "delta": delta}
    model = get_model(choice["name"], **settings)
    model.fit(train, table, seed=seed)
    if not isinstance(model, PrivateSynthesizer):
        raise TypeError(f"{choice['name']} does not account what it spends")
    spent = model.privacy_spent()
    accountant.spend(
        spent["mechanism"],
        # the row count stays out: under --epsilon it is not released
        f"the training rows ({len(table.columns)} columns)",
        spent["epsilon"],
        spent["delta"],
        rho=spent["rho"],
        parts=spent["parts"],
    )
    released = table_with_domains(table, model.released_domains())
    summary = {**dp_budget, **accountant.summary()}
    return model, summary, released, model.released_row_count()


def private_row_count(train_rows: int | None, table: Table, holdout_fraction: float) -> int:
    """The rows a DP run without ``--rows`` delivers: the table's count estimated from the
    noisy training count its model released (the holdout share is public)."""
    if train_rows is None:
        raise ValueError(
            f"table {table.name!r}: under --epsilon no column is learned, so no noisy row count "
            "was released; pass --rows"
        )
    return rows_before_split(train_rows, holdout_fraction)


def sampling_seed(seed: int, generation_round: int) -> int:
    """A distinct, reproducible seed for each sampling round."""
    return int(np.random.SeedSequence([seed, generation_round]).generate_state(1)[0])


def rows_to_sample(rows_needed: int, acceptance_rate: float | None) -> int:
    rate = 1.0 if acceptance_rate is None else max(acceptance_rate, 1.0 / MAX_OVERSAMPLING)
    if rate >= 1.0:
        return rows_needed
    # rounded first so that float noise never adds a row
    return max(1, math.ceil(round(rows_needed / rate * 1.1, 6)) + 10)


# at most this many distinct sets of columns to redraw get a conditioned draw each (one
# ``sample`` call per set); rows with a rarer set are resampled whole
MAX_REDRAW_GROUPS = 64


class CandidateSample(BaseModel):
    """How a round's candidate rows were drawn."""

    rows: int
    redrawn_given_their_other_columns: int = 0  # rejected rows with only their broken columns new
    resampled_whole: int = 0  # rows drawn from scratch
    redraw_refused: int = 0  # rejected rows the model could not condition on (resampled whole)


def sample_candidate(
    model: Synthesizer,
    n: int,
    seed: int,
    rejected_rows: pd.DataFrame | None = None,
    redraw_columns: pd.DataFrame | None = None,
    run_conditions: ResolvedConditions | None = None,
    seeds: SeedRows | None = None,
    seed_of: np.ndarray | None = None,
) -> tuple[pd.DataFrame, CandidateSample]:
    """``n`` rows. Row i < len(rejected_rows) is rejected row i with only the columns marked in
    ``redraw_columns`` drawn anew given its other values, where the model conditions on them
    (else a whole new row); the rest are whole new rows. Without rejected rows this is
    ``model.sample(n, seed)``. ``run_conditions`` (the run's --condition and --rebalance): every
    whole new row is drawn given them, and a redraw never touches their columns. ``seeds`` (the
    run's --seed-table): row i is drawn for seed row ``seed_of[i]``, keeps its filled cells
    through redraws too, and carries its number in the ``SEED_ROW`` column."""
    held = set(run_conditions.columns) if run_conditions is not None else set()
    if seeds is not None and seed_of is None:
        raise ValueError("seed rows need the seed row of every candidate row (seed_of)")
    parts: list[pd.DataFrame] = []
    positions: list[np.ndarray] = []  # which candidate rows each part fills
    refused = 0
    take = 0 if rejected_rows is None or redraw_columns is None else min(len(rejected_rows), n)
    if take and rejected_rows is not None and redraw_columns is not None:
        rows = rejected_rows.iloc[:take].reset_index(drop=True)
        marks = redraw_columns.iloc[:take].reset_index(drop=True)
        for name in held & set(marks.columns):
            marks[name] = False
        if seeds is not None and seed_of is not None:
            seeded = seeds.held(seed_of[:take])
            for name in set(seeded.columns) & set(marks.columns):
                marks[name] &= ~seeded[name].to_numpy(dtype=bool)
        patterns, group_of, counts = np.unique(
            marks.to_numpy(dtype=bool), axis=0, return_inverse=True, return_counts=True
        )
        group_of = group_of.reshape(-1)
        for group in np.argsort(-counts, kind="stable")[:MAX_REDRAW_GROUPS]:
            columns = zip(marks.columns, patterns[group], strict=True)
            kept = [name for name, redraw in columns if not redraw]
            if not kept or len(kept) == len(marks.columns):
                continue  # nothing to keep (or nothing to redraw): a whole new row
            members = np.flatnonzero(group_of == group)
            group_seed = int(np.random.SeedSequence([seed, 1, int(group)]).generate_state(1)[0])
            conditions = rows.iloc[members][kept].reset_index(drop=True)
            try:
                parts.append(model.sample(len(members), seed=group_seed, conditions=conditions))
            except (NotImplementedError, ValueError):
                # the model does not condition, or not on these values (one it never produced)
                refused += len(members)
                continue
            positions.append(members)
    conditioned = sum(len(p) for p in positions)
    filled = np.zeros(n, dtype=bool)
    for members in positions:
        filled[members] = True
    whole = np.flatnonzero(~filled)
    if len(whole) or not parts:
        whole_seeds = seed_of[whole] if seed_of is not None else None
        parts.append(_whole_rows(model, len(whole), seed, run_conditions, seeds, whole_seeds))
        positions.append(whole)
    candidate = parts[0]
    if len(parts) > 1:
        order = np.argsort(np.concatenate(positions), kind="stable")
        candidate = pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)
    if seeds is not None and seed_of is not None:
        candidate = seeds.copy_onto(candidate, seed_of)
        candidate[SEED_ROW] = seed_of.astype("int64")
    report = CandidateSample(
        rows=n,
        redrawn_given_their_other_columns=conditioned,
        resampled_whole=len(whole),
        redraw_refused=refused,
    )
    return candidate, report


def _whole_rows(
    model: Synthesizer,
    n: int,
    seed: int,
    run_conditions: ResolvedConditions | None,
    seeds: SeedRows | None = None,
    seed_of: np.ndarray | None = None,
) -> pd.DataFrame:
    if (run_conditions is None and seeds is None) or n == 0:
        return model.sample(n, seed=seed)
    given = (
        run_conditions.rows(n, seed)
        if run_conditions is not None
        else pd.DataFrame(index=pd.RangeIndex(n))
    )
    groups = (
        seeds.groups(seed_of)
        if seeds is not None and seed_of is not None
        else [(np.arange(n), pd.DataFrame(index=pd.RangeIndex(n)))]
    )
    parts: list[pd.DataFrame] = []
    for group, (members, seeded) in enumerate(groups):
        conditions = pd.concat([given.iloc[members].reset_index(drop=True), seeded], axis=1)
        group_seed = seed if len(groups) == 1 else sampling_seed(seed, 1_000_000 + group)
        try:
            if conditions.shape[1] == 0:
                parts.append(model.sample(len(members), seed=group_seed))
            else:
                parts.append(model.sample(len(members), seed=group_seed, conditions=conditions))
        except (NotImplementedError, ValueError) as error:
            asked = [] if run_conditions is None else [run_conditions.describe()]
            if seeds is not None and seed_of is not None:
                rows = ", ".join(str(int(i) + 1) for i in seed_of[members][:5])
                asked.append(f"the seed table's rows {rows}{', ...' if len(members) > 5 else ''}")
            raise InputError(
                message=f"{model.name} cannot draw rows given {'; '.join(asked)}: {error}"
            ) from error
    if len(parts) == 1:
        return parts[0]
    order = np.argsort(np.concatenate([members for members, _ in groups]), kind="stable")
    return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)


def _resolved_conditions(
    request: GenerationRequest, table: Table, paths: RunPaths, protection: dict[str, Any]
) -> tuple[ResolvedConditions | None, SeedRows | None]:
    """The run's --condition / --rebalance and its --seed-table (from its snapshot), read as
    the training columns' values."""
    if not (request.conditions or request.rebalance or request.seed_table is not None):
        return None, None
    train = pd.read_parquet(paths.train)
    run_conditions = (
        resolve_conditions(table, train, request.conditions, request.rebalance)
        if request.conditions or request.rebalance
        else None
    )
    seeds = (
        resolve_seed_rows(
            table,
            train,
            pd.read_parquet(paths.seed_snapshot),
            request.seed_table,
            faked_columns(protection),
        )
        if request.seed_table is not None
        else None
    )
    return run_conditions, seeds


def _missing_seed_rows(seeds: SeedRows, paths: RunPaths, accepted: int) -> np.ndarray:
    """The seed rows no accepted row was drawn for yet, in seed order."""
    covered = (
        pd.read_parquet(paths.accepted, columns=[SEED_ROW])[SEED_ROW].to_numpy()
        if accepted and paths.accepted.exists()
        else np.array([], dtype=np.int64)
    )
    return np.setdiff1d(np.arange(len(seeds.values)), covered)


def generate(state: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    request = GenerationRequest.model_validate(state["request"])
    table = Table.model_validate(state["table"])
    paths = RunPaths(run_dir=state["run_dir"])
    generation_round = state.get("generation_round", 0) + 1
    feedback = state.get("feedback") or {}
    update: dict[str, Any] = {}
    # before any fit: a value the training rows cannot hold stops the run without the wait
    run_conditions, seeds = _resolved_conditions(
        request, table, paths, state.get("protection") or {}
    )

    refit = feedback.get("action") == "refit"
    if refit or "model_choice" not in state or not paths.model.exists():
        train = pd.read_parquet(paths.train)
        if refit:
            choice = {**state["model_choice"], **feedback["model_choice"]}
        else:
            choice = choose_model(request, table, len(train))
        emit_progress(NODE, f"fitting {choice['name']} on {len(train):,} rows")
        if request.epsilon is not None:
            model, update["dp_budget"], released, released_rows = fit_private_model(
                choice, train, table, request.seed, state["dp_budget"]
            )
            update["table"] = released.model_dump(mode="json")
            if request.rows is None:
                request = request.model_copy(
                    update={
                        "rows": private_row_count(released_rows, table, request.holdout_fraction)
                    }
                )
                update["request"] = request.model_dump(mode="json")
                update["messages"] = [
                    f"generator: {request.rows:,} rows, the model's noisy row count (no --rows "
                    "given; under --epsilon the exact count is not released)"
                ]
        else:
            model = get_model(choice["name"], **choice.get("settings", {}))
            model.fit(train, table, seed=request.seed)
        model.save(paths.model)
        choice = {**choice, "settings": model.settings()}
        update["model_choice"] = choice
    else:
        model = load_model(state["model_choice"]["name"], paths.model)

    rows_wanted = request.rows or 0
    accepted = 0 if refit else state.get("accepted_rows", 0)
    rows_needed = max(rows_wanted - accepted, 0)
    n = rows_to_sample(rows_needed, feedback.get("acceptance_rate"))
    seed = sampling_seed(request.seed, generation_round)
    redraw = feedback.get("redraw") if feedback.get("action") == "refill" else None
    rejected_rows = pd.read_parquet(redraw["rows"]) if redraw else None
    redraw_columns = pd.read_parquet(redraw["columns"]) if redraw else None
    seed_of = None
    if run_conditions is not None or seeds is not None:
        given = [] if run_conditions is None else [run_conditions.describe()]
        if seeds is not None:
            # one candidate per seed row still missing: the rejected ones first (redrawn), then
            # the rest; a low acceptance rate costs rounds, not repeated rows
            missing = _missing_seed_rows(seeds, paths, accepted)
            redrawn = (
                rejected_rows[SEED_ROW].to_numpy(dtype=np.int64)
                if rejected_rows is not None
                else np.array([], dtype=np.int64)
            )
            seed_of = np.concatenate([redrawn, np.setdiff1d(missing, redrawn)])
            n = len(seed_of)
            given.append(
                f"the seed table's {len(seeds.values):,} rows (columns "
                f"{', '.join(seeds.values.columns)}"
                + (f"; {', '.join(seeds.copied)} copied as given" if seeds.copied else "")
                + ")"
            )
        if generation_round == 1:
            update["messages"] = [
                *update.get("messages", []),
                f"generator: every row drawn given {'; '.join(given)}",
            ]
    emit_progress(NODE, f"sampling {n:,} rows (round {generation_round})")
    sampling_started = time.perf_counter()
    candidate, drawn = sample_candidate(
        model, n, seed, rejected_rows, redraw_columns, run_conditions, seeds, seed_of
    )
    sample_seconds = time.perf_counter() - sampling_started
    candidate_path = paths.candidate(generation_round)
    candidate.to_parquet(candidate_path)
    action = "fit and sample" if "model_choice" in update else "sample more"
    if refit:
        action = f"refit ({feedback.get('reason', '')}) and sample"
    return {
        **update,
        "generation_round": generation_round,
        "candidate_path": str(candidate_path),
        "accepted_rows": accepted,
        "sampling_seeds": [seed],
        "feedback": None,
        "iterations": [
            {
                "iteration": generation_round,
                "node": NODE,
                "action": action,
                "rows_sampled": n,
                # the model's sampling alone (no fitting, no file writes): the speed suite's rows/s
                "sample_seconds": round(sample_seconds, 4),
                "rows_redrawn_given_their_other_columns": drawn.redrawn_given_their_other_columns,
                "rows_redraw_refused": drawn.redraw_refused,
                "reason": feedback.get("reason", "initial generation"),
            }
        ],
        "timings": {NODE: time.perf_counter() - started},
    }
