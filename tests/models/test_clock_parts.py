from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthtab.models.argn import ARGNSynthesizer
from synthtab.models.clock_parts import (
    clock_parts,
    fit_part_codec,
    part_values,
    with_clock_parts,
)
from synthtab.models.copula import DatetimeCodec, GaussianCopulaSettings, fit_column
from synthtab.schema import Column
from synthtab.schema.infer import infer_table

_SETTINGS = GaussianCopulaSettings()


def _codec(values: pd.Series) -> DatetimeCodec:
    column = Column(name="at", storage="datetime", semantic="datetime")
    codec = fit_column(values.rename("at"), column, _SETTINGS).codec
    assert isinstance(codec, DatetimeCodec)
    return codec


def _units(codec: DatetimeCodec, values: pd.Series) -> np.ndarray:
    units, present = codec.parse(values)
    return units[present]


def _parts_of(values: pd.Series) -> list[str]:
    codec = _codec(values)
    return list(clock_parts(codec, _units(codec, values)))


def test_which_datetimes_get_a_time_of_day_and_a_weekday_token() -> None:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2024-01-01")
    minutes = rng.integers(0, 60 * 24 * 120, 3_000)
    readings = pd.Series(start + pd.to_timedelta(np.sort(minutes) * 5, unit="min"))
    assert _parts_of(readings) == ["time_of_day", "weekday"]
    days = pd.Series(start + pd.to_timedelta(rng.integers(0, 400, 3_000), unit="D"))
    assert _parts_of(days) == ["weekday"]
    # first of the month over 15 years: moving one to another weekday would leave its grid
    months = pd.Series(pd.date_range("2000-01-01", periods=180, freq="MS"))
    assert _parts_of(months) == []
    one_day = pd.Series(start + pd.to_timedelta(rng.integers(0, 86_400, 3_000), unit="s"))
    assert _parts_of(one_day) == []


def test_values_move_to_the_drawn_weekday_and_time_on_the_columns_step() -> None:
    start = pd.Timestamp("2024-01-01 00:10")  # a Monday
    values = pd.Series(start + pd.to_timedelta(np.arange(0, 60 * 24 * 60, 15), unit="min"))
    codec = _codec(values)
    units = _units(codec, values)[[1_000, 3_000, 5_000]]
    weekday = np.array([6.0, np.nan, 0.0])
    time_of_day = np.array([13.5 * 3_600e6, 7 * 3_600e6 + 60e6, np.nan])  # microseconds
    moved = with_clock_parts(codec, units, {"weekday": weekday, "time_of_day": time_of_day})
    stamps = codec.stamps(moved, np.zeros(3, dtype=bool))
    before = codec.stamps(units, np.zeros(3, dtype=bool))
    assert stamps[0].day_of_week == 6 and (stamps[0].hour, stamps[0].minute) == (13, 25)
    # 07:01 is off the 15-minute grid that starts at 00:10: it rounds to 06:55
    assert stamps[1].date() == before[1].date() and (stamps[1].hour, stamps[1].minute) == (6, 55)
    assert stamps[2].day_of_week == 0 and stamps[2].time() == before[2].time()
    assert abs((stamps[0].normalize() - before[0].normalize()).days) <= 3
    # a move never leaves the training range: a week the other way, else no move at all
    first = _units(codec, values)[[0]]
    saturday = with_clock_parts(codec, first, {"weekday": np.array([5.0])})
    # Saturday 30 December was before the first value
    assert codec.stamps(saturday, np.zeros(1, dtype=bool))[0] == pd.Timestamp("2024-01-06 00:10")
    midnight = with_clock_parts(codec, first, {"time_of_day": np.array([0.0])})
    assert codec.stamps(midnight, np.zeros(1, dtype=bool))[0] == values.min()


def test_an_aware_column_reads_its_parts_on_its_own_wall_clock() -> None:
    local = pd.date_range("2024-03-01", "2024-04-30", freq="h", tz="America/New_York")
    values = pd.Series(local)
    codec = _codec(values)
    units = _units(codec, values)
    hours = part_values(codec, "time_of_day", units) / 3_600e6
    assert np.array_equal(hours, local.hour.to_numpy())
    weekdays = part_values(codec, "weekday", units)
    assert np.array_equal(weekdays, local.day_of_week.to_numpy())
    # 02:30 on 2024-03-10 does not exist in New York: that value keeps its own time
    on_gap_day = int(
        np.flatnonzero(local.normalize() == pd.Timestamp("2024-03-10", tz=local.tz))[0]
    )
    moved = with_clock_parts(codec, units[[on_gap_day]], {"time_of_day": np.array([2.5 * 3_600e6])})
    stamp = codec.stamps(moved, np.zeros(1, dtype=bool))[0]
    assert stamp == local[on_gap_day]
    after = with_clock_parts(codec, units[[on_gap_day]], {"time_of_day": np.array([15 * 3_600e6])})
    assert codec.stamps(after, np.zeros(1, dtype=bool))[0].hour == 15


def test_a_part_codec_has_one_token_per_weekday() -> None:
    values = pd.Series(pd.date_range("2024-01-01", periods=500, freq="7h"))
    codec = _codec(values)
    weekday = fit_part_codec(codec, "weekday", _units(codec, values), _SETTINGS)
    assert weekday.marginal.discrete and weekday.marginal.points.tolist() == list(range(7))


@pytest.fixture(scope="module")
def glucose(datasets_dir: Path) -> pd.DataFrame:
    """Five-minute glucose readings over six months: lower at night and on weekends."""
    return pd.read_parquet(datasets_dir / "cgm_glucose.parquet").head(20_000)


def _by_block(frame: pd.DataFrame) -> pd.Series:
    stamps = pd.to_datetime(frame["datetime"])
    return frame["glucose"].groupby(stamps.dt.hour // 3).mean()


def test_argn_keeps_glucose_by_time_of_day_and_saves_its_clock_tokens(
    glucose: pd.DataFrame, tmp_path: Path
) -> None:
    table = infer_table(glucose, "glucose")
    model = ARGNSynthesizer(max_epochs=8, hidden_size=32).fit(glucose, table, seed=0)
    parts = [t.part for t in model._require_fitted().tokens if t.part is not None]
    assert parts == ["time_of_day", "weekday"]
    rows = model.sample(20_000, seed=1)
    real, synthetic = _by_block(glucose), _by_block(rows)
    # the real 3-hour means span about 25 mg/dL; a model without clock tokens drew them flat
    assert real.max() - real.min() > 15
    assert np.corrcoef(real, synthetic)[0, 1] > 0.8
    assert (synthetic - real).abs().max() < 8
    stamps = pd.to_datetime(rows["datetime"])
    assert stamps.min() >= glucose["datetime"].min() and stamps.max() <= glucose["datetime"].max()
    assert (stamps.dt.second == 0).all()
    path = tmp_path / "glucose.synthtab"
    model.save(path)
    loaded = ARGNSynthesizer.load(path)
    pd.testing.assert_frame_equal(loaded.sample(500, seed=3), model.sample(500, seed=3))
    given = pd.DataFrame({"datetime": glucose["datetime"].head(50)})
    conditioned = model.sample(50, seed=4, conditions=given)
    assert (pd.to_datetime(conditioned["datetime"]) == given["datetime"]).all()
