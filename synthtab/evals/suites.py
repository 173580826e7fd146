"""Benchmark suites: which datasets, with which target and settings."""

from __future__ import annotations

from pydantic import BaseModel


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
    # True: run by evals.compare (SynthTab models and the peers side by side on one split)
    comparison: bool = False
    # True: run by evals.training_speed (argn's training and sampling speed, in-process)
    training: bool = False


SUITES: dict[str, Suite] = {
    "spine": Suite(
        name="spine",
        description="the spine's acceptance suite: five real tables, as many rows as each has",
        cases=[
            EvalCase(dataset="adult", target="income"),
            EvalCase(dataset="telco_churn", target="churn"),
            EvalCase(dataset="lending_club", target="Class"),
            EvalCase(dataset="credit_data", target="Status"),
            EvalCase(dataset="titanic", target="survived"),
        ],
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
        training=True,
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
        comparison=True,
        cases=[
            EvalCase(dataset="adult", target="income"),
            EvalCase(dataset="telco_churn", target="churn"),
            EvalCase(dataset="lending_club", target="Class"),
            EvalCase(dataset="credit_data", target="Status"),
            EvalCase(dataset="california_housing", target="MedHouseVal"),
        ],
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
