"""The bundled schema templates: valid, consistent, rich enough to ground the planner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from synthtab.schema.model import Column, SemanticType, StorageType, Table
from synthtab.schema.rules import compile_rule
from synthtab.tools.templates import (
    SchemaTemplate,
    TemplateError,
    load_template,
    load_templates,
    templates_dir,
)

TEMPLATES = load_templates()
IDS = [t.name for t in TEMPLATES]


def test_library_is_large_and_varied() -> None:
    assert len(TEMPLATES) >= 40
    assert len({t.domain for t in TEMPLATES}) >= 25
    assert len(set(IDS)) == len(IDS)
    assert len(list(templates_dir().glob("*.yaml"))) == len(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_shape(template: SchemaTemplate) -> None:
    tables = template.schema_.tables
    assert 1 <= len(tables) <= 6
    assert len(template.description.split()) >= 8
    assert len(template.keywords) >= 5
    assert sum(len(t.rules) for t in tables) >= 1
    for table in tables:
        assert table.primary_key, f"{table.name} has no primary key"
        assert table.row_count is not None and table.row_count > 0
        for key in table.primary_key:
            assert not table.column(key).nullable
        for fk in table.foreign_keys:
            assert fk.cardinality is not None, f"{table.name}.{fk.columns} has no cardinality"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_rules_parse_and_name_only_their_tables_columns(template: SchemaTemplate) -> None:
    for table in template.schema_.tables:
        storage = {c.name: c.storage for c in table.columns}
        for rule in table.rules:
            # raises UnknownColumnError for a column of another table, RuleTypeError for a type clash
            compile_rule(rule.expression, table.column_names, rule.name, storage)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_row_counts_agree_with_cardinalities(template: SchemaTemplate) -> None:
    schema = template.schema_
    for table in schema.tables:
        assert table.row_count is not None
        for fk in table.foreign_keys:
            parent = schema.table(fk.ref_table)
            assert parent.row_count is not None and fk.cardinality is not None
            column = table.column(fk.columns[0])
            non_null_children = table.row_count * (1 - (column.null_fraction or 0.0))
            card = fk.cardinality
            where = f"{table.name}.{fk.columns[0]} -> {parent.name}"
            assert card.min * parent.row_count <= non_null_children + 1e-9, where
            if card.max is not None:
                assert non_null_children <= card.max * parent.row_count + 1e-9, where
            assert card.mean is not None
            assert card.mean == pytest.approx(non_null_children / parent.row_count, abs=0.01)
            # a key column stores the same kind of value as the key it points to
            assert column.storage == parent.column(fk.ref_columns[0]).storage, where


def _check_column(table: Table, column: Column) -> None:
    where = f"{table.name}.{column.name}"
    values = column.allowed_values or column.examples
    if column.prior is not None and column.prior.weights is not None:
        assert values is not None and len(column.prior.weights) == len(values), where
        assert all(w > 0 for w in column.prior.weights), where
    if values is not None:
        assert len(set(map(str, values))) == len(values), f"{where}: repeated values"
    if column.examples is not None and column.semantic != SemanticType.id:
        assert len(column.examples) >= 5, f"{where}: a vocabulary needs more than a handful"
        if column.unique and column.fake is None and column.pattern is None:
            # a unique column drawn from a vocabulary needs at least one value per row
            assert table.row_count is not None and len(column.examples) >= table.row_count, where
    if column.fake is not None:
        assert column.storage == StorageType.string, where
    if column.null_fraction:
        assert column.nullable, where
    if column.storage in (StorageType.integer, StorageType.float) and column.minimum is not None:
        assert column.maximum is not None and float(column.minimum) <= float(column.maximum)
        prior = column.prior
        if prior is not None and prior.mean is not None and prior.distribution != "poisson":
            assert float(column.minimum) <= prior.mean <= float(column.maximum), where
    if column.storage == StorageType.datetime:
        assert column.minimum is not None and column.maximum is not None, where
        low = datetime.fromisoformat(str(column.minimum))
        high = datetime.fromisoformat(str(column.maximum))
        assert low < high, where
        assert column.datetime_format, where


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_columns_are_well_formed(template: SchemaTemplate) -> None:
    for table in template.schema_.tables:
        for column in table.columns:
            _check_column(table, column)


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _retail() -> dict:
    return yaml.safe_load((templates_dir() / "retail_sales.yaml").read_text(encoding="utf-8"))


def test_invalid_schema_names_the_file(tmp_path: Path) -> None:
    data = _retail()
    data["name"] = "broken"
    data["schema"]["tables"][3]["foreign_keys"][0]["ref_table"] = "shops"
    path = _write(tmp_path, "broken", data)
    with pytest.raises(TemplateError, match=r"broken\.yaml.*'shops'"):
        load_templates([path])


def test_rule_naming_another_tables_column_is_rejected(tmp_path: Path) -> None:
    data = _retail()
    data["name"] = "bad_rule"
    data["schema"]["tables"][3]["rules"] = [{"name": "x", "expression": "list_price > 0"}]
    path = _write(tmp_path, "bad_rule", data)
    with pytest.raises(TemplateError, match=r"bad_rule\.yaml.*'sales'.*list_price"):
        load_template(path)


def test_bad_yaml_and_wrong_name_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "oops.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"oops\.yaml: not valid YAML"):
        load_template(bad)
    data = _retail()
    renamed = _write(tmp_path, "other_name", data)
    with pytest.raises(TemplateError, match="differs from the file name"):
        load_template(renamed)
    not_mapping = _write(tmp_path, "listy", [1, 2])
    with pytest.raises(TemplateError, match=r"listy\.yaml: expected a mapping"):
        load_template(not_mapping)
