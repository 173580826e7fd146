"""Errors and notes about a user's input, worded for the user rather than for a developer.

The CLI prints ``str(error)`` and exits non-zero, so the text alone must say what is wrong and
where: ``data.csv, line 17: expected 15 fields, saw 16``.
"""

from __future__ import annotations

from typing import Any, Literal

RowLabel = Literal["line", "row", "record"]


class InputError(Exception):
    """Bad input (a file, a table in it, a column, a line) that the user can fix.

    ``row`` is 1-based and counted the way the user sees the file: the header of a CSV is
    line 1, Excel's first row is row 1. ``row_label`` is the word that goes in front of it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        table: str | None = None,
        column: str | None = None,
        row: int | None = None,
        row_label: RowLabel = "line",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.table = table
        self.column = column
        self.row = row
        self.row_label: RowLabel = row_label

    @property
    def location(self) -> str:
        """Where the problem is, e.g. ``data.csv, column 'age', line 17`` (may be empty)."""
        parts: list[str] = []
        if self.file is not None:
            parts.append(self.file)
        if self.table is not None:
            parts.append(f"table {self.table!r}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.row is not None:
            parts.append(f"{self.row_label} {self.row}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location
        return f"{where}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    # Exceptions pickle through their ``args``; keyword-only fields need this to survive
    # multiprocessing and checkpoints.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_input_error, (type(self), self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data, for JSON error files and API responses."""
        return {
            "message": self.message,
            "file": self.file,
            "table": self.table,
            "column": self.column,
            "row": self.row,
            "row_label": self.row_label,
        }


def _rebuild_input_error(cls: type[InputError], fields: dict[str, Any]) -> InputError:
    return cls(**fields)


class OutputError(InputError, ValueError):
    """An output that cannot be written as asked (too many rows for Excel, a character Excel
    forbids). A ValueError for callers, and printed like any InputError by the CLI."""


class InputWarning(UserWarning):
    """Something about the input the user should know, but that did not stop the read
    (a file that was not UTF-8, a workbook with more sheets than the one read)."""
