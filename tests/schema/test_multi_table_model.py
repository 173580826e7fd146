"""The schema model for several tables: foreign keys resolve, cardinalities and priors make sense."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from synthtab.schema import Cardinality, Column, ForeignKey, Schema, Table, ValuePrior


def _customers() -> Table:
    return Table(
        name="customers",
        columns=[Column(name="customer_id", storage="integer", semantic="id", unique=True)],
        primary_key=["customer_id"],
    )


def _orders(fk: ForeignKey) -> Table:
    return Table(
        name="orders",
        columns=[
            Column(name="order_id", storage="integer", semantic="id", unique=True),
            Column(name="customer_id", storage="integer", semantic="id"),
        ],
        primary_key=["order_id"],
        foreign_keys=[fk],
    )


def test_a_foreign_key_to_a_primary_key_is_accepted_with_its_cardinality() -> None:
    fk = ForeignKey(
        columns=["customer_id"],
        ref_table="customers",
        ref_columns=["customer_id"],
        cardinality=Cardinality(min=1, max=10, mean=4),
    )
    schema = Schema(tables=[_customers(), _orders(fk)])
    again = Schema.from_text(schema.to_yaml(), "yaml")
    assert again.table("orders").foreign_keys[0].cardinality == Cardinality(min=1, max=10, mean=4)


@pytest.mark.parametrize(
    ("fk", "message"),
    [
        (
            ForeignKey(columns=["customer_id"], ref_table="clients", ref_columns=["id"]),
            "unknown table",
        ),
        (
            ForeignKey(columns=["customer_id"], ref_table="customers", ref_columns=["cid"]),
            "unknown columns ['cid']",
        ),
    ],
)
def test_a_foreign_key_that_does_not_resolve_is_refused(fk: ForeignKey, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Schema(tables=[_customers(), _orders(fk)])


def test_a_foreign_key_must_name_a_key_of_its_parent() -> None:
    customers = _customers().model_copy(
        update={
            "columns": [
                *_customers().columns,
                Column(name="city", storage="string", semantic="categorical"),
            ]
        }
    )
    fk = ForeignKey(columns=["customer_id"], ref_table="customers", ref_columns=["city"])
    with pytest.raises(ValidationError, match="not the primary key or a unique key"):
        Schema(tables=[customers, _orders(fk)])


def test_a_foreign_key_column_must_exist_in_its_table() -> None:
    fk = ForeignKey(columns=["client_id"], ref_table="customers", ref_columns=["customer_id"])
    with pytest.raises(ValidationError, match="unknown column 'client_id'"):
        _orders(fk)


def test_cardinality_bounds_are_ordered() -> None:
    with pytest.raises(ValidationError, match="below min"):
        Cardinality(min=3, max=1)
    with pytest.raises(ValidationError, match="outside"):
        Cardinality(min=0, max=2, mean=5)


def test_prior_weights_match_the_vocabulary() -> None:
    with pytest.raises(ValidationError, match="2 weights for 3"):
        Column(
            name="tier",
            storage="string",
            semantic="categorical",
            allowed_values=["a", "b", "c"],
            prior=ValuePrior(weights=[1, 2]),
        )
    with pytest.raises(ValidationError, match="non-negative"):
        ValuePrior(weights=[-1, 2])
