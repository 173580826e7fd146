"""The library of domain schema templates that ground the planner (synthtab/data/templates/).

Each template is one YAML file: a ``name``, a ``domain``, a ``description`` written the way a
user would ask for such data, ``keywords``, and a full multi-table :class:`Schema` with keys,
cardinalities, row counts, value vocabularies and business rules.

Numeric ``prior`` parameters in the templates are in the column's own units: for a lognormal
prior ``mean``/``std`` are the mean and standard deviation of the values, not of their logarithm.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synthtab.schema.model import Schema
from synthtab.schema.rules import RuleError, compile_rule

__all__ = ["SchemaTemplate", "TemplateError", "load_template", "load_templates", "templates_dir"]


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and what is wrong."""


class SchemaTemplate(BaseModel):
    """A domain's example schema, ready to show a user or to ground an LLM proposal."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    domain: str
    description: str
    keywords: list[str] = Field(min_length=1)
    schema_: Schema = Field(alias="schema")

    @field_validator("description", "domain")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def search_text(self) -> str:
        """What the vector store embeds: the words a request about this domain would use."""
        tables = "; ".join(f"{t.name} ({', '.join(t.column_names)})" for t in self.schema_.tables)
        return (
            f"{self.name.replace('_', ' ')}. {self.domain}. {self.description} "
            f"Keywords: {', '.join(self.keywords)}. Tables: {tables}"
        )


def templates_dir() -> Path:
    """Where the bundled templates live (inside the installed package)."""
    return Path(str(resources.files("synthtab") / "data" / "templates"))


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def load_template(path: Path) -> SchemaTemplate:
    """One template file, validated; a TemplateError names the file and the first problems."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"template {path}: cannot read it: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"template {path}: expected a mapping with name, domain, schema, ...")
    try:
        template = SchemaTemplate.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(f"template {path}: {_validation_message(exc)}") from exc
    for table in template.schema_.tables:
        storage = {c.name: c.storage for c in table.columns}
        for rule in table.rules:
            try:
                compile_rule(rule.expression, table.column_names, rule.name, storage)
            except RuleError as exc:
                raise TemplateError(f"template {path}: table {table.name!r}: {exc}") from exc
    if template.name != path.stem:
        raise TemplateError(
            f"template {path}: name {template.name!r} differs from the file name {path.stem!r}"
        )
    return template


def load_templates(paths: Iterable[Path] | None = None) -> list[SchemaTemplate]:
    """Every bundled template (or the given files), sorted by name."""
    files = sorted(paths) if paths is not None else sorted(templates_dir().glob("*.yaml"))
    templates = [load_template(p) for p in files]
    seen: dict[str, Path] = {}
    for template, path in zip(templates, files, strict=True):
        if template.name in seen:
            raise TemplateError(
                f"template {path}: name {template.name!r} is also used by {seen[template.name]}"
            )
        seen[template.name] = path
    return sorted(templates, key=lambda t: t.name)
