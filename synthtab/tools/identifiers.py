"""Identifier columns are never learned: they are made unique after generation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from synthtab.schema import SemanticType, Table

_PREFIXED_NUMBER = re.compile(r"^(?P<prefix>\D*?)(?P<number>\d+)$")


def _unique_integers(values: pd.Series) -> pd.Series:
    duplicated = values.duplicated(keep="first") & values.notna()
    if not duplicated.any():
        return values
    start = int(values.max()) + 1 if values.notna().any() else 1
    out = values.copy()
    out[duplicated] = np.arange(start, start + int(duplicated.sum()))
    return out


def _unique_strings(values: pd.Series) -> pd.Series:
    duplicated = values.duplicated(keep="first") & values.notna()
    if not duplicated.any():
        return values
    text = values.dropna().astype(str)
    parts = text.str.extract(_PREFIXED_NUMBER.pattern)
    out = values.copy()
    if parts["number"].notna().all() and len(text) > 0:
        prefix = parts["prefix"].mode().iloc[0]
        width = int(parts["number"].str.len().max())
        start = int(parts["number"].astype("int64").max()) + 1
        numbers = np.arange(start, start + int(duplicated.sum()))
        out[duplicated] = [f"{prefix}{str(k).zfill(width)}" for k in numbers]
    else:
        taken = set(text)
        fresh: list[str] = []
        counter = 1
        for value in values[duplicated].astype(str):
            while f"{value}-{counter}" in taken:
                counter += 1
            fresh.append(f"{value}-{counter}")
            taken.add(fresh[-1])
        out[duplicated] = fresh
    return out


def make_identifiers_unique(
    df: pd.DataFrame, table: Table, held: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Re-number duplicated values of id columns (first occurrence kept). Returns a new frame.
    ``held`` (a boolean frame with ``df``'s index and some of its columns): values the user
    gave (a seed table's), kept before any other occurrence of the same value."""
    out = df.copy()
    for column in table.columns:
        if column.semantic != SemanticType.id or column.name not in out.columns:
            continue
        values = out[column.name]
        # held values first, so a duplicate is always one the model drew
        order = np.arange(len(values))
        if held is not None and column.name in held.columns:
            order = np.argsort(~held[column.name].to_numpy(dtype=bool), kind="stable")
        ranked = values.iloc[order]
        if pd.api.types.is_numeric_dtype(values):
            unique = _unique_integers(ranked)
        else:
            unique = _unique_strings(ranked)
        out[column.name] = unique.reindex(values.index)
    return out
