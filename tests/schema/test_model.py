"""The schema objects: JSON and YAML round trips, and reading a user's declaration file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from synthtab.schema.infer import infer_table
from synthtab.schema.model import (
    Column,
    FixedCombination,
    Inequality,
    Rule,
    Schema,
    SchemaDeclaration,
    SemanticType,
    StorageType,
    Table,
    UniqueKey,
)


@pytest.fixture(scope="module")
def inferred_schema(datasets_dir: Path) -> Schema:
    adult = pd.read_parquet(datasets_dir / "adult.parquet").sample(2_000, random_state=3)
    telco = pd.read_parquet(datasets_dir / "telco_churn.parquet").sample(2_000, random_state=3)
    return Schema(tables=[infer_table(adult, "adult"), infer_table(telco, "telco")])


def _hand_made_schema() -> Schema:
    orders = Table(
        name="orders",
        columns=[
            Column(
                name="order_id",
                storage=StorageType.integer,
                semantic=SemanticType.id,
                nullable=False,
                unique=True,
                evidence=["unique and named like an id"],
            ),
            Column(
                name="placed",
                storage=StorageType.string,
                semantic=SemanticType.datetime,
                datetime_format="%Y-%m-%d",
                minimum="2020-01-01T00:00:00",
                maximum="2021-12-31T00:00:00",
            ),
            Column(name="shipped", storage=StorageType.datetime, semantic=SemanticType.datetime),
            Column(
                name="city",
                storage=StorageType.string,
                semantic=SemanticType.categorical,
                allowed_values=["Lyon", "Paris", "Austin"],
            ),
            Column(
                name="country",
                storage=StorageType.string,
                semantic=SemanticType.categorical,
                pattern="^[A-Z]{2}$",
            ),
            Column(
                name="flag",
                storage=StorageType.integer,
                semantic=SemanticType.categorical,
                allowed_values=[0, 1],
                decimals=0,
                null_fraction=0.25,
            ),
            Column(
                name="total",
                storage=StorageType.float,
                semantic=SemanticType.numeric,
                minimum=0.5,
                maximum=99.75,
                decimals=2,
            ),
        ],  # fmt: skip
        primary_key=["order_id"],
        constraints=[
            Inequality(low="placed", high="shipped", strict=True, evidence=["holds in 5/5"]),
            FixedCombination(
                determinant="city",
                dependent="country",
                mapping={"Lyon": "FR", "Paris": "FR", "Austin": None},
            ),
            UniqueKey(columns=["order_id", "city"], source="declared"),
        ],
        rules=[Rule(name="cheap_flags", expression="if flag == 1 then total < 50")],
        row_count=5,
    )
    return Schema(tables=[orders])


def test_hand_made_schema_round_trips_through_json_and_yaml() -> None:
    schema = _hand_made_schema()
    assert Schema.from_text(schema.to_json(), "json") == schema
    assert Schema.from_text(schema.to_yaml(), "yaml") == schema
    # integers in allowed values stay integers, and a null mapping target stays null
    data = json.loads(schema.to_json())
    flag = next(c for c in data["tables"][0]["columns"] if c["name"] == "flag")
    assert flag["allowed_values"] == [0, 1]
    assert data["tables"][0]["constraints"][1]["mapping"]["Austin"] is None


def test_inferred_schema_round_trips_through_json_and_yaml(inferred_schema: Schema) -> None:
    assert Schema.from_text(inferred_schema.to_json(), "json") == inferred_schema
    assert Schema.from_text(inferred_schema.to_yaml(), "yaml") == inferred_schema
    kinds = {c.kind for t in inferred_schema.tables for c in t.constraints}
    assert "fixed_combination" in kinds
    # every inferred item says why
    for table in inferred_schema.tables:
        assert all(column.evidence for column in table.columns)
        assert all(constraint.evidence for constraint in table.constraints)


def test_yaml_is_plain_yaml_a_person_can_read(inferred_schema: Schema) -> None:
    text = inferred_schema.to_yaml()
    assert "!!python" not in text
    loaded = yaml.safe_load(text)
    assert [t["name"] for t in loaded["tables"]] == ["adult", "telco"]


def test_a_written_schema_reads_back_as_a_declaration(inferred_schema: Schema) -> None:
    declaration = SchemaDeclaration.from_text(inferred_schema.to_yaml(), "yaml")
    assert [t.name for t in declaration.tables] == ["adult", "telco"]
    income = next(c for c in declaration.tables[0].columns if c.name == "income")
    assert income.semantic == SemanticType.categorical
    assert income.allowed_values == ["<=50K", ">50K"]


def test_single_table_declaration_shorthand() -> None:
    text = """
name: customers
primary_key: [customer_id]
columns:
  - name: customer_id
    semantic: id
  - name: email
    semantic: email
    nullable: false
constraints:
  - kind: inequality
    low: signup
    high: last_order
rules:
  - name: adults_only
    expression: age >= 18
"""
    declaration = SchemaDeclaration.from_text(text, "yaml")
    assert len(declaration.tables) == 1
    table = declaration.tables[0]
    assert table.name == "customers"
    assert table.columns[1].nullable is False
    assert table.columns[1].storage is None  # left to inference
    assert isinstance(table.constraints[0], Inequality)
    assert table.rules[0].source == "declared"
    as_json = SchemaDeclaration.from_text(json.dumps(yaml.safe_load(text)), "json")
    assert as_json == declaration


def test_multi_table_declaration_and_constraint_kinds() -> None:
    data = {
        "tables": [
            {
                "name": "a",
                "constraints": [
                    {"kind": "fixed_combination", "determinant": "x", "dependent": "y"},
                    {"kind": "unique", "columns": ["x", "y"]},
                ],
            },
            {"name": "b", "foreign_keys": [{"columns": ["a_x"], "ref_table": "a", "ref_columns": ["x"]}]},
        ]
    }  # fmt: skip
    declaration = SchemaDeclaration.from_text(json.dumps(data), "json")
    kinds = [type(c) for c in declaration.tables[0].constraints]
    assert kinds == [FixedCombination, UniqueKey]
    assert declaration.tables[1].foreign_keys[0].ref_table == "a"


def test_declaration_rejects_unknown_fields_and_kinds() -> None:
    with pytest.raises(ValidationError, match="nulable"):
        SchemaDeclaration.from_text('{"columns": [{"name": "a", "nulable": false}]}', "json")
    with pytest.raises(ValidationError):
        SchemaDeclaration.from_text('{"constraints": [{"kind": "between", "low": "a"}]}', "json")
    with pytest.raises(ValidationError):
        SchemaDeclaration.from_text('{"columns": [{"name": "a", "semantic": "colour"}]}', "json")


def test_table_rejects_constraints_on_unknown_columns() -> None:
    with pytest.raises(ValidationError, match="unknown column 'ghost'"):
        Table(
            name="t",
            columns=[Column(name="a", storage=StorageType.integer, semantic=SemanticType.numeric)],
            constraints=[Inequality(low="a", high="ghost")],
        )
