"""Benchmark suites: which datasets, with which target and settings."""

from __future__ import annotations

from pydantic import BaseModel


class EvalCase(BaseModel):
    dataset: str  # file stem in the data folder
    target: str | None = None
    rows: int | None = None  # None: as many as the real table


class Suite(BaseModel):
    name: str
    description: str
    cases: list[EvalCase]


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
        description="adult, 100,000 synthetic rows end to end",
        cases=[EvalCase(dataset="adult", target="income", rows=100_000)],
    ),
    "smoke": Suite(
        name="smoke",
        description="one small table, for checking the harness itself",
        cases=[EvalCase(dataset="titanic", target="survived", rows=500)],
    ),
}
