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


# kinds of realistic fake values a column can be made of when it has no real rows
FakeKind = Literal[
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "national_id",
    "company",
    "city",
    "country",
]


class ValuePrior(_Strict):
    """How values are spread when there are no real rows to learn from (schema-first data)."""

    distribution: Literal["uniform", "normal", "lognormal", "exponential", "poisson"] = "uniform"
    mean: float | None = None
    std: float | None = Field(default=None, gt=0.0)
    weights: list[float] | None = Field(
        default=None,
        description="relative frequencies of allowed_values (or examples), in the same order",
    )

    @model_validator(mode="after")
    def _weights_are_frequencies(self) -> ValuePrior:
        if self.weights is not None and (
            not self.weights or any(w < 0 for w in self.weights) or sum(self.weights) <= 0
        ):
            raise ValueError("prior weights must be non-negative with a positive sum")
        return self


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
    # for schema-first data (no real rows): where values come from; never a constraint
    description: str | None = None
    examples: list[Scalar] | None = Field(
        default=None, description="a vocabulary to draw values from; not a constraint"
    )
    fake: FakeKind | None = Field(default=None, description="values made by this faker")
    prior: ValuePrior | None = None
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _prior_weights_match_values(self) -> Column:
        weights = self.prior.weights if self.prior else None
        values = self.allowed_values or self.examples
        if weights is not None and (values is None or len(weights) != len(values)):
            raise ValueError(
                f"column {self.name!r}: prior has {len(weights)} weights for "
                f"{len(values or [])} allowed values / examples"
            )
        return self

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


# the parts of a date a column may hold, each also a component a datetime can be rebuilt from
DatetimePartName = Literal["year", "month", "day", "hour", "minute"]


class DatetimePart(_Strict):
    """``column`` holds ``part`` of ``datetime`` in every row where both are present (read in
    ``timezone`` when the datetime carries one): flights' ``hour`` of ``time_hour``."""

    kind: Literal["datetime_part"] = "datetime_part"
    datetime: str
    part: DatetimePartName
    column: str
    timezone: str | None = Field(
        default=None, description="IANA zone the part is read in (e.g. America/New_York)"
    )
    source: Source = "inferred"
    evidence: list[str] = Field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [self.datetime, self.column]

    @property
    def name(self) -> str:
        zone = f" in {self.timezone}" if self.timezone else ""
        return f"{self.column} = {self.part}({self.datetime}{zone})"


Constraint = Annotated[
    Inequality | FixedCombination | UniqueKey | DatetimePart, Field(discriminator="kind")
]


class Rule(_Strict):
    """A business rule in SynthTab's rule language, e.g. ``if age < 18 then income == 0``."""

    name: str
    expression: str
    description: str | None = None
    source: Source = "declared"
    evidence: list[str] = Field(default_factory=list)


class Cardinality(_Strict):
    """How many child rows each parent row has (e.g. 0 to 10 orders per customer)."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)
    mean: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> Cardinality:
        if self.max is not None and self.max < self.min:
            raise ValueError(f"cardinality max {self.max} is below min {self.min}")
        if self.mean is not None and (
            self.mean < self.min or (self.max is not None and self.mean > self.max)
        ):
            raise ValueError(f"cardinality mean {self.mean} lies outside [min, max]")
        return self


class ForeignKey(_Strict):
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    cardinality: Cardinality | None = Field(
        default=None, description="child rows per parent row; None: as the row counts imply"
    )

    @model_validator(mode="after")
    def _same_arity(self) -> ForeignKey:
        if not self.columns or len(self.columns) != len(self.ref_columns):
            raise ValueError(
                f"foreign key {self.columns} -> {self.ref_table}{self.ref_columns}: "
                "give as many referencing as referenced columns"
            )
        return self


class Table(_Strict):
    name: str
    description: str | None = None
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
        for fk in self.foreign_keys:
            referenced.extend((f"foreign key to {fk.ref_table!r}", c) for c in fk.columns)
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

    @model_validator(mode="after")
    def _references_resolve(self) -> Schema:
        names = [t.name for t in self.tables]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicated table names {duplicated}")
        by_name = {t.name: t for t in self.tables}
        for table in self.tables:
            for fk in table.foreign_keys:
                where = f"table {table.name!r}: foreign key {fk.columns} -> {fk.ref_table!r}"
                parent = by_name.get(fk.ref_table)
                if parent is None:
                    raise ValueError(f"{where} names an unknown table (tables: {names})")
                missing = [c for c in fk.ref_columns if not parent.has_column(c)]
                if missing:
                    raise ValueError(f"{where} names unknown columns {missing}")
                keys = [parent.primary_key or []] + [
                    c.columns for c in parent.constraints if isinstance(c, UniqueKey)
                ]
                single_unique = len(fk.ref_columns) == 1 and parent.column(fk.ref_columns[0]).unique
                if sorted(fk.ref_columns) not in [sorted(k) for k in keys] and not single_unique:
                    raise ValueError(
                        f"{where}: {fk.ref_columns} is not the primary key or a unique key "
                        f"of {fk.ref_table!r}"
                    )
        return self

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
    description: str | None = None
    examples: list[Scalar] | None = None
    fake: FakeKind | None = None
    prior: ValuePrior | None = None
    # accepted so that a schema.json written by SynthTab reads back as a declaration
    null_fraction: float | None = None
    source: Source | None = None
    evidence: list[str] | None = None


class TableDeclaration(_Strict):
    name: str | None = None
    description: str | None = None
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
