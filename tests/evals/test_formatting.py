"""The cells and command lines every suite's result tables share."""

from __future__ import annotations

import argparse

from synthtab.evals.formatting import cell, command_line


def test_a_cell_shows_nothing_numbers_and_names_alike_in_every_table() -> None:
    assert cell(None) == "–"
    assert cell(48842) == "48,842"
    assert cell(0.98765) == "0.988"
    assert cell(1234.56, 1) == "1,234.6"
    assert cell(3.0, 0) == "3"
    assert cell(True) == "True"
    assert cell("argn") == "argn"


def test_the_command_line_names_the_flags_that_were_set_and_the_switches_that_are_on() -> None:
    args = argparse.Namespace(datasets="adult", repeats=3, seed=None, no_sdmetrics=True, jobs=None)
    line = command_line("compare", args, ("datasets", "seed", "repeats"), ("no_sdmetrics",))
    assert line == "synthtab eval --suite compare --datasets adult --repeats 3 --no-sdmetrics"
    quiet = argparse.Namespace(datasets=None, no_sdmetrics=False)
    assert command_line("dp", quiet, ("datasets",), ("no_sdmetrics",)) == "synthtab eval --suite dp"
