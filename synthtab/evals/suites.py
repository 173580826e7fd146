"""Benchmark suites: which datasets, with which target and settings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

# what runs a suite's cases: "cli" one `synthtab generate` per case (harness.run_suite);
# "compare" SynthTab models and the peers on one split (evals.compare); "training" argn's speed
# in-process (evals.training_speed); "conditioning" argn's conditional sampling
# (evals.conditioning); "dp" the private models and smartnoise (evals.dp_suite); "datetimes"
# argn's time-of-day and weekday relations (evals.datetimes)
Runner = Literal["cli", "compare", "training", "conditioning", "dp", "datetimes"]


class EvalCase(BaseModel):
    dataset: str  # file stem in the data folder
    target: str | None = None
    rows: int | None = None  # None: as many as the real table
    variant: str | None = None  # names the case's run folder and result row (ablations)
    extra_args: list[str] = []  # further `synthtab generate` flags for this case


class Suite(BaseModel):
    name: str
    description: str
    cases: list[EvalCase]
    runner: Runner = "cli"


# the five tables issue 4's benchmark is judged on, with the column each predicts
COMPARE_CASES = [
    EvalCase(dataset="adult", target="income"),
    EvalCase(dataset="telco_churn", target="churn"),
    EvalCase(dataset="lending_club", target="Class"),
    EvalCase(dataset="credit_data", target="Status"),
    EvalCase(dataset="california_housing", target="MedHouseVal"),
]

SUITES: dict[str, Suite] = {
    "spine": Suite(
        name="spine",
        description="the spine's acceptance suite: five real tables, as many rows as each has",
        # the compare tables with a categorical target, and titanic
        cases=[*COMPARE_CASES[:4], EvalCase(dataset="titanic", target="survived")],
    ),
    "speed": Suite(
        name="speed",
        description="adult, 100,000 synthetic rows end to end, with the copula (the default) and "
        "with the neural model; 'sample rows/s' is the model's sampling alone",
        cases=[
            EvalCase(dataset="adult", target="income", rows=100_000),
            EvalCase(
                dataset="adult",
                target="income",
                rows=100_000,
                variant="argn",
                extra_args=["--model", "argn"],
            ),
        ],
    ),
    "training": Suite(
        name="training",
        description="argn's training and sampling speed on the device torch picks (a CUDA GPU "
        "when there is one): adult as it is, and 1,000,000 of adult's rows drawn with replacement "
        "(a speed measure: those rows repeat); each case in its own process",
        runner="training",
        cases=[
            EvalCase(dataset="adult", target="income"),
            EvalCase(
                dataset="adult",
                target="income",
                rows=1_000_000,  # replaced by --train-rows
                variant="rows drawn with replacement",
            ),
        ],
    ),
    "compare": Suite(
        name="compare",
        description="SynthTab vs SDV and mostlyai-engine at default settings, one split per table",
        runner="compare",
        cases=COMPARE_CASES,
    ),
    "conditioning": Suite(
        name="conditioning",
        description="argn's conditional sampling on the compare splits: unconditioned, "
        "conditioned on the target, and the first two columns redrawn given the rest, each with "
        "the first draw kept and with importance resampling (synthtab/evals/conditioning.py)",
        runner="conditioning",
        cases=COMPARE_CASES,
    ),
    "datetimes": Suite(
        name="datetimes",
        description="argn with and without its clock tokens (a datetime's time of day and "
        "weekday as tokens of their own) on tables whose values move with the clock: "
        "cgm_glucose, and nyc_weather without its part columns (synthtab/evals/datetimes.py)",
        runner="datetimes",
        cases=[EvalCase(dataset="cgm_glucose"), EvalCase(dataset="nyc_weather")],
    ),
    "feedback": Suite(
        name="feedback",
        description="ablation of the assessor's feedback: the same run with feedback on (up to 2 "
        "rounds) and off, at a quality threshold of 0.99 that no first pass reaches (detection "
        "and TSTR thresholds at their defaults, 0.90 and 0.80)",
        cases=[
            EvalCase(
                dataset=dataset,
                target=target,
                variant=variant,
                extra_args=["--quality-threshold", "0.99", "--max-quality-rounds", rounds],
            )
            for dataset, target in (
                ("adult", "income"),
                ("telco_churn", "churn"),
                ("credit_data", "Status"),
            )
            for variant, rounds in (("feedback off", "0"), ("feedback on", "2"))
        ],
    ),
    "dp": Suite(
        name="dp",
        runner="dp",
        description="SynthTab's DP path (auto, dp_mst, dp_copula, dp_argn) vs smartnoise MST and AIM at "
        "several epsilons, one split per table (synthtab/evals/dp_suite.py)",
        cases=[
            EvalCase(dataset="adult", target="income"),
            EvalCase(dataset="telco_churn", target="churn"),
            EvalCase(dataset="credit_data", target="Status"),
        ],
    ),
    "smoke": Suite(
        name="smoke",
        description="one small table, for checking the harness itself",
        cases=[EvalCase(dataset="titanic", target="survived", rows=500)],
    ),
}
