"""Columns holding a part of a datetime (the year, month, day, hour or minute): inferred from the
data (in the zone the parts are read in), and times rebuilt from their parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthtab.schema import DatetimePart, Schema, Table
from synthtab.schema.datetime_parts import part_values, with_parts
from synthtab.schema.infer import infer_table


def _parts(table: Table) -> dict[str, tuple[str, str, str | None]]:
    return {
        c.column: (c.datetime, c.part, c.timezone)
        for c in table.constraints
        if isinstance(c, DatetimePart)
    }


def test_parts_are_found_in_the_zone_they_are_read_in(datasets_dir: Path) -> None:
    """nycflights13's weather: time_hour is stored in UTC, its month, day and hour columns are
    New York's; year is constant (2013) and so no evidence of anything."""
    weather = pd.read_parquet(datasets_dir / "nycflights13" / "weather.parquet")
    table = infer_table(weather.iloc[::5], "weather")
    zone = "America/New_York"
    assert _parts(table) == {
        "month": ("time_hour", "month", zone),
        "day": ("time_hour", "day", zone),
        "hour": ("time_hour", "hour", zone),
    }
    # the constraint survives the schema's JSON round trip
    again = Schema.model_validate_json(Schema(tables=[table]).to_json()).tables[0]
    assert _parts(again) == _parts(table)


def test_a_naive_datetime_and_no_coincidence() -> None:
    rng = np.random.default_rng(0)
    stamps = pd.Series(
        pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 10**6, 400), "min")
    )
    frame = pd.DataFrame(
        {
            "at": stamps,
            "at_hour": stamps.dt.hour,
            "at_month": stamps.dt.month.astype(float).where(rng.random(400) > 0.1),  # nulls
            "almost_day": stamps.dt.day.where(np.arange(400) != 7, 3),  # one row off
            "noise": rng.integers(0, 24, 400),
        }
    )
    assert _parts(infer_table(frame, "t")) == {
        "at_hour": ("at", "hour", None),
        "at_month": ("at", "month", None),
    }


def test_times_are_rebuilt_from_their_parts_or_left_unset_when_invalid() -> None:
    stamps = pd.Series(
        pd.to_datetime(["2013-01-01 06:30:00", "2013-03-10 12:00:00", "2013-02-01 00:00:00"]),
    ).dt.tz_localize("UTC")
    hours = part_values(stamps, "hour", "America/New_York")
    assert hours.tolist() == [1.0, 8.0, 19.0]
    rebuilt = with_parts(
        stamps, {"hour": pd.Series([14, 2, 3]), "day": pd.Series([5, 10, 30])}, "America/New_York"
    )
    # 14:30 on January 5th in New York; 2 a.m. on March 10th 2013 did not exist there (the
    # clock change); the third is January 31st in New York, so day 30 keeps January
    assert rebuilt.iloc[0] == pd.Timestamp("2013-01-05 19:30", tz="UTC")
    assert pd.isna(rebuilt.iloc[1])
    assert rebuilt.iloc[2] == pd.Timestamp("2013-01-30 08:00", tz="UTC")
    in_utc = with_parts(stamps, {"day": pd.Series([31, 31, 30])}, None)
    assert in_utc.iloc[0] == pd.Timestamp("2013-01-31 06:30", tz="UTC")
    assert pd.isna(in_utc.iloc[2])  # February 30th
