"""Which columns of each row take part in the checks it breaks: what a model has to redraw to
fix the row, keeping the rest (the validator's regenerate path)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthtab.schema import Table

# the checks themselves live in constraints.py; this reads their per-row verdicts
from synthtab.tools.constraints import _run_checks


def violated_columns(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """A boolean frame with ``df``'s index and the table's columns: True where the row breaks a
    check (type, range, null, pattern, unique, key, inequality, fixed combination, rule) that
    involves the column. A row without a True passes every check, so ``.any(axis=1)`` equals
    ``violation_mask``. A broken check that names no column (a rule on constants) marks the
    whole row. Raises ValueError when the data lacks a column of the table."""
    names = table.column_names
    position = {name: i for i, name in enumerate(names)}
    involved = np.zeros((len(df), len(names)), dtype=bool)
    for outcome in _run_checks(df, table):
        if not outcome.violating.any():
            continue
        columns = [position[c] for c in outcome.columns if c in position] or list(position.values())
        involved[np.ix_(outcome.violating, columns)] = True
    return pd.DataFrame(involved, index=df.index, columns=names)
