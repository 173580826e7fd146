"""Identifier columns made unique after generation: duplicates re-numbered, the first
occurrence kept, and a value the user gave (a seed table's) kept before any drawn one."""

from __future__ import annotations

import pandas as pd

from synthtab.schema.infer import infer_table
from synthtab.tools.identifiers import make_identifiers_unique


def _table() -> object:
    real = pd.DataFrame(
        {"customer_id": [f"C{i:04d}" for i in range(50)], "n": range(50), "x": [1.5] * 50}
    )
    return infer_table(real, "t")


def test_duplicates_are_renumbered_after_the_largest_and_the_first_is_kept() -> None:
    rows = pd.DataFrame(
        {"customer_id": ["C0007", "C0003", "C0007", None], "n": [1, 2, 3, 4], "x": [0.0] * 4}
    )
    unique = make_identifiers_unique(rows, _table())
    assert unique["customer_id"].tolist()[:3] == ["C0007", "C0003", "C0008"]
    assert pd.isna(unique["customer_id"].iloc[3])  # a null is never a duplicate
    assert rows["customer_id"].tolist()[2] == "C0007"  # the input is not changed


def test_a_held_value_is_kept_and_the_drawn_duplicate_renumbered() -> None:
    rows = pd.DataFrame(
        {"customer_id": ["C0007", "C0003", "C0007"], "n": [1, 2, 3], "x": [0.0] * 3}
    )
    held = pd.DataFrame({"customer_id": [False, False, True]})
    unique = make_identifiers_unique(rows, _table(), held)
    assert unique["customer_id"].tolist() == ["C0008", "C0003", "C0007"]
