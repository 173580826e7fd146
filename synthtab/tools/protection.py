"""Protection of the training data without differential privacy.

Three protections, each reported and each switchable off:

- personal data columns (names, emails, phones, addresses, national ids) are replaced by fakes,
  so the model never learns them (``synthtab.tools.pii``);
- categories seen in fewer than ``k`` training rows are merged into one label (or their rows
  suppressed), since a value shared by two people points at those two people;
- numbers beyond the ``q`` and ``1 - q`` quantiles are capped there, since an extreme salary is
  as identifying as a name.

A plan is fitted on the training rows once and applied as a pure function, so the same plan can
map the holdout into the protected space for measurement without changing it on disk.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthtab.schema import FixedCombination, SemanticType, StorageType, Table
from synthtab.tools.pii import PiiColumn, detect_pii, replace_with_fakes

MERGED_LABEL = "Other"
# a numeric column with fewer distinct values is a code or a count: capping it is a merge
MIN_DISTINCT_TO_CAP = 20

RareAction = Literal["merge", "suppress"]


class ProtectionSettings(BaseModel):
    """What the privacy(pre) node does to the training rows; 0 / False switches one off."""

    model_config = ConfigDict(extra="forbid")

    fake_pii: bool = Field(default=True, description="replace personal data columns by fakes")
    rare_category_k: int = Field(
        default=5, ge=0, description="categories in fewer training rows are protected; 0: off"
    )
    rare_action: RareAction = Field(
        default="merge",
        description=f"'merge' rare categories into {MERGED_LABEL!r}, or 'suppress' their rows",
    )
    cap_quantile: float = Field(
        default=0.005, ge=0.0, lt=0.5, description="cap numbers at the q and 1-q quantiles; 0: off"
    )

    def stronger(self) -> ProtectionSettings:
        """The next step up the ladder the privacy(post) policy climbs: k doubled (at least 10),
        caps moved in to five times the quantile (at most 5%)."""
        return self.model_copy(
            update={
                "fake_pii": True,
                "rare_category_k": max(10, 2 * self.rare_category_k),
                "cap_quantile": min(0.05, max(0.01, 5 * self.cap_quantile)),
            }
        )


class CategoryMerge(BaseModel):
    column: str
    categories: list[str] = Field(description="the rare categories (as text)")
    into: str | None = Field(description="the merged label; None when their rows are suppressed")


class NumericCap(BaseModel):
    column: str
    low: float
    high: float


class ProtectionPlan(BaseModel):
    """What to change, fitted on the training rows."""

    settings: ProtectionSettings
    fakes: list[PiiColumn] = Field(default_factory=list)
    merges: list[CategoryMerge] = Field(default_factory=list)
    caps: list[NumericCap] = Field(default_factory=list)
    skipped: dict[str, str] = Field(
        default_factory=dict, description="column -> why a protection left it alone"
    )


class ProtectionAction(BaseModel):
    column: str
    action: Literal["fake", "merge", "suppress", "cap"]
    values_changed: int = Field(description="cells changed (rows removed for 'suppress')")
    detail: str


class ProtectionReport(BaseModel):
    """What a plan did to one frame."""

    settings: ProtectionSettings
    actions: list[ProtectionAction] = Field(default_factory=list)
    rows_in: int
    rows_out: int
    skipped: dict[str, str] = Field(default_factory=dict)

    @property
    def cells_changed(self) -> int:
        return sum(a.values_changed for a in self.actions if a.action != "suppress")


def _constrained_columns(table: Table) -> dict[str, str]:
    """Columns whose values a merge would break: the determinant or dependent of a fixed
    combination, or a column a business rule names."""
    out: dict[str, str] = {}
    for constraint in table.constraints:
        if isinstance(constraint, FixedCombination):
            for name in constraint.columns:
                out[name] = f"part of the fixed combination {constraint.name}"
    for rule in table.rules:
        for column in table.columns:
            if re.search(rf"(?<![\w]){re.escape(column.name)}(?![\w])", rule.expression):
                out.setdefault(column.name, f"named by rule {rule.name!r}")
    return out


def fit_protection(
    train: pd.DataFrame,
    table: Table,
    settings: ProtectionSettings,
    target: str | None = None,
) -> ProtectionPlan:
    """The plan for ``train``. The target's classes are never merged (utility is measured on
    them); columns tied by a fixed combination or a rule keep their categories."""
    plan = ProtectionPlan(settings=settings)
    skip = {target} if target else set()
    if settings.fake_pii:
        plan.fakes = detect_pii(train, table, skip=skip)
    faked = {p.name for p in plan.fakes}
    constrained = _constrained_columns(table)

    for column in table.columns:
        name = column.name
        if name not in train.columns or name in faked:
            continue
        if settings.rare_category_k > 0 and column.semantic == SemanticType.categorical:
            if name == target:
                plan.skipped[name] = "the target: its classes are kept for utility"
                continue
            if column.storage != StorageType.string:
                plan.skipped[name] = "a numeric code: no label to merge into"
                continue
            if name in constrained:
                plan.skipped[name] = constrained[name]
                continue
            counts = train[name].dropna().astype(str).value_counts()
            rare = sorted(counts[counts < settings.rare_category_k].index)
            if rare:
                into = MERGED_LABEL if settings.rare_action == "merge" else None
                plan.merges.append(CategoryMerge(column=name, categories=rare, into=into))
        elif (
            settings.cap_quantile > 0
            and column.semantic == SemanticType.numeric
            and column.storage in {StorageType.integer, StorageType.float}
        ):
            values = pd.to_numeric(train[name], errors="coerce").dropna().to_numpy(float)
            if np.unique(values).size < MIN_DISTINCT_TO_CAP:
                continue
            # observed values as bounds, so an integer column stays integer
            low = float(np.quantile(values, settings.cap_quantile, method="higher"))
            high = float(np.quantile(values, 1 - settings.cap_quantile, method="lower"))
            if low < high and (values.min() < low or values.max() > high):
                plan.caps.append(NumericCap(column=name, low=low, high=high))
    return plan


def apply_protection(
    frame: pd.DataFrame, plan: ProtectionPlan, seed: int, fake_pii: bool = True
) -> tuple[pd.DataFrame, ProtectionReport]:
    """``frame`` protected by ``plan`` (a new frame) and what changed.

    ``fake_pii=False`` applies only the merges and caps — how the holdout is brought into the
    protected space for measurement (its personal columns are then left out of every metric).
    """
    out = frame.copy()
    actions: list[ProtectionAction] = []
    rows_in = len(out)
    if fake_pii:
        for pii in plan.fakes:
            if pii.name not in out.columns:
                continue
            before = out[pii.name]
            out[pii.name] = replace_with_fakes(before, pii.kind, seed)
            actions.append(
                ProtectionAction(
                    column=pii.name,
                    action="fake",
                    values_changed=int(before.notna().sum()),
                    detail=f"{pii.kind} ({pii.reason}) replaced by fakes",
                )
            )
    drop = np.zeros(len(out), dtype=bool)
    for merge in plan.merges:
        if merge.column not in out.columns:
            continue
        series = out[merge.column]
        hit = series.astype("string").isin(merge.categories).fillna(False).to_numpy(bool)
        if merge.into is None:
            drop |= hit
            action, changed = "suppress", int(hit.sum())
        else:
            out[merge.column] = series.where(~hit, merge.into)
            action, changed = "merge", int(hit.sum())
        shown = ", ".join(merge.categories[:5]) + ("..." if len(merge.categories) > 5 else "")
        target = f"into {merge.into!r}" if merge.into else "rows removed"
        actions.append(
            ProtectionAction(
                column=merge.column,
                action=action,
                values_changed=changed,
                detail=f"{len(merge.categories)} categories under k={plan.settings.rare_category_k}"
                f" ({shown}) {target}",
            )
        )
    for cap in plan.caps:
        if cap.column not in out.columns:
            continue
        series = out[cap.column]
        numbers = pd.to_numeric(series, errors="coerce")
        outside = ((numbers < cap.low) | (numbers > cap.high)).fillna(False).to_numpy(bool)
        if outside.any():
            clipped = numbers.clip(cap.low, cap.high)
            out[cap.column] = (
                clipped.astype(series.dtype) if series.dtype.kind in "iuf" else clipped
            )
        actions.append(
            ProtectionAction(
                column=cap.column,
                action="cap",
                values_changed=int(outside.sum()),
                detail=f"capped to [{cap.low:g}, {cap.high:g}] "
                f"(quantiles {plan.settings.cap_quantile:g} / {1 - plan.settings.cap_quantile:g})",
            )
        )
    if drop.any():
        out = out[~drop].reset_index(drop=True)
    report = ProtectionReport(
        settings=plan.settings,
        actions=actions,
        rows_in=rows_in,
        rows_out=len(out),
        skipped=plan.skipped,
    )
    return out, report


def protected_table(table: Table, plan: ProtectionPlan, protected: pd.DataFrame) -> Table:
    """The schema the protected rows obey: a faked column loses the source's value pattern and
    value list when the fakes do not fit them; a merged column's value list gains the label."""
    columns = []
    for column in table.columns:
        update: dict[str, object] = {}
        if any(p.name == column.name for p in plan.fakes) and column.name in protected.columns:
            values = protected[column.name].dropna().astype(str)
            if column.pattern is not None and not values.str.fullmatch(column.pattern).all():
                update["pattern"] = None
            if column.allowed_values is not None:
                update["allowed_values"] = None
            update["evidence"] = [*column.evidence, "personal data: replaced by fakes"]
        for merge in plan.merges:
            if merge.column == column.name and column.allowed_values is not None:
                kept = [v for v in column.allowed_values if str(v) not in set(merge.categories)]
                if merge.into is not None and merge.into not in kept:
                    kept.append(merge.into)
                update["allowed_values"] = sorted(kept, key=str)
        columns.append(column.model_copy(update=update) if update else column)
    return table.model_copy(update={"columns": columns})
