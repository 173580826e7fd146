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

from collections.abc import Callable
from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from synthtab.io.errors import InputError
from synthtab.schema import SemanticType, StorageType, Table
from synthtab.tools.constraints import column_violations

# the column a seed-table run's candidate and accepted rows carry: the seed row each was drawn
# for. It is dropped, and the rows put in seed order, before anything measures or delivers them
SEED_ROW = "_synthtab_seed_row"
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
# why a value inside the input's range can still be refused
_CAPPED = " (the training rows' range after --cap-quantile trims the extremes)"
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


class _Refused(Exception):
    """A value (at ``position`` of the values read; None: the whole column) the training rows
    cannot hold, and why."""

    def __init__(self, position: int | None, why: str) -> None:
        super().__init__(why)
        self.position = position
        self.why = why


def _first(bad: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(bad, dtype=bool))[0])


def _each_distinct(raw: pd.Series, read: Callable[[Any], Any]) -> list[Any]:
    """``read`` once per distinct value of ``raw`` (a seed table repeats its values), mapped
    back onto every row; a refusal names the first row holding the value."""
    codes, _ = pd.factorize(raw.astype(str))
    _, first = np.unique(codes, return_index=True)  # codes number values by first appearance
    read_values: list[Any] = []
    for position in first:
        try:
            read_values.append(read(raw.iloc[position]))
        except _Refused as refused:
            raise _Refused(int(position), refused.why) from refused
    return [read_values[code] for code in codes]


def _read_as_column(table: Table, train: pd.DataFrame, name: str, raw: pd.Series) -> list[Any]:
    """Non-null ``raw`` values read as column ``name``'s type and checked against what the
    training rows hold: a category they have, a number or date inside their range. Raises
    ``_Refused`` at the first value that cannot be held."""
    column = table.column(name)
    values = train[name].dropna()
    raw = raw.reset_index(drop=True)
    if column.semantic == SemanticType.id or column.unique:
        raise _Refused(
            None,
            "the column is an identifier, unique per row: one value for every row would repeat it",
        )
    if values.empty:
        raise _Refused(None, "the training rows hold no value in this column")

    if column.storage == StorageType.boolean:
        words = raw.astype(str).str.strip().str.lower()
        if not words.isin(_TRUE | _FALSE).all():
            raise _Refused(_first(~words.isin(_TRUE | _FALSE)), "the column is true/false")
        wanted = words.isin(_TRUE)
        held = {bool(v) for v in values.unique()}
        if not wanted.isin(held).all():
            position = _first(~wanted.isin(held))
            raise _Refused(position, f"no training row has {bool(wanted[position])}")
        return [bool(v) for v in wanted]
    if column.semantic in CATEGORY_LIKE or column.storage == StorageType.string:
        seen = pd.Series(values.unique())
        by_text = {str(v): (v.item() if hasattr(v, "item") else v) for v in seen.iloc[::-1]}
        two_valued = set(seen.astype(str).str.lower()) <= _TRUE | _FALSE

        def category(value: Any) -> Any:
            text = str(value)
            word = text.strip().lower()
            if text in by_text:
                return by_text[text]
            if two_valued and word in _TRUE | _FALSE:
                # a true/false column stored as 0/1 or yes/no answers to either spelling
                spellings = _TRUE if word in _TRUE else _FALSE
                return next(v for t, v in by_text.items() if t.lower() in spellings)
            shown = ", ".join(repr(str(v)) for v in seen.astype(str).head(10))
            raise _Refused(
                None,
                "no training row has this value (categories in fewer than --rare-k training "
                f"rows are merged before the model sees them); values are {shown}",
            )

        return _each_distinct(raw, category)
    if column.storage == StorageType.datetime:
        low, high = pd.to_datetime(values).min(), pd.to_datetime(values).max()

        def moment(value: Any) -> Any:
            try:
                stamp = _as_moment(value, low.tzinfo)
            except ValueError as error:
                raise _Refused(None, "not a date or time") from error
            if not low <= stamp <= high:
                raise _Refused(None, f"outside the training range {low} to {high}{_CAPPED}")
            return stamp

        return _each_distinct(raw, moment)
    numbers = pd.to_numeric(raw.astype(object), errors="coerce").astype(float)
    if numbers.isna().any():
        raise _Refused(
            _first(numbers.isna()),
            f"the column is numeric ({column.storage}); this is not a number",
        )
    low, high = float(values.min()), float(values.max())
    if column.storage == StorageType.integer and (numbers != numbers.round()).any():
        raise _Refused(_first(numbers != numbers.round()), "the column holds whole numbers")
    outside = (numbers < low) | (numbers > high)
    if outside.any():
        raise _Refused(_first(outside), f"outside the training range {low:g} to {high:g}{_CAPPED}")
    if column.storage == StorageType.integer:
        return [int(v) for v in numbers]
    return [float(v) for v in numbers]


def _fixed_value(table: Table, train: pd.DataFrame, name: str, text: Any) -> Any:
    """``text`` read as column ``name``'s type, checked against what the training rows hold."""
    try:
        return _read_as_column(table, train, name, pd.Series([text], dtype=object))[0]
    except _Refused as refused:
        raise InputError(
            message=f"--condition {name}={text}: {refused.why}", column=name
        ) from refused


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


class SeedRows(BaseModel):
    """A seed table read as the training columns: synthetic row i keeps seed row i's values."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # the seed table's columns in the training rows' values; None where the model draws the cell
    values: pd.DataFrame
    # identifier and faked personal-data columns: copied onto the rows, never conditioned on
    # (the model learned no relation to them)
    copied: list[str] = Field(default_factory=list)
    # seed values delivered as given though the model is conditioned on another: a number or
    # date outside the training rows' range (which --cap-quantile trims) but inside the
    # column's, conditioned on at the nearest training bound; None elsewhere
    kept_as_given: pd.DataFrame | None = None
    dtypes: dict[str, Any] = Field(default_factory=dict, description="the training columns'")

    @property
    def conditioned(self) -> list[str]:
        return [name for name in self.values.columns if name not in self.copied]

    def held(self, seed_of: np.ndarray) -> pd.DataFrame:
        """For rows drawn for seed rows ``seed_of``: which seed columns hold a seed value."""
        return self.values.iloc[seed_of].notna().reset_index(drop=True)

    def groups(self, seed_of: np.ndarray) -> list[tuple[np.ndarray, pd.DataFrame]]:
        """Rows drawn for seed rows ``seed_of``, grouped by which conditioned columns their seed
        row fills: each group's positions and conditions (training dtypes, no nulls)."""
        names = self.conditioned
        filled = self.values.iloc[seed_of][names].notna().to_numpy(dtype=bool)
        if len(seed_of) == 0:
            return []
        patterns, group_of = np.unique(filled, axis=0, return_inverse=True)
        group_of = group_of.reshape(-1)
        out: list[tuple[np.ndarray, pd.DataFrame]] = []
        for group, pattern in enumerate(patterns):
            positions = np.flatnonzero(group_of == group)
            rows = self.values.iloc[seed_of[positions]]
            out.append(
                (
                    positions,
                    pd.DataFrame(
                        {
                            name: pd.Series(rows[name].tolist(), dtype=self.dtypes[name])
                            for name, keep in zip(names, pattern, strict=True)
                            if keep
                        },
                        index=pd.RangeIndex(len(positions)),
                    ),
                )
            )
        return out

    def copy_onto(self, frame: pd.DataFrame, seed_of: np.ndarray) -> pd.DataFrame:
        """``frame`` (rows drawn for seed rows ``seed_of``) with the seed values the model did
        not condition on written in: the copied columns' and those kept as given."""
        out = frame.copy()
        written = [(name, self.values[name]) for name in self.copied]
        if self.kept_as_given is not None:
            written += [(name, self.kept_as_given[name]) for name in self.kept_as_given.columns]
        for name, values in written:
            given = values.iloc[seed_of].reset_index(drop=True)
            if given.notna().any():
                merged = out[name].astype(object).where(given.isna(), given)
                out[name] = pd.Series(merged.tolist(), dtype=self.dtypes[name])
        return out


def held_cells(
    frame: pd.DataFrame, fixed_columns: list[str], seed_filled: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The cells of a run's rows the user fixed, which no repair may change: every row's
    --condition and --rebalance columns, and each row's filled seed-table cells
    (``seed_filled``: the seed table's notna(), by seed row). None when nothing is held."""
    if not fixed_columns and seed_filled is None:
        return None
    held = pd.DataFrame(
        {name: np.ones(len(frame), dtype=bool) for name in fixed_columns}, index=frame.index
    )
    if seed_filled is not None and SEED_ROW in frame.columns:
        filled = seed_filled.iloc[frame[SEED_ROW].to_numpy(dtype=np.int64)]
        for name in filled.columns:
            held[name] = filled[name].to_numpy(dtype=bool)
    return held


def undelivered_seed_rows(frame: pd.DataFrame, seed_rows: int) -> list[int]:
    """The seed rows (1 = the seed table's first data row) no row of ``frame`` was drawn for."""
    drawn = frame[SEED_ROW].to_numpy() if SEED_ROW in frame.columns else np.array([], dtype=int)
    return [int(i) + 1 for i in np.setdiff1d(np.arange(seed_rows), drawn)]


def in_seed_order(frame: pd.DataFrame) -> pd.DataFrame:
    """A run's rows as delivered and measured: in seed-row order without the seed-row column
    (unchanged for a run without a seed table)."""
    if SEED_ROW not in frame.columns:
        return frame
    ordered = frame.sort_values(SEED_ROW, kind="stable")
    return ordered.drop(columns=SEED_ROW).reset_index(drop=True)


def _as_moment(value: Any, zone: tzinfo | None) -> pd.Timestamp:
    """A seed or condition cell as a time, in ``zone`` (the training rows') when it names none;
    ValueError when it is not one."""
    stamp = pd.Timestamp(value if isinstance(value, pd.Timestamp) else str(value))
    if zone is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(zone)
    return stamp


def _to_training_range(
    table: Table, train: pd.DataFrame, name: str, raw: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """A seed column's numbers or dates outside the training range (which --cap-quantile
    trims) but inside the column's own range, moved to the nearest training bound to condition
    on; returns those values, and the given ones (typed) where one was moved, else None."""
    column = table.column(name)
    untouched = pd.Series([None] * len(raw), index=raw.index, dtype=object)
    values = train[name].dropna()
    if values.empty or column.minimum is None or column.maximum is None:
        return raw, untouched
    if column.storage == StorageType.datetime:
        low, high = pd.to_datetime(values).min(), pd.to_datetime(values).max()

        def moment_or_none(value: Any) -> pd.Timestamp:
            try:
                return _as_moment(value, low.tzinfo)
            except ValueError:
                return pd.NaT  # refused with its row by _read_as_column

        read = pd.Series(_each_distinct(raw, moment_or_none), index=raw.index)
        floor, ceiling = (_as_moment(t, low.tzinfo) for t in (column.minimum, column.maximum))
    elif column.storage in (StorageType.integer, StorageType.float):
        read = pd.to_numeric(raw.astype(object), errors="coerce").astype(float)
        low, high = float(values.min()), float(values.max())
        floor, ceiling = float(column.minimum), float(column.maximum)
    else:
        return raw, untouched
    moved = read.notna() & (((read < low) & (read >= floor)) | ((read > high) & (read <= ceiling)))
    if not moved.any():
        return raw, untouched
    held = raw.astype(object).copy()
    held[moved & (read < low)] = low
    held[moved & (read > high)] = high
    whole = column.storage == StorageType.integer
    given = [
        (int(round(value)) if whole else value) if was_moved else None
        for value, was_moved in zip(read.tolist(), moved.tolist(), strict=True)
    ]
    return held, pd.Series(given, index=raw.index, dtype=object)


def _check_meaning(table: Table, name: str, check: str) -> str:
    column = table.column(name)
    if check.startswith("pattern"):
        return f"every value matches {column.pattern}"
    if check.startswith("unique"):
        return "no value repeats an earlier seed row"
    if check.startswith("range"):
        return f"values from {column.minimum} to {column.maximum}"
    if check.startswith("allowed_values"):
        return f"values among {column.allowed_values}"
    return f"{column.storage} values"


def check_seed_columns(seeds: pd.DataFrame, columns: list[str], file: str) -> None:
    """InputError unless the seed table has rows and only columns of the input's."""
    unknown = [str(name) for name in seeds.columns if name not in columns]
    if unknown:
        raise InputError(
            message=f"--seed-table: {unknown} are not columns of the input; columns are {columns}",
            file=file,
            column=unknown[0],
        )
    if len(seeds) == 0:
        raise InputError(message="--seed-table: the seed table has no rows", file=file)


def resolve_seed_rows(
    table: Table, train: pd.DataFrame, seeds: pd.DataFrame, file: str, copied: set[str]
) -> SeedRows:
    """A seed table's cells read as the training columns' values; blank cells are left for the
    model to draw. InputError names the file, the column and the seed row (1 = the first data
    row) of the first value the training rows cannot hold. ``copied``: columns taken as given
    (identifiers, faked personal data); a unique one must not repeat in the seed table."""
    check_seed_columns(seeds, table.column_names, file)
    copied |= {
        name
        for name in seeds.columns
        if table.column(name).semantic == SemanticType.id or table.column(name).unique
    }
    values: dict[str, list[Any]] = {}
    kept_as_given: dict[str, list[Any]] = {}
    for name in seeds.columns:
        given = seeds[name].reset_index(drop=True)
        present = np.flatnonzero(given.notna().to_numpy(dtype=bool))
        if name in copied:
            # copied as given, so held to the column's own checks here, not after the run
            broken = column_violations(given.iloc[present], table.column(name))
            if broken:
                # the first seed row that breaks any of the checks
                check, at = min(((c, _first(m)) for c, m in broken.items()), key=lambda x: x[1])
                row = int(present[at]) + 1
                raise InputError(
                    message=f"--seed-table: value {given.iloc[row - 1]} breaks the column's "
                    f"check {check} ({_check_meaning(table, name, check)}); the schema can be "
                    "declared with --schema",
                    file=file,
                    column=name,
                    row=row,
                    row_label="row",
                )
            values[name] = [None if pd.isna(v) else v for v in given.astype(object)]
            continue
        column_values: list[Any] = [None] * len(given)
        if len(present) == 0:
            values[name] = column_values
            continue
        held, as_given = _to_training_range(table, train, name, given.iloc[present])
        if as_given.notna().any():
            kept = [None] * len(given)
            for position, value in zip(present, as_given, strict=True):
                kept[position] = value
            kept_as_given[name] = kept
        try:
            read = _read_as_column(table, train, name, held.astype(object))
        except _Refused as refused:
            row = None if refused.position is None else int(present[refused.position]) + 1
            shown = "" if row is None else f"value {given.iloc[row - 1]}: "
            raise InputError(
                message=f"--seed-table: {shown}{refused.why}",
                file=file,
                column=name,
                row=row,
                row_label="row",
            ) from refused
        for position, value in zip(present, read, strict=True):
            column_values[position] = value
        values[name] = column_values
    frame = pd.DataFrame(
        {name: pd.Series(v, dtype=object) for name, v in values.items()},
        index=pd.RangeIndex(len(seeds)),
    )
    return SeedRows(
        values=frame,
        kept_as_given=pd.DataFrame(
            {name: pd.Series(v, dtype=object) for name, v in kept_as_given.items()},
            index=pd.RangeIndex(len(seeds)),
        )
        if kept_as_given
        else None,
        copied=sorted(copied & set(seeds.columns)),
        dtypes={name: train[name].dtype for name in seeds.columns},
    )
