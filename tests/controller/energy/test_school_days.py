"""School days until the calendars land: weekdays that are no Swedish public or de facto holiday."""

from __future__ import annotations

from datetime import date

import pytest

from avfleet.controller.energy.school_days import is_school_day, parse_school_hours

HOLIDAYS = {
    2026: ["2026-01-01", "2026-01-06", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-06-19",
           "2026-12-24", "2026-12-25", "2026-12-31"],
    2027: ["2027-01-01", "2027-01-06", "2027-03-26", "2027-03-29", "2027-05-06", "2027-06-25", "2027-12-24",
           "2027-12-31"],
}


@pytest.mark.parametrize("year", [2026, 2027])
def test_public_and_de_facto_holidays_on_weekdays_are_not_school_days(year: int) -> None:
    for text in HOLIDAYS[year]:
        day = date.fromisoformat(text)
        assert day.weekday() < 5, text
        assert not is_school_day("Jönköping", "Ekhagens skola", day), text


def test_midsommarafton_julafton_nyarsafton() -> None:
    for day in (date(2026, 6, 19), date(2026, 12, 24), date(2026, 12, 31), date(2027, 6, 25),
                date(2027, 12, 24), date(2027, 12, 31)):
        assert not is_school_day(None, None, day)


def test_ordinary_weekdays_are_school_days_and_weekends_are_not() -> None:
    assert is_school_day(None, None, date(2026, 11, 10))  # a Tuesday
    assert is_school_day(None, None, date(2026, 6, 18))  # the day before midsommarafton
    assert not is_school_day(None, None, date(2026, 11, 14))  # Saturday
    assert not is_school_day(None, None, date(2026, 11, 15))  # Sunday
    # National day 2027 is a Sunday; the Monday after is a school day (no substitute day in Sweden).
    assert is_school_day(None, None, date(2027, 6, 7))


def test_school_hours_parse() -> None:
    assert [t.hour for t in parse_school_hours("07:00-17:00")] == [7, 17]
    for bad in ("17:00-07:00", "7-17", ""):
        with pytest.raises(ValueError):
            parse_school_hours(bad)
