"""What a run's ``--condition`` and ``--rebalance`` ask of every synthetic row, resolved against
the training rows into values a model can condition on.

- ``--condition COL=VALUE``: every row takes VALUE in COL. The text is read as the column's type
  and must be a value the training rows could produce: a category they hold, a number or date
  inside their range.
- ``--rebalance COL=VALUE:SHARE,...``: a categorical column's categories drawn with the given
  shares; the categories not named (and nulls) share what is left in their training
  proportions.

Both become ``conditions`` for a model's ``sample`` (one row per sampled row), so every model that
conditions honours them, and the validator's redraws keep those columns as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from synthtab.io.errors import InputError
from synthtab.schema import SemanticType, StorageType, Table

_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
CATEGORY_LIKE = frozenset({SemanticType.categorical, SemanticType.boolean, SemanticType.constant})


class ResolvedConditions(BaseModel):
    """Fixed values and rebalanced columns, in the training rows' own values."""

    fixed: dict[str, Any] = Field(default_factory=dict, description="column -> its one value")
    # column -> (the training values, then None for null; their probabilities)
    rebalanced: dict[str, tuple[list[Any], list[float]]] = Field(default_factory=dict)
    dtypes: dict[str, Any] = Field(default_factory=dict, description="the training columns'")

    @property
    def columns(self) -> list[str]:
        return [*self.fixed, *self.rebalanced]

    def rows(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows of conditions, in the training columns' dtypes."""
        rng = np.random.default_rng(seed)
        frame: dict[str, pd.Series] = {}
        for name, value in self.fixed.items():
            frame[name] = pd.Series([value] * n, dtype=self.dtypes[name])
        for name, (values, probabilities) in self.rebalanced.items():
            picks = rng.choice(len(values), size=n, p=probabilities)
            frame[name] = pd.Series([values[i] for i in picks], dtype=self.dtypes[name])
        return pd.DataFrame(frame, index=pd.RangeIndex(n))

    def describe(self) -> str:
        """What every row is conditioned on, for the run's messages."""
        parts = [f"{name}={value}" for name, value in self.fixed.items()]
        for name, (values, probabilities) in self.rebalanced.items():
            shares = ", ".join(
                f"{'null' if v is None else v} {p:.0%}"
                for v, p in zip(values, probabilities, strict=True)
                if p > 0
            )
            parts.append(f"{name} rebalanced to {shares}")
        return "; ".join(parts)

    def matching(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` that hold every fixed value (rebalancing filters nothing)."""
        keep = np.ones(len(frame), dtype=bool)
        for name, value in self.fixed.items():
            keep &= (frame[name] == value).fillna(False).to_numpy(dtype=bool)
        return frame[keep].reset_index(drop=True)


def rebalanced_probabilities(
    column: str, categories: list[str], frequency: np.ndarray, null_rate: float,
    shares: dict[str, float],
) -> np.ndarray:  # fmt: skip
    """Probabilities of each category, then of null: the named ``shares``, and what is left
    spread over the others and nulls in their training proportions (``frequency`` sums to
    1 - ``null_rate``). ValueError names the column on an unknown category or bad shares."""
    unknown = [c for c in shares if c not in categories]
    if unknown:
        raise ValueError(
            f"column {column!r}: unknown categories {unknown}; known: {categories[:10]}"
        )
    total = sum(shares.values())
    if any(s < 0 for s in shares.values()) or total > 1.0 + 1e-9:
        raise ValueError(f"column {column!r}: shares must be >= 0 and sum to at most 1")
    named = np.array([c in shares for c in categories])
    rest = frequency[~named].sum() + null_rate
    scale = (1.0 - total) / rest if rest > 0 else 0.0
    probabilities = np.where(named, [shares.get(c, 0.0) for c in categories], frequency * scale)
    probabilities = np.append(probabilities, null_rate * scale)
    return probabilities / probabilities.sum()


def _fixed_value(table: Table, train: pd.DataFrame, name: str, text: Any) -> Any:
    """``text`` read as column ``name``'s type, checked against what the training rows hold."""
    column = table.column(name)
    values = train[name].dropna()

    def refuse(why: str) -> InputError:
        return InputError(message=f"--condition {name}={text}: {why}", column=name)

    if column.semantic == SemanticType.id or column.unique:
        raise refuse(
            "the column is an identifier, unique per row: one value for every row would repeat it"
        )
    if values.empty:
        raise refuse("the training rows hold no value in this column")

    if column.semantic in CATEGORY_LIKE or column.storage in (
        StorageType.string,
        StorageType.boolean,
    ):
        if column.storage == StorageType.boolean:
            word = str(text).strip().lower()
            if word not in _TRUE | _FALSE:
                raise refuse("the column is true/false")
            wanted: Any = word in _TRUE
            if not (values == wanted).any():
                raise refuse(f"no training row has {wanted}")
            return wanted
        seen = pd.Series(values.unique())
        hits = seen[seen.astype(str) == str(text)]
        word = str(text).strip().lower()
        two_valued = set(seen.astype(str).str.lower()) <= _TRUE | _FALSE
        if hits.empty and two_valued and word in _TRUE | _FALSE:
            # a true/false column stored as 0/1 or yes/no answers to either spelling
            spellings = _TRUE if word in _TRUE else _FALSE
            hits = seen[seen.astype(str).str.lower().isin(spellings)]
        if hits.empty:
            shown = ", ".join(repr(str(v)) for v in seen.astype(str).head(10))
            raise refuse(
                f"no training row has this value (categories in fewer than --rare-k training "
                f"rows are merged before the model sees them); values are {shown}"
            )
        return hits.iloc[0].item() if hasattr(hits.iloc[0], "item") else hits.iloc[0]
    if column.storage == StorageType.datetime:
        try:
            stamp = pd.Timestamp(str(text))
        except ValueError as error:
            raise refuse("not a date or time") from error
        low, high = pd.to_datetime(values).min(), pd.to_datetime(values).max()
        if low.tzinfo is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize(low.tzinfo)
        if not low <= stamp <= high:
            raise refuse(f"outside the training range {low} to {high}")
        return stamp
    try:
        number = float(text)
    except (TypeError, ValueError) as error:
        raise refuse(f"the column is numeric ({column.storage}); this is not a number") from error
    if column.storage == StorageType.integer:
        if number != round(number):
            raise refuse("the column holds whole numbers")
        number = int(number)
    low, high = float(values.min()), float(values.max())
    if not low <= number <= high:
        raise refuse(f"outside the training range {low:g} to {high:g}")
    return number


def _rebalanced(
    table: Table, train: pd.DataFrame, name: str, shares: dict[str, float]
) -> tuple[list[Any], list[float]]:
    if table.column(name).semantic not in CATEGORY_LIKE:
        raise InputError(
            message=f"--rebalance {name}: the column is {table.column(name).semantic}; only "
            "categorical and true/false columns rebalance",
            column=name,
        )
    counts = train[name].value_counts(dropna=True)
    values = list(counts.index)
    frequency = counts.to_numpy(dtype=float) / max(len(train), 1)
    null_rate = float(train[name].isna().mean()) if len(train) else 0.0
    try:
        probabilities = rebalanced_probabilities(
            name, [str(v) for v in values], frequency, null_rate, shares
        )
    except ValueError as error:
        raise InputError(message=f"--rebalance {name}: {error}", column=name) from error
    plain = [v.item() if hasattr(v, "item") else v for v in values]
    return [*plain, None], probabilities.tolist()


def resolve_conditions(
    table: Table,
    train: pd.DataFrame,
    conditions: dict[str, Any],
    rebalance: dict[str, dict[str, float]],
) -> ResolvedConditions:
    """The request's conditions in the training rows' values; InputError names the flag, the
    column and what is wrong."""
    for name in [*conditions, *rebalance]:
        if not table.has_column(name):
            raise InputError(
                message=f"{'--condition' if name in conditions else '--rebalance'} {name}: not a "
                f"column; columns are {table.column_names}",
                column=name,
            )
    both = sorted(set(conditions) & set(rebalance))
    if both:
        raise InputError(message=f"{both[0]!r} is both --condition'ed and --rebalance'd")
    return ResolvedConditions(
        fixed={name: _fixed_value(table, train, name, text) for name, text in conditions.items()},
        rebalanced={name: _rebalanced(table, train, name, s) for name, s in rebalance.items()},
        dtypes={name: train[name].dtype for name in [*conditions, *rebalance]},
    )
