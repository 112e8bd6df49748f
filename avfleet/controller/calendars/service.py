"""Public holidays, school calendars and the one rule for a school day (DESIGN.md "Schedules and calendars").

A school day is a weekday (Monday to Friday) that is neither a Swedish public holiday (PUBLIC and
DE_FACTO categories of the `holidays` package, so midsommarafton, julafton and nyårsafton count;
Sundays are not holidays here) nor inside a break, study day or closing day of the calendar that
applies: the school's own rows when it has any, else its municipality's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.calendars.models import CalendarDay
from avfleet.controller.errors import InvalidInput

DAYS = CalendarDay.__table__


class Holidays:
    """Swedish public and de facto holidays of a year (computed once per process and year)."""

    def year(self, year: int) -> Mapping[date, str]:
        return holiday_names(year)

    def name(self, day: date) -> str | None:
        return self.year(day.year).get(day)


@dataclass
class Calendar:
    """The rows that apply to one place, with a day lookup."""

    rows: list[tuple[date, date, str, str]] = field(default_factory=list)  # start, end, kind, name

    def entry(self, day: date) -> tuple[str, str] | None:
        for start, end, kind, name in self.rows:
            if start <= day <= end:
                return kind, name
        return None


class SchoolDays:
    """Answers "is this a school day here, and if not why" for any place, loading each calendar once."""

    def __init__(self, conn: Connection, holidays: Holidays | None = None) -> None:
        self.conn = conn
        self.holidays = holidays or Holidays()
        self._calendars: dict[tuple[str, str | None], Calendar] = {}

    def calendar(self, municipality: str | None, school: str | None = None) -> Calendar:
        if municipality is None:
            return Calendar()
        key = (municipality, school)
        if key not in self._calendars:
            own = _rows(self.conn, municipality, school) if school is not None else []
            self._calendars[key] = Calendar(own or _rows(self.conn, municipality, None))
        return self._calendars[key]

    def why_not(self, municipality: str | None, school: str | None, day: date) -> str | None:
        """None on a school day; else the reason ("lördag", "Julafton", "sportlov", ...)."""
        if day.isoweekday() == 6:
            return "lördag"
        if day.isoweekday() == 7:
            return "söndag"
        holiday = self.holidays.name(day)
        if holiday is not None:
            return holiday
        entry = self.calendar(municipality, school).entry(day)
        if entry is not None:
            kind, name = entry
            return name or kind
        return None

    def is_school_day(self, municipality: str | None, school: str | None, day: date) -> bool:
        return self.why_not(municipality, school, day) is None


@lru_cache(maxsize=64)
def holiday_names(year: int) -> Mapping[date, str]:
    """A year's Swedish public and de facto holidays by their Swedish names. They never change, and
    each request's school-day questions built them afresh; the package's country table (0.2 s to load)
    is loaded here, on first use."""
    import holidays
    from holidays.constants import DE_FACTO, PUBLIC

    found = holidays.country_holidays("SE", years=year, categories=(PUBLIC, DE_FACTO), language="sv",
                                      include_sundays=False)
    return MappingProxyType({d: str(name) for d, name in found.items()})


def _rows(conn: Connection, municipality: str, school: str | None) -> list[tuple[date, date, str, str]]:
    c = DAYS.c
    where = c.school.is_(None) if school is None else c.school == school
    rows = conn.execute(sa.select(c.start, c.end, c.kind, c.name).where(c.municipality == municipality, where)
                        .order_by(c.start))
    return [(r.start, r.end, r.kind, r.name) for r in rows]


def get_calendar(conn: Connection, municipality: str, school: str | None = None) -> dict[str, Any]:
    days = [{"start": s, "end": e, "kind": k, "name": n} for s, e, k, n in _rows(conn, municipality, school)]
    return {"municipality": municipality, "school": school, "days": days}


def replace_calendar(conn: Connection, municipality: str, school: str | None,
                     days: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The calendar of the place becomes exactly `days` (already validated), in the caller's transaction."""
    municipality = municipality.strip()
    if not municipality:
        raise InvalidInput("municipality must not be empty")
    c = DAYS.c
    where = c.school.is_(None) if school is None else c.school == school
    conn.execute(DAYS.delete().where(c.municipality == municipality, where))
    rows = [{"municipality": municipality, "school": school, "start": d["start"], "end": d["end"],
             "kind": d["kind"], "name": d.get("name") or ""} for d in days]
    if rows:
        conn.execute(DAYS.insert(), rows)
    return get_calendar(conn, municipality, school)
