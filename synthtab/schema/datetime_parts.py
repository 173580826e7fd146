"""Parts of datetimes (the year, month, day, hour, minute a column may hold of another), read in a
time zone, and datetimes rebuilt from their parts: what the ``datetime_part`` constraint is
inferred, checked and repaired with."""

from __future__ import annotations

import pandas as pd

# the component each part is rebuilt from, in pd.to_datetime's frame keys
PARTS = ("year", "month", "day", "hour", "minute")


def local_times(stamps: pd.Series, timezone: str | None) -> pd.Series:
    """``stamps`` read in ``timezone``: a naive series is taken as UTC when a zone is named."""
    if timezone is None:
        return stamps
    aware = stamps if stamps.dt.tz is not None else stamps.dt.tz_localize("UTC")
    return aware.dt.tz_convert(timezone)


def part_values(stamps: pd.Series, part: str, timezone: str | None) -> pd.Series:
    """``part`` of each datetime as a float (NaN where it is null)."""
    return getattr(local_times(stamps, timezone).dt, part).astype("float64")


def with_parts(stamps: pd.Series, parts: dict[str, pd.Series], timezone: str | None) -> pd.Series:
    """``stamps`` with the named parts replaced by ``parts``' values, in ``stamps``' own
    representation (naive or aware). NaT where the parts make no valid time (February 30, a
    clock change's missing hour) or a part is null."""
    local = local_times(stamps, timezone)
    zone = local.dt.tz
    naive = local.dt.tz_localize(None) if zone is not None else local
    fields = {name: getattr(naive.dt, name).astype("float64") for name in PARTS}
    for name, values in parts.items():
        fields[name] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    frame = pd.DataFrame(fields, index=stamps.index)
    valid = frame.notna().all(axis=1)
    rebuilt = pd.Series(pd.NaT, index=stamps.index, dtype=naive.dtype)
    if valid.any():
        whole = frame[valid].astype("int64")
        built = pd.to_datetime(whole, errors="coerce")
        # the finer components no part names are kept as they were
        rest = naive[valid] - naive[valid].dt.floor("min")
        rebuilt[valid] = (built + rest).astype(naive.dtype)
    if zone is not None:
        rebuilt = rebuilt.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        if stamps.dt.tz is None:
            return rebuilt.dt.tz_convert("UTC").dt.tz_localize(None)
        return rebuilt.dt.tz_convert(stamps.dt.tz)
    return rebuilt
