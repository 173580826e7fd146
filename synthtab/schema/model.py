"""What a dataset is: tables, columns, keys, constraints and rules.

Every room of SynthTab talks about data through these objects. They are plain pydantic models
that serialise to JSON and YAML; each inferred item carries the evidence it was inferred from,
and ``source`` says whether the user declared it (declared always beats inferred).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class StorageType(StrEnum):
    """How values are stored."""

    integer = "integer"
    float = "float"
    string = "string"
    boolean = "boolean"
    datetime = "datetime"


class SemanticType(StrEnum):
    """What values mean; decides how a column is modelled and checked."""

    id = "id"
    categorical = "categorical"
    numeric = "numeric"
    datetime = "datetime"
    boolean = "boolean"
    text = "text"
    email = "email"
    phone = "phone"
    postal_code = "postal_code"
    url = "url"
    constant = "constant"
    empty = "empty"


Source = Literal["inferred", "declared"]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Column(_Strict):
    name: str
    storage: StorageType
    semantic: SemanticType
    nullable: bool = True
    null_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    unique: bool = False
    # numeric bounds; for datetimes ISO strings
    minimum: float | str | None = None
    maximum: float | str | None = None
    allowed_values: list[Scalar] | None = None
    pattern: str | None = Field(default=None, description="regular expression every value matches")
    datetime_format: str | None = Field(
        default=None, description="strftime format of a string date"
    )
    decimals: int | None = Field(default=None, description="digits after the point in the source")
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @property
    def is_numeric(self) -> bool:
        return self.semantic == SemanticType.numeric

    @property
    def is_datetime(self) -> bool:
        return self.semantic == SemanticType.datetime


class Inequality(_Strict):
    """``low <= high`` (or ``<`` when strict) in every row where both are present."""

    kind: Literal["inequality"] = "inequality"
    low: str
    high: str
    strict: bool = False
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [self.low, self.high]

    @property
    def name(self) -> str:
        return f"{self.low} {'<' if self.strict else '<='} {self.high}"


class FixedCombination(_Strict):
    """``dependent`` is a function of ``determinant`` (city -> state)."""

    kind: Literal["fixed_combination"] = "fixed_combination"
    determinant: str
    dependent: str
    mapping: dict[str, Scalar | None] = Field(
        default_factory=dict, description="determinant value (as text) -> dependent value"
    )
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [self.determinant, self.dependent]

    @property
    def name(self) -> str:
        return f"{self.determinant} -> {self.dependent}"


class UniqueKey(_Strict):
    kind: Literal["unique"] = "unique"
    columns: list[str]
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return f"unique({', '.join(self.columns)})"


Constraint = Annotated[Inequality | FixedCombination | UniqueKey, Field(discriminator="kind")]


class Rule(_Strict):
    """A business rule in SynthTab's rule language, e.g. ``if age < 18 then income == 0``."""

    name: str
    expression: str
    description: str | None = None
    source: Source = "declared"
    evidence: list[str] = Field(default_factory=list)


class ForeignKey(_Strict):
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


class Table(_Strict):
    name: str
    columns: list[Column]
    primary_key: list[str] | None = None
    constraints: list[Constraint] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    row_count: int | None = None

    @model_validator(mode="after")
    def _names_are_known(self) -> Table:
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"table {self.name!r}: duplicated column names {duplicated}")
        known = set(names)
        referenced: list[tuple[str, str]] = []
        for key in self.primary_key or []:
            referenced.append(("primary_key", key))
        for constraint in self.constraints:
            referenced.extend((constraint.name, c) for c in constraint.columns)
        unknown = [(where, c) for where, c in referenced if c not in known]
        if unknown:
            where, col = unknown[0]
            raise ValueError(f"table {self.name!r}: {where} names unknown column {col!r}")
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)


class Schema(_Strict):
    """One or more tables; the unit the whole pipeline passes around."""

    tables: list[Table]

    def table(self, name: str | None = None) -> Table:
        if name is None:
            if len(self.tables) != 1:
                raise ValueError("schema has several tables: name the one you mean")
            return self.tables[0]
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"schema has no table {name!r}")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)

    @classmethod
    def from_text(cls, text: str, fmt: Literal["json", "yaml"]) -> Schema:
        data: Any = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        return cls.model_validate(data)

    @classmethod
    def infer(cls, data: Any, name: str = "data") -> Schema:
        """The one-table schema inferred from a DataFrame: types, semantics, keys, constraints."""
        from synthtab.schema.infer import infer_table  # infer imports this module: import late

        return cls(tables=[infer_table(data, name)])


class ColumnDeclaration(_Strict):
    """What a user may declare about a column; anything left out is inferred."""

    name: str
    storage: StorageType | None = None
    semantic: SemanticType | None = None
    nullable: bool | None = None
    unique: bool | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    allowed_values: list[Scalar] | None = None
    pattern: str | None = None
    datetime_format: str | None = None
    decimals: int | None = None
    # accepted so that a schema.json written by SynthTab reads back as a declaration
    null_fraction: float | None = None
    source: Source | None = None
    evidence: list[str] | None = None


class TableDeclaration(_Strict):
    name: str | None = None
    columns: list[ColumnDeclaration] = Field(default_factory=list)
    primary_key: list[str] | None = None
    constraints: list[Constraint] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    row_count: int | None = None


class SchemaDeclaration(_Strict):
    """A user's (possibly partial) schema file: ``--schema FILE``.

    Either ``tables: [...]`` or, for one table, the table's fields at the top level.
    """

    tables: list[TableDeclaration]

    @model_validator(mode="before")
    @classmethod
    def _single_table_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tables" not in data:
            return {"tables": [data]}
        return data

    @classmethod
    def from_text(cls, text: str, fmt: Literal["json", "yaml"]) -> SchemaDeclaration:
        data: Any = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        return cls.model_validate(data)
