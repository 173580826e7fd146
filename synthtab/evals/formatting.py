"""What every suite's result tables share: one way to print a cell and the command that made
the table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def cell(value: object, digits: int = 3) -> str:
    """A table cell: "–" for nothing, thousands separators, floats to ``digits`` places."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def command_line(
    suite: str, args: argparse.Namespace, flags: Sequence[str], switches: Sequence[str] = ()
) -> str:
    """``synthtab eval --suite NAME`` with the given flags (attribute names) that were set and
    the switches that are on, as a user would type them."""
    parts = [f"synthtab eval --suite {suite}"]
    for flag in flags:
        value = getattr(args, flag, None)
        if value is not None:
            parts.append(f"--{flag.replace('_', '-')} {value}")
    parts.extend(f"--{s.replace('_', '-')}" for s in switches if getattr(args, s, False))
    return " ".join(parts)


def table_preamble(
    description: str, command: str, note: str | None, header: list[str]
) -> list[str]:
    """A suite's results.md up to its table's first row: what the suite does, the command that
    made it, a note on how to read the cells, and the table's header."""
    lines = [description, "", f"`{command}`", ""]
    if note is not None:
        lines += [note, ""]
    return [*lines, "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
