"""Which columns of each row take part in the checks it breaks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthtab.schema import Rule
from synthtab.schema.infer import infer_table
from synthtab.tools.constraints import violated_columns, violation_mask

OFTEN_BROKEN = Rule(name="older_men", expression="if gender == 'Male' then age >= 40")
RULE_COLUMNS = ["age", "gender"]


def test_violated_columns_mark_each_broken_checks_columns(adult: pd.DataFrame) -> None:
    rows = adult.iloc[:2_000].reset_index(drop=True)
    table = infer_table(rows, "adult").model_copy(
        update={"rules": [OFTEN_BROKEN, Rule(name="never", expression="1 > 2")]}
    )
    frame = rows.iloc[:6].copy()
    frame["gender"] = "Male"
    frame["age"] = [25, 45, 30, 50, 60, 70]
    marks = violated_columns(frame, table)
    # "never" breaks in every row and names no column: every row is marked whole
    assert marks.all().all()
    table = table.model_copy(update={"rules": [OFTEN_BROKEN]})
    marks = violated_columns(frame, table)
    assert marks.any(axis=1).tolist() == [True, False, True, False, False, False]
    assert marks.columns[marks.iloc[0]].tolist() == RULE_COLUMNS
    # a value out of the column's range marks that column alone
    assert table.column("hours-per-week").maximum is not None
    frame.loc[3, "hours-per-week"] = 10_000
    marks = violated_columns(frame, table)
    assert marks.columns[marks.iloc[3]].tolist() == ["hours-per-week"]
    np.testing.assert_array_equal(marks.any(axis=1), violation_mask(frame, table))
