"""The validator's regenerate path: rejected rows go back to the generator, which redraws only
the columns of the checks they broke, given their other values, where the model conditions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.agents import generator
from synthtab.agents.generator import CandidateSample, sample_candidate
from synthtab.agents.validator import can_redraw_columns
from synthtab.agents.workspace import RunPaths
from synthtab.evals.harness import sampling_rate
from synthtab.graphs.runner import start_run
from synthtab.models.base import Synthesizer
from synthtab.models.registry import available_models, get_model, model_capabilities
from synthtab.schema import GenerationRequest, Rule
from synthtab.schema.infer import infer_table
from synthtab.schema.rules import compile_rule, evaluate_rule
from synthtab.tools.conditions import ResolvedConditions, SeedRows
from synthtab.tools.constraints import violated_columns

# holds in no real data: the copula breaks it in about a third of the rows it samples and no
# unique repair exists, so only regenerating rows can make the output compliant
OFTEN_BROKEN = Rule(name="older_men", expression="if gender == 'Male' then age >= 40")
RULE_COLUMNS = ["age", "gender"]


def _holds(rule: Rule, data: pd.DataFrame) -> pd.Series:
    return evaluate_rule(compile_rule(rule.expression, list(data.columns)), data)


@dataclass
class _Redraw:
    rejected: pd.DataFrame
    marks: pd.DataFrame
    candidate: pd.DataFrame
    drawn: CandidateSample


def _kept_values(frame: pd.DataFrame, marks: pd.DataFrame) -> pd.DataFrame:
    """The values a redraw must keep: the marked ones blanked out."""
    return frame.iloc[: len(marks)].reset_index(drop=True).astype(object).mask(marks.to_numpy())


def test_rejected_rows_are_redrawn_in_the_rules_columns_only(
    adult_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redraws: list[_Redraw] = []

    def recorded(
        model: Synthesizer,
        n: int,
        seed: int,
        rejected: pd.DataFrame | None = None,
        marks: pd.DataFrame | None = None,
        run_conditions: ResolvedConditions | None = None,
        seeds: SeedRows | None = None,
        seed_of: np.ndarray | None = None,
    ) -> tuple[pd.DataFrame, CandidateSample]:
        candidate, drawn = sample_candidate(
            model, n, seed, rejected, marks, run_conditions, seeds, seed_of
        )
        if rejected is not None and marks is not None:
            redraws.append(_Redraw(rejected, marks, candidate, drawn))
        return candidate, drawn

    monkeypatch.setattr(generator, "sample_candidate", recorded)
    run_dir = tmp_path / "run"
    request = GenerationRequest(
        source=str(adult_csv), rows=2_000, rules=[OFTEN_BROKEN], compute_tstr=False
    )
    outcome = start_run(request, run_dir)
    assert outcome.status == "complete" and outcome.exit_code == 0
    delivered = pd.read_csv(run_dir / "synthetic.csv")
    assert len(delivered) == 2_000 and _holds(OFTEN_BROKEN, delivered).all()
    # the rejected rows are synthetic rows of a run: removed with the candidates at the end
    assert not list(RunPaths(run_dir=run_dir).work_dir.glob("candidate_*"))

    report = json.loads((run_dir / "report.json").read_text())
    generator_rounds = [i for i in report["iterations"] if i["node"] == "generator"]
    validator_rounds = [i for i in report["iterations"] if i["node"] == "validator"]
    assert validator_rounds[0]["rows_rejected"] > 0, "the first sample must break the rule"
    assert redraws, "the validator sent no rejected rows back"
    first = redraws[0]
    assert len(first.rejected) == validator_rounds[0]["rows_rejected"]
    assert not _holds(OFTEN_BROKEN, first.rejected).any()
    # the rule is the only check the copula's rows broke: exactly its columns are redrawn
    assert first.marks.columns[first.marks.any()].tolist() == RULE_COLUMNS
    assert first.marks[RULE_COLUMNS].all().all()
    redrawn = first.drawn.redrawn_given_their_other_columns
    assert redrawn == min(len(first.rejected), first.drawn.rows) > 0
    assert generator_rounds[1]["rows_redrawn_given_their_other_columns"] == redrawn
    assert generator_rounds[1]["rows_redraw_refused"] == 0
    # every other column of a redrawn row is the rejected row's
    pd.testing.assert_frame_equal(
        _kept_values(first.candidate, first.marks.iloc[:redrawn]),
        _kept_values(first.rejected, first.marks.iloc[:redrawn]),
    )
    # every round timed its sampling: what the speed suite reports as rows/s
    assert all(i["sample_seconds"] > 0 for i in generator_rounds)
    assert (sampling_rate(report["iterations"]) or 0) > 0
    redrawn_rows = first.candidate.iloc[:redrawn]
    # redrawn given the rest of their row, most now obey the rule
    assert _holds(OFTEN_BROKEN, redrawn_rows).mean() > 0.5


@pytest.fixture(scope="module")
def adult_rows(adult: pd.DataFrame) -> pd.DataFrame:
    return adult.sample(2_000, random_state=4).reset_index(drop=True)


def test_argn_redraws_the_broken_columns_and_keeps_the_rest(adult_rows: pd.DataFrame) -> None:
    table = infer_table(adult_rows, "adult").model_copy(update={"rules": [OFTEN_BROKEN]})
    model = get_model("argn", max_epochs=3, hidden_size=32).fit(adult_rows, table, seed=0)
    sample = model.sample(1_000, seed=1)
    marks = violated_columns(sample, table)
    broken = marks.any(axis=1)
    assert broken.sum() > 50
    rejected, rejected_marks = sample[broken], marks[broken]
    candidate, drawn = sample_candidate(model, len(rejected) + 100, 7, rejected, rejected_marks)
    assert drawn.redrawn_given_their_other_columns == len(rejected)
    assert drawn.resampled_whole == 100 and drawn.redraw_refused == 0
    assert len(candidate) == len(rejected) + 100
    assert set(rejected_marks.columns[rejected_marks.any()]) >= set(RULE_COLUMNS)
    pd.testing.assert_frame_equal(
        _kept_values(candidate, rejected_marks), _kept_values(rejected, rejected_marks)
    )
    # broken in the rule only (not also in another check): redrawn given the rest, most obey it
    rule_only = ~rejected_marks.drop(columns=RULE_COLUMNS).any(axis=1).to_numpy()
    assert rule_only.sum() > 20
    assert _holds(OFTEN_BROKEN, candidate.iloc[: len(rejected)][rule_only]).mean() > 0.5
    again, _ = sample_candidate(model, len(rejected) + 100, 7, rejected, rejected_marks)
    pd.testing.assert_frame_equal(again, candidate)  # seeds still reproduce


_NOT_CONDITIONING = [n for n in available_models() if not model_capabilities(n).conditioning]
_SETTINGS: dict[str, dict[str, float]] = {
    "dp_mst": {"epsilon": 10.0},
    "dp_copula": {"epsilon": 10.0},
    "dp_argn": {"epsilon": 10.0, "max_steps": 10},
}


@pytest.mark.parametrize("name", _NOT_CONDITIONING)
def test_a_model_that_cannot_condition_resamples_whole_rows(
    name: str, adult_rows: pd.DataFrame
) -> None:
    assert not can_redraw_columns({"model_choice": {"name": name}})
    table = infer_table(adult_rows, "adult").model_copy(update={"rules": [OFTEN_BROKEN]})
    model = get_model(name, **_SETTINGS.get(name, {})).fit(adult_rows, table, seed=0)
    sample = model.sample(500, seed=1)
    marks = violated_columns(sample, table)
    broken = marks.any(axis=1)
    assert broken.any()
    candidate, drawn = sample_candidate(model, 300, 5, sample[broken], marks[broken])
    assert drawn.redrawn_given_their_other_columns == 0
    assert drawn.redraw_refused == min(int(broken.sum()), 300)
    assert drawn.resampled_whole == 300
    pd.testing.assert_frame_equal(candidate, model.sample(300, seed=5))


def test_conditioning_models_are_asked_to_redraw() -> None:
    assert can_redraw_columns({"model_choice": {"name": "gaussian_copula"}})
    assert can_redraw_columns({"model_choice": {"name": "argn"}})
    assert not can_redraw_columns({})
