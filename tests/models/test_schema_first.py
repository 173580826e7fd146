"""Schema-first generation: data for a schema with no real rows, keys and rules guaranteed."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthtab.models.schema_first import (
    SchemaFirstError,
    generate_from_schema,
    resolve_row_counts,
    table_order,
)
from synthtab.schema import Schema
from synthtab.tools.constraints import validate_table
from synthtab.tools.dataset_checks import check_dataset


def col(name: str, storage: str, semantic: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "storage": storage, "semantic": semantic, **extra}


def retail(customers: int = 40, products: int = 15, sales: int | None = 160) -> Schema:
    return Schema.model_validate(
        {
            "tables": [
                {
                    "name": "customers",
                    "row_count": customers,
                    "primary_key": ["customer_id"],
                    "columns": [
                        col("customer_id", "integer", "id", nullable=False),
                        col("full_name", "string", "text", nullable=False, fake="full_name"),
                        col("email", "string", "email", nullable=False, unique=True),
                        col("age", "integer", "numeric"),
                        col("segment", "string", "categorical", examples=["retail", "pro"]),
                        col(
                            "signup",
                            "datetime",
                            "datetime",
                            minimum="2022-01-01",
                            maximum="2024-12-31",
                        ),
                        col("phone", "string", "phone", null_fraction=0.3),
                    ],
                },
                {
                    "name": "products",
                    "row_count": products,
                    "primary_key": ["sku"],
                    "columns": [
                        col("sku", "string", "id", nullable=False, pattern=r"SKU-\d{4}"),
                        col(
                            "category",
                            "string",
                            "categorical",
                            allowed_values=["toys", "books", "food"],
                            prior={"weights": [1, 1, 8]},
                        ),
                        col("price", "float", "numeric", minimum=1, maximum=300, decimals=2),
                        col("barcode", "string", "text", pattern=r"[0-9]{8}(-[A-Z]{2})?"),
                    ],
                },
                {
                    "name": "sales",
                    "row_count": sales,
                    "primary_key": ["sale_id"],
                    "columns": [
                        col("sale_id", "string", "id", nullable=False),
                        col("customer_id", "integer", "id", nullable=False),
                        col("sku", "string", "id", nullable=False),
                        col("quantity", "integer", "numeric", minimum=1, maximum=10),
                        col("discount", "float", "numeric", minimum=0, maximum=0.5, decimals=2),
                        col(
                            "status",
                            "string",
                            "categorical",
                            allowed_values=["paid", "refunded", "cancelled"],
                        ),
                        col("sold_on", "string", "datetime", datetime_format="%d/%m/%Y"),
                        col(
                            "shipped",
                            "datetime",
                            "datetime",
                            minimum="2023-01-01",
                            maximum="2024-06-30",
                        ),
                        col(
                            "delivered",
                            "datetime",
                            "datetime",
                            minimum="2023-01-01",
                            maximum="2024-06-30",
                        ),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["customer_id"],
                            "ref_table": "customers",
                            "ref_columns": ["customer_id"],
                            "cardinality": {"min": 1, "max": 8, "mean": 4},
                        },
                        {"columns": ["sku"], "ref_table": "products", "ref_columns": ["sku"]},
                    ],
                    "constraints": [{"kind": "inequality", "low": "shipped", "high": "delivered"}],
                    "rules": [
                        {
                            "name": "cancelled_no_discount",
                            "expression": "if status == 'cancelled' then discount == 0",
                        },
                        {
                            "name": "bulk_discount",
                            "expression": "if quantity >= 5 then discount >= 0.1",
                        },
                    ],
                },
            ]
        }
    )


def test_retail_dataset_keeps_every_key_rule_and_cardinality() -> None:
    schema = retail()
    frames = generate_from_schema(schema, seed=3)
    assert list(frames) == ["customers", "products", "sales"]
    assert {n: len(f) for n, f in frames.items()} == {"customers": 40, "products": 15, "sales": 160}
    check = check_dataset(frames, schema)
    assert check.ok, check.problems
    assert check.foreign_key_violations == 0
    for name, frame in frames.items():
        assert validate_table(frame, schema.table(name)).violating_rows == 0
    sales, customers, products = frames["sales"], frames["customers"], frames["products"]
    per_customer = (
        sales["customer_id"].value_counts().reindex(customers["customer_id"], fill_value=0)
    )
    assert per_customer.between(1, 8).all() and per_customer.max() > 1
    assert set(sales["sku"]) <= set(products["sku"])
    assert sales["sale_id"].is_unique and sales["sale_id"].str.fullmatch(r"SAL-\d{5}").all()
    assert products["sku"].str.fullmatch(r"SKU-\d{4}").all()
    assert products["barcode"].str.fullmatch(r"[0-9]{8}(-[A-Z]{2})?").all()
    # prices hold two decimals, in range; ages take the name's default 18-90
    assert (products["price"].round(2) == products["price"]).all()
    assert products["price"].nunique() > 10
    assert products["price"].between(1, 300).all()
    assert customers["age"].between(18, 90).all() and customers["age"].nunique() > 10
    # the email of a row is built from the name in that row
    first = customers["full_name"].str.split(" ").str[0].str.lower()
    assert [e.startswith(f) for e, f in zip(customers["email"], first, strict=True)].count(
        True
    ) == 40
    assert customers["email"].is_unique
    assert customers["phone"].isna().any() and customers["phone"].notna().any()
    assert pd.to_datetime(sales["sold_on"], format="%d/%m/%Y").notna().all()
    cancelled = sales[sales["status"] == "cancelled"]
    assert (cancelled["discount"] == 0).all()
    assert (sales["shipped"] <= sales["delivered"]).all()


def test_vocabulary_weights_are_followed() -> None:
    frames = generate_from_schema(retail(customers=5, products=3000, sales=5), seed=0)
    shares = frames["products"]["category"].value_counts(normalize=True)
    assert shares["food"] == pytest.approx(0.8, abs=0.04)


def test_same_seed_same_data_other_seed_differs() -> None:
    schema = retail()
    first = generate_from_schema(schema, seed=11)
    again = generate_from_schema(schema, seed=11)
    other = generate_from_schema(schema, seed=12)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["sales"].equals(other["sales"])


def test_row_count_is_derived_from_cardinality() -> None:
    schema = retail(customers=30, sales=None)
    assert resolve_row_counts(schema)["sales"] == 120  # 30 customers x mean 4
    frames = generate_from_schema(schema, row_counts={"customers": 10})
    assert len(frames["sales"]) == 40
    assert check_dataset(frames, schema, {"customers": 10, "sales": 40}).ok


def test_inconsistent_cardinality_names_table_key_and_numbers() -> None:
    schema = retail(customers=10, sales=100)  # at most 8 sales per customer: 80
    with pytest.raises(SchemaFirstError) as caught:
        generate_from_schema(schema)
    message = str(caught.value)
    for part in ("'sales'", "['customer_id']", "'customers'", "100 rows", "10 parent rows", "80"):
        assert part in message, message


def junction_schema(lines_per_order: dict[str, int], products: int = 6) -> Schema:
    return Schema.model_validate(
        {
            "tables": [
                {
                    "name": "orders",
                    "row_count": 50,
                    "primary_key": ["order_id"],
                    "columns": [col("order_id", "integer", "id", nullable=False)],
                },
                {
                    "name": "products",
                    "row_count": products,
                    "primary_key": ["product_id"],
                    "columns": [col("product_id", "integer", "id", nullable=False)],
                },
                {
                    "name": "order_items",
                    "primary_key": ["order_id", "product_id"],
                    "columns": [
                        col("order_id", "integer", "id", nullable=False),
                        col("product_id", "integer", "id", nullable=False),
                        col("quantity", "integer", "numeric"),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["order_id"],
                            "ref_table": "orders",
                            "ref_columns": ["order_id"],
                            "cardinality": lines_per_order,
                        },
                        {
                            "columns": ["product_id"],
                            "ref_table": "products",
                            "ref_columns": ["product_id"],
                        },
                    ],
                },
                {
                    "name": "order_lines",
                    "primary_key": ["order_id", "line_no"],
                    "columns": [
                        col("order_id", "integer", "id", nullable=False),
                        col("line_no", "integer", "numeric", nullable=False),
                        col("note", "string", "text"),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["order_id"],
                            "ref_table": "orders",
                            "ref_columns": ["order_id"],
                            "cardinality": {"min": 0, "max": 3},
                        },
                    ],
                },
            ]
        }
    )


def test_junction_table_composite_key_is_unique() -> None:
    schema = junction_schema({"min": 1, "max": 6, "mean": 4})
    frames = generate_from_schema(schema, seed=5)
    items = frames["order_items"]
    assert len(items) == 200
    assert not items.duplicated(["order_id", "product_id"]).any()
    assert items.groupby("order_id").size().max() >= 5  # dense: most products of 6 per order
    lines = frames["order_lines"]
    assert not lines.duplicated(["order_id", "line_no"]).any()
    assert (lines.groupby("order_id")["line_no"].max() == lines.groupby("order_id").size()).all()
    assert check_dataset(frames, schema).ok


def test_junction_needing_more_partners_than_exist_is_an_error() -> None:
    schema = junction_schema({"min": 7, "max": 7}, products=6)
    with pytest.raises(SchemaFirstError, match=r"order_items.*distinct 'products' rows"):
        generate_from_schema(schema)


def employees(nullable: bool = True) -> Schema:
    return Schema.model_validate(
        {
            "tables": [
                {
                    "name": "employees",
                    "row_count": 120,
                    "primary_key": ["employee_id"],
                    "columns": [
                        col("employee_id", "integer", "id", nullable=False),
                        col("manager_id", "integer", "id", nullable=nullable),
                        col("first_name", "string", "text", fake="first_name"),
                        col("last_name", "string", "text", fake="last_name"),
                        col("work_email", "string", "email", unique=True),
                        col(
                            "salary",
                            "float",
                            "numeric",
                            prior={"distribution": "lognormal", "mean": 60000, "std": 15000},
                        ),
                        col("company", "string", "text", fake="company"),
                        col("country", "string", "categorical", fake="country"),
                        col("ssn", "string", "text", fake="national_id"),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["manager_id"],
                            "ref_table": "employees",
                            "ref_columns": ["employee_id"],
                        }
                    ],
                }
            ]
        }
    )


def test_nullable_self_reference_forms_a_hierarchy() -> None:
    schema = employees()
    frame = generate_from_schema(schema, seed=2)["employees"]
    managers = frame["manager_id"]
    assert managers.isna().sum() >= 1 and managers.notna().sum() > 100
    assert set(managers.dropna()) <= set(frame["employee_id"])
    # every manager comes earlier: following managers always ends, no cycle
    position = {e: i for i, e in enumerate(frame["employee_id"])}
    for row, manager in enumerate(managers):
        assert pd.isna(manager) or position[manager] < row
    assert check_dataset({"employees": frame}, schema).ok
    assert frame["salary"].median() == pytest.approx(60000, rel=0.15)
    assert frame["ssn"].str.fullmatch(r"9\d\d-\d\d-\d{4}").all()
    local = frame["work_email"].str.split("@").str[0]
    first = frame["first_name"].str.lower()
    assert all(e.startswith(f) for e, f in zip(local, first, strict=True))


def test_not_null_self_reference_is_an_error() -> None:
    with pytest.raises(SchemaFirstError, match=r"'employees'.*self-reference.*nullable"):
        generate_from_schema(employees(nullable=False))


def test_cycle_between_tables_is_an_error() -> None:
    schema = Schema.model_validate(
        {
            "tables": [
                {
                    "name": "a",
                    "primary_key": ["id"],
                    "columns": [col("id", "integer", "id"), col("b_id", "integer", "id")],
                    "foreign_keys": [
                        {"columns": ["b_id"], "ref_table": "b", "ref_columns": ["id"]}
                    ],
                },
                {
                    "name": "b",
                    "primary_key": ["id"],
                    "columns": [col("id", "integer", "id"), col("a_id", "integer", "id")],
                    "foreign_keys": [
                        {"columns": ["a_id"], "ref_table": "a", "ref_columns": ["id"]}
                    ],
                },
                {"name": "c", "primary_key": ["id"], "columns": [col("id", "integer", "id")]},
            ]
        }
    )
    with pytest.raises(SchemaFirstError, match=r"cycle.*a -> b; b -> a"):
        table_order(schema)


def test_impossible_rule_raises_naming_table_and_rule() -> None:
    schema = Schema.model_validate(
        {
            "tables": [
                {
                    "name": "people",
                    "row_count": 30,
                    "columns": [col("age", "integer", "numeric", minimum=18, maximum=90)],
                    "rules": [{"name": "too_old", "expression": "age > 200"}],
                }
            ]
        }
    )
    with pytest.raises(SchemaFirstError, match=r"'people'.*too_old"):
        generate_from_schema(schema)


def test_defaults_without_priors_follow_names_and_types() -> None:
    schema = Schema.model_validate(
        {
            "tables": [
                {
                    "name": "things",
                    "row_count": 400,
                    "columns": [
                        col("unit_price", "float", "numeric"),
                        col("quantity", "integer", "numeric"),
                        col("is_active", "boolean", "boolean"),
                        col("created_at", "datetime", "datetime"),
                        col("color", "string", "categorical"),
                        col("website", "string", "url"),
                    ],
                }
            ]
        }
    )
    frame = generate_from_schema(schema, seed=1)["things"]
    price = frame["unit_price"].astype(float)
    assert (price > 0).all() and price.mean() > price.median()  # lognormal: right-skewed
    assert (frame["quantity"] >= 1).all() and frame["quantity"].max() < 20
    assert frame["is_active"].mean() == pytest.approx(0.5, abs=0.1)
    assert frame["created_at"].min() >= pd.Timestamp("2021-01-01")
    counts = frame["color"].value_counts().to_numpy()
    assert len(counts) == 5 and counts[0] > 2 * counts[-1]  # Zipf-like
    assert frame["website"].str.startswith("https://example.com/").all()
    assert np.isfinite(price).all()


def test_pattern_that_cannot_be_sampled_names_the_column() -> None:
    schema = Schema.model_validate(
        {
            "tables": [
                {
                    "name": "t",
                    "row_count": 3,
                    "columns": [col("code", "string", "text", pattern=r"(a)\1")],
                }
            ]
        }
    )
    with pytest.raises(SchemaFirstError, match=re.escape("table 't', column 'code'")):
        generate_from_schema(schema)


def test_rules_on_foreign_keys_and_dense_keys_are_met() -> None:
    schema = Schema.model_validate(
        {
            "tables": [
                {
                    "name": "airports",
                    "row_count": 4,
                    "primary_key": ["code"],
                    "columns": [col("code", "string", "id", nullable=False)],
                },
                {
                    "name": "flights",
                    "row_count": 300,
                    "primary_key": ["flight_id"],
                    "columns": [
                        col("flight_id", "integer", "id", nullable=False),
                        col("origin", "string", "id", nullable=False),
                        col("destination", "string", "id", nullable=False),
                        col(
                            "month",
                            "string",
                            "categorical",
                            allowed_values=[f"2024-{m:02d}" for m in range(1, 13)],
                        ),
                        col(
                            "day",
                            "datetime",
                            "datetime",
                            minimum="2024-01-01",
                            maximum="2024-01-31",
                        ),
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["origin"],
                            "ref_table": "airports",
                            "ref_columns": ["code"],
                            "cardinality": {"min": 70, "max": 80},
                        },
                        {
                            "columns": ["destination"],
                            "ref_table": "airports",
                            "ref_columns": ["code"],
                            "cardinality": {"min": 70, "max": 80},
                        },
                    ],
                    "rules": [
                        {"name": "different_airports", "expression": "origin != destination"}
                    ],
                },
                {
                    "name": "usage",
                    "columns": [
                        col("code", "string", "id", nullable=False),
                        col(
                            "month",
                            "string",
                            "categorical",
                            allowed_values=[f"2024-{m:02d}" for m in range(1, 13)],
                        ),
                        col(
                            "day",
                            "datetime",
                            "datetime",
                            minimum="2024-01-01",
                            maximum="2024-01-31",
                        ),
                    ],
                    "constraints": [
                        {"kind": "unique", "columns": ["code", "month"]},
                        {"kind": "unique", "columns": ["code", "day"]},
                    ],
                    "foreign_keys": [
                        {
                            "columns": ["code"],
                            "ref_table": "airports",
                            "ref_columns": ["code"],
                            "cardinality": {"min": 10, "max": 12},
                        },
                    ],
                },
            ]
        }
    )
    frames = generate_from_schema(schema, seed=9)
    flights = frames["flights"]
    assert (flights["origin"] != flights["destination"]).all()
    assert flights["origin"].value_counts().between(70, 80).all()
    assert flights["destination"].value_counts().between(70, 80).all()
    usage = frames["usage"]
    assert not usage.duplicated(["code", "month"]).any()
    assert check_dataset(frames, schema).ok
