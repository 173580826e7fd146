"""Native (OpenMP/BLAS) thread limits for the metric tools.

The graph runs each node in a worker thread. scikit-learn's OpenMP pools started from those
threads fight each other on a 2-core machine: the assessor took 30 s instead of 3 s on the demo.
One native thread per metric call is fast and predictable; the models' own training is not
affected."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


def single_native_thread(function: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(function)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1):
            return function(*args, **kwargs)

    return limited
