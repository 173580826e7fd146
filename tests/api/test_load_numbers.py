from __future__ import annotations

from datetime import datetime, timedelta

from synthtab.evals.load import max_overlap


def test_max_overlap_counts_runs_open_at_once() -> None:
    t0 = datetime(2025, 1, 1)
    at = [t0 + timedelta(seconds=s) for s in range(10)]
    assert max_overlap([(at[0], at[2]), (at[1], at[3]), (at[2], at[4])]) == 2
    assert max_overlap([(at[0], at[1]), (at[1], at[2])]) == 1
    assert max_overlap([(at[0], at[9])] * 3) == 3
    assert max_overlap([]) == 0
