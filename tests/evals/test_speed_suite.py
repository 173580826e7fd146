"""The speed suite measures the neural model's sampling too, from the generator's own timings."""

from __future__ import annotations

from synthtab.evals.harness import CaseResult, sampling_rate, speed_table
from synthtab.evals.suites import SUITES


def test_the_speed_suite_samples_100k_rows_with_the_copula_and_with_argn() -> None:
    cases = SUITES["speed"].cases
    assert {(c.dataset, c.rows) for c in cases} == {("adult", 100_000)}
    assert [c.extra_args for c in cases] == [[], ["--model", "argn"]]


def test_sampling_rate_sums_every_generator_round() -> None:
    iterations = [
        {"node": "generator", "rows_sampled": 100_000, "sample_seconds": 0.5},
        {"node": "validator", "rows_accepted": 90_000},
        {"node": "generator", "rows_sampled": 11_000, "sample_seconds": 0.055},
    ]
    assert sampling_rate(iterations) == 200_000
    assert sampling_rate([{"node": "generator", "rows_sampled": 5}]) is None
    assert sampling_rate([]) is None


def test_speed_table_shows_the_model_and_its_sampling_rate() -> None:
    row = CaseResult(
        dataset="adult", variant="argn", target="income", rows_requested=100_000,
        rows_delivered=100_000, exit_code=0, status="complete", wall_seconds=90.0,
        peak_memory_mb=900.0, model="argn", sample_rows_per_second=150_000.0,
    )  # fmt: skip
    header, _, line = speed_table([row]).splitlines()
    assert "sample rows/s" in header
    assert "| adult (argn) | argn | 100,000 |" in line and "| 150,000 |" in line
