"""Which days are school days, and which hours of them are school hours (Europe/Stockholm).

`is_school_day` is the one place the energy domain asks; given the calendars domain's `SchoolDays`
(as the roll-up and on-the-fly figures do) it answers from the municipality's school calendar
(breaks, study days, school overrides).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from avfleet.controller.calendars.service import holiday_names

if TYPE_CHECKING:
    from avfleet.controller.calendars.service import SchoolDays

LOCAL = ZoneInfo("Europe/Stockholm")


@lru_cache(maxsize=64)  # a pure function of the year
def swedish_holidays(year: int) -> frozenset[date]:
    """Swedish public holidays and de facto holidays (midsommarafton, julafton, nyårsafton) of a year.

    Sundays are not listed as holidays for this purpose; a Sunday is no school day anyway, being a
    weekend day. The list is the calendars domain's (one place asks the `holidays` package).
    """
    return frozenset(holiday_names(year))


def is_school_day(municipality: str | None, school: str | None, day: date,
                  calendar: SchoolDays | None = None) -> bool:
    """Whether `day` is a school day at this school of this municipality.

    With `calendar` (calendars.service.SchoolDays(conn): it loads each place's calendar once, so make
    one per roll-up and pass it to every call) the municipality's school calendar counts too:
    breaks, study days and closing days are no school days, and a school with a calendar of its own
    uses it (docs/schedules.md). Without one: a weekday that is not a Swedish public or de facto
    holiday.
    """
    if calendar is not None:
        return calendar.is_school_day(municipality, school, day)
    return day.weekday() < 5 and day not in swedish_holidays(day.year)


def parse_school_hours(text: str) -> tuple[time, time]:
    """ "07:00-17:00" → (07:00, 17:00); raises ValueError on anything else (start before end)."""
    try:
        start_text, end_text = text.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError as exc:
        raise ValueError(f"school_hours must look like 07:00-17:00, not {text!r}") from exc
    if start >= end:
        raise ValueError(f"school_hours must start before they end: {text!r}")
    return start, end


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC start and end of a local day: 23 hours in March's DST change, 25 in October's."""
    start = datetime.combine(day, time(0), LOCAL)
    end = datetime.combine(day + timedelta(days=1), time(0), LOCAL)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def school_window(day: date, hours: tuple[time, time]) -> tuple[datetime, datetime]:
    """The UTC start and end of the school hours of a local day (whether or not it is a school day)."""
    start = datetime.combine(day, hours[0], LOCAL).astimezone(ZoneInfo("UTC"))
    end = datetime.combine(day, hours[1], LOCAL).astimezone(ZoneInfo("UTC"))
    return start, end
