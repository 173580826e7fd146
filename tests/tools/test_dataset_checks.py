"""The dataset check: per-table checks plus foreign keys, cardinalities and row counts."""

from __future__ import annotations

from typing import Any

import pandas as pd

from synthtab.schema import Schema
from synthtab.tools.dataset_checks import check_dataset


def col(name: str, storage: str = "integer", semantic: str = "id", **extra: Any) -> dict[str, Any]:
    return {"name": name, "storage": storage, "semantic": semantic, **extra}


def schema() -> Schema:
    return Schema.model_validate(
        {
            "tables": [
                {
                    "name": "customers",
                    "row_count": 3,
                    "primary_key": ["customer_id"],
                    "constraints": [{"kind": "unique", "columns": ["customer_id", "region"]}],
                    "columns": [
                        col("customer_id", nullable=False),
                        col("region", "string", "text"),
                    ],
                },
                {
                    "name": "orders",
                    "primary_key": ["order_id"],
                    "columns": [
                        col("order_id", nullable=False),
                        col("customer_id"),
                        col("amount", "float", "numeric", minimum=0),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["customer_id"],
                            "ref_table": "customers",
                            "ref_columns": ["customer_id"],
                            "cardinality": {"min": 1, "max": 2},
                        }
                    ],
                    "rules": [{"name": "positive", "expression": "amount > 0"}],
                },
                {
                    "name": "shipments",
                    "columns": [col("region", "string", "text"), col("customer_id")],
                    "foreign_keys": [
                        {
                            "columns": ["customer_id", "region"],
                            "ref_table": "customers",
                            "ref_columns": ["customer_id", "region"],
                        }
                    ],
                },
            ]
        }
    )


def frames() -> dict[str, pd.DataFrame]:
    return {
        "customers": pd.DataFrame({"customer_id": [1, 2, 3], "region": ["n", "s", "e"]}),
        "orders": pd.DataFrame(
            {"order_id": [10, 11, 12, 13], "customer_id": [1, 1, 2, 3], "amount": [5.0, 1, 2, 3]}
        ),
        "shipments": pd.DataFrame({"region": ["n", "s", None], "customer_id": [1, 2, 9]}),
    }


def test_a_clean_dataset_passes() -> None:
    check = check_dataset(frames(), schema())
    assert check.ok, check.problems
    assert check.foreign_key_violations == 0
    link = check.foreign_keys[0]
    assert link.cardinality is not None
    assert (link.cardinality.smallest, link.cardinality.largest) == (1, 2)
    assert check.tables["customers"].expected_rows == 3
    dumped = check.model_dump(mode="json")
    assert dumped["ok"] is True and dumped["tables"]["orders"]["ok"] is True


def test_orphans_are_counted_with_examples() -> None:
    data = frames()
    data["orders"].loc[3, "customer_id"] = 7
    data["shipments"].loc[1, "region"] = "w"  # (2, 'w') is no customer
    check = check_dataset(data, schema())
    assert not check.ok
    assert check.foreign_key_violations == 2
    orders = check.foreign_keys[0]
    assert orders.orphans == 1 and orders.orphan_examples == [{"_row": 3, "customer_id": 7}]
    # customer 3 lost its only order: below the minimum of one
    assert orders.cardinality is not None and orders.cardinality.parents_below_min == 1
    shipments = check.foreign_keys[1]
    assert shipments.orphans == 1 and shipments.checked_rows == 2  # a null part is skipped
    assert any("orders(customer_id) -> customers(customer_id)" in p for p in check.problems)


def test_cardinality_above_max_rule_violations_and_row_counts_fail() -> None:
    data = frames()
    data["orders"]["customer_id"] = [1, 1, 1, 2]
    data["orders"].loc[0, "amount"] = 0.0
    check = check_dataset(data, schema(), expected_rows={"orders": 5})
    card = check.foreign_keys[0].cardinality
    assert card is not None and card.parents_above_max == 1 and card.parents_below_min == 1
    assert check.tables["orders"].violating_rows == 1
    assert [c.name for c in check.tables["orders"].failed_checks] == ["positive"]
    assert any("4 rows, 5 expected" in p for p in check.problems)
    assert not check.ok


def test_missing_and_duplicate_keys_are_reported() -> None:
    data = frames()
    data["customers"].loc[2, "customer_id"] = 2
    del data["shipments"]
    check = check_dataset(data, schema())
    assert check.missing_tables == ["shipments"]
    assert any("primary_key(customer_id)" in p for p in check.problems)
    assert not check.ok


def test_keys_compare_across_types_as_a_database_would() -> None:
    data = frames()
    data["orders"]["customer_id"] = data["orders"]["customer_id"].astype(float)
    assert check_dataset(data, schema()).foreign_key_violations == 0
