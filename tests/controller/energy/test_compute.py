"""Energy arithmetic on constructed histories (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from avfleet.controller.energy.compute import Reading, Watts, compute
from avfleet.controller.energy.rollup import DeviceInfo, day_figures
from avfleet.controller.energy.school_days import LOCAL, local_day_bounds

W = Watts(on=300.0, standby=0.5, networked_standby=2.0)
HOURS = (time(7), time(17))


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL).astimezone(UTC)


def dev(watts: Watts | None = W, cutoff: datetime | None = None) -> DeviceInfo:
    return DeviceInfo(1, "ag", "pj", "Jönköping", "Ekhagens skola", "A12", watts, cutoff)


def figures(readings: list[Reading], day: date, now: datetime | None = None, **kw):
    return day_figures([dev(**kw)], {1: readings}, day, now or datetime(2100, 1, 1, tzinfo=UTC), HOURS)[1]


def test_on_across_midnight_splits_between_the_days_and_counts_as_left_on() -> None:
    tue, wed = date(2026, 11, 10), date(2026, 11, 11)
    history = [Reading(local(tue, 0), "online", "standby"), Reading(local(tue, 16), "online", "on"),
               Reading(local(wed, 2), "online", "standby")]
    a, b = figures(history, tue), figures(history, wed)
    # Tuesday: 16:00-17:00 on in school hours, 17:00-24:00 left on; 16 h standby.
    assert a.hours_on == pytest.approx(8)
    assert a.hours_left_on == pytest.approx(7)
    assert a.kwh_left_on == pytest.approx(7 * 0.3)
    assert a.kwh_school_hours == pytest.approx(0.3 + 9 * 2.0 / 1000)
    assert a.kwh_standby == pytest.approx(16 * 2.0 / 1000)
    assert a.kwh == pytest.approx(8 * 0.3 + 16 * 0.002)
    # Wednesday: the on state carried over from Tuesday until 02:00.
    assert b.hours_on == pytest.approx(2) and b.hours_left_on == pytest.approx(2)
    assert b.kwh == pytest.approx(2 * 0.3 + 22 * 0.002)
    assert a.coverage == b.coverage == 1.0
    assert a.basis == b.basis == "rated"


@pytest.mark.parametrize(("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25),
                                             (date(2026, 3, 28), 24)])
def test_dst_days_have_23_and_25_hours(day: date, hours: int) -> None:
    start, end = local_day_bounds(day)
    assert (end - start).total_seconds() == hours * 3600
    history = [Reading(start.replace(year=2025), "online", "on")]
    f = figures(history, day)
    assert f.period_s == hours * 3600
    assert f.hours_on == pytest.approx(hours)
    assert f.kwh == pytest.approx(hours * 0.3)
    assert f.hours_left_on == pytest.approx(hours)  # a Sunday / Saturday: no school hours at all
    assert f.coverage == 1.0


def test_measured_watts_win_and_mixed_basis() -> None:
    mon = date(2026, 11, 9)
    history = [Reading(local(mon, 0), "online", "standby"),  # rated: networked standby
               Reading(local(mon, 8), "online", "on", power_w=250.0),  # measured
               Reading(local(mon, 12), "online", "on")]  # rated again
    f = figures(history, mon)
    assert f.measured_s == 4 * 3600
    assert f.rated_s == 20 * 3600
    assert f.basis == "mixed"
    assert f.kwh == pytest.approx(8 * 0.002 + 4 * 0.25 + 12 * 0.3)
    only_measured = figures([Reading(local(mon, 0), "online", "on", power_w=100.0)], mon)
    assert only_measured.basis == "measured" and only_measured.kwh == pytest.approx(2.4)


def test_gaps_are_not_filled_and_lower_coverage() -> None:
    mon = date(2026, 11, 9)
    history = [Reading(local(mon, 0), "online", "on"),
               Reading(local(mon, 6), "unreachable", "unknown"),  # 6 h gap
               Reading(local(mon, 12), "online", "unknown"),  # 3 h gap: answered, power not known
               Reading(local(mon, 15), "online", "standby")]
    f = figures(history, mon)
    assert f.coverage == pytest.approx(15 / 24)
    assert f.kwh == pytest.approx(6 * 0.3 + 9 * 0.002)
    # No profile: nothing rated, so without measurements everything is a gap.
    assert figures(history, mon, watts=None).coverage == 0.0
    # An agent lost at 10:00 local: nothing after it is known, whatever its last report said.
    assert figures([Reading(local(mon, 0), "online", "on")], mon, cutoff=local(mon, 10)).coverage == \
        pytest.approx(10 / 24)
    # Before the first transition nothing is known either.
    assert figures([Reading(local(mon, 18), "online", "on")], mon).coverage == pytest.approx(6 / 24)


def test_standby_that_answers_draws_networked_standby_watts() -> None:
    mon = date(2026, 11, 9)
    f = figures([Reading(local(mon, 0), "online", "standby")], mon)
    assert f.kwh == pytest.approx(24 * 2.0 / 1000)
    assert f.kwh_standby == f.kwh
    eco_only = figures([Reading(local(mon, 0), "online", "standby")], mon, watts=Watts(on=300.0, standby=0.5))
    assert eco_only.kwh == pytest.approx(24 * 0.5 / 1000)


def test_warming_and_cooling_outside_school_hours_are_left_on_and_today_runs_to_now() -> None:
    mon = date(2026, 11, 9)
    history = [Reading(local(mon, 0), "online", "standby"), Reading(local(mon, 6), "online", "warming"),
               Reading(local(mon, 6, 30), "online", "on"), Reading(local(mon, 18), "online", "cooling"),
               Reading(local(mon, 18, 30), "online", "standby")]
    f = figures(history, mon)
    assert f.hours_on == pytest.approx(12.5)
    assert f.hours_left_on == pytest.approx(2.5)  # 06:00-07:00 and 17:00-18:30
    assert f.kwh_school_hours == pytest.approx(10 * 0.3)
    part = figures(history, mon, now=local(mon, 12))
    assert part.period_s == 12 * 3600 and part.hours_on == pytest.approx(6) and part.coverage == 1.0


def test_a_holiday_has_no_school_hours() -> None:
    julafton = date(2026, 12, 24)  # a Thursday
    f = figures([Reading(local(julafton, 0), "online", "on")], julafton)
    assert f.kwh_school_hours == 0 and f.hours_left_on == pytest.approx(24)


def test_compute_ignores_readings_after_the_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, 1, tzinfo=UTC)
    f = compute([Reading(start, "online", "on"), Reading(end, "online", "standby")], start, end, watts=W,
                school=None)
    assert f.kwh == pytest.approx(0.3) and f.hours_left_on == pytest.approx(1)
