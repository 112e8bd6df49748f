"""Occurrences of a schedule in Europe/Stockholm wall time, correct across the DST changes.

A time that does not exist on the spring change (02:30 on the last Sunday of March) runs at the
first instant after the gap (03:30); a time that happens twice on the autumn change runs once, at
its first (summer time) instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from avfleet.controller.calendars.service import SchoolDays

LOCAL = "Europe/Stockholm"


def local_zone() -> ZoneInfo:
    return ZoneInfo(LOCAL)


def local_instant(day: date, hhmm: str, zone: ZoneInfo | None = None) -> datetime:
    """The aware local datetime of `hhmm` on `day`; a wall time in the spring gap moves past it."""
    zone = zone or local_zone()
    hour, minute = (int(x) for x in hhmm.split(":"))
    wall = datetime.combine(day, time(hour, minute), tzinfo=zone)  # fold=0: the first of two
    back = wall.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != wall.replace(tzinfo=None):
        # Not a real wall time (the spring gap): the UTC round trip lands after the gap.
        return (wall.replace(tzinfo=None) + timedelta(hours=1)).replace(tzinfo=zone)
    return wall


@dataclass(frozen=True)
class Occurrence:
    at: datetime  # aware, Europe/Stockholm
    skipped: bool
    reason: str | None

    def item(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "skipped": self.skipped, "reason": self.reason}


def day_matches(rule: Any, school_days: SchoolDays, municipality: str | None, school: str | None,
                day: date) -> tuple[bool, str | None]:
    """Whether the day rule runs on `day` at this place, and why not."""
    if isinstance(rule, list):
        return (day.isoweekday() in rule, None if day.isoweekday() in rule else "weekday not chosen")
    if rule == "every_day":
        return True, None
    why = school_days.why_not(municipality, school, day)
    if rule == "school_days":
        return why is None, None if why is None else f"not a school day: {why}"
    return why is not None, None if why is not None else "a school day"


def whole_exception(exceptions: list[dict[str, Any]], day: date) -> dict[str, Any] | None:
    """An exception without a place skips the whole occurrence on its date."""
    for ex in exceptions:
        if str(ex.get("date")) == day.isoformat() and not any(ex.get(k) for k in ("municipality", "school", "room")):
            return ex
    return None


def occurrences(schedule: dict[str, Any], school_days: SchoolDays, first: date, last: date) -> Iterator[Occurrence]:
    """Every occurrence from `first` to `last` (local dates, inclusive), in order.

    The calendar is the scope's municipality (and school); a county-wide schedule on school days
    skips only what is no school day anywhere (weekends, holidays): each device's own calendar is
    applied again when it runs (service.py).
    """
    zone = local_zone()
    scope = schedule.get("scope") or {}
    municipality, school = scope.get("municipality"), scope.get("school")
    day = first
    while day <= last:
        runs, reason = day_matches(schedule["days"], school_days, municipality, school, day)
        if runs:
            ex = whole_exception(schedule.get("exceptions") or [], day)
            if ex is not None:
                runs, reason = False, f"exception: {ex.get('reason') or 'skipped on this date'}"
        seen: set[datetime] = set()
        for hhmm in sorted(schedule["times"]):
            at = local_instant(day, hhmm, zone)
            if at in seen:
                continue
            seen.add(at)
            yield Occurrence(at, not runs, reason)
        day += timedelta(days=1)


def due_between(schedule: dict[str, Any], school_days: SchoolDays, after: datetime,
                until: datetime) -> list[Occurrence]:
    """Occurrences with after < at <= until (both aware), skipped ones included."""
    zone = local_zone()
    first = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    return [o for o in occurrences(schedule, school_days, first, last) if after < o.at <= until]


def next_school_day_start(school_days: SchoolDays, municipality: str | None, school: str | None,
                          after: datetime, resume_at: str, horizon_days: int = 400) -> datetime | None:
    """The first `resume_at` local time after `after` on a school day at this place."""
    zone = local_zone()
    day = after.astimezone(zone).date()
    for _ in range(horizon_days):
        if school_days.is_school_day(municipality, school, day):
            at = local_instant(day, resume_at, zone)
            if at > after:
                return at
        day += timedelta(days=1)
    return None
