"""Demo step: a school calendar for each of the 13 municipalities and the default schedules.

The breaks are plausible, not any municipality's decision: höstlov in week 44, jullov over the
turn of the year, sportlov in week 7 or 8 (as the county's municipalities split between them),
påsklov the week after Easter, sommarlov from mid-June to mid-August, and two study days a year.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from avfleet.demo.county import municipalities

if TYPE_CHECKING:
    from avfleet.demo.run import DemoContext

# Municipalities whose sportlov is in week 7; the others take week 8.
SPORTLOV_WEEK_7 = frozenset({"Jönköping", "Habo", "Mullsjö", "Vaggeryd", "Gnosjö", "Gislaved"})


def _week(year: int, week: int) -> tuple[date, date]:
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=4)


def _weekday(day: date) -> date:
    """The day itself, or the Monday after when it falls on a weekend."""
    return day + timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)


def calendar_days(municipality: str, index: int) -> list[dict[str, Any]]:
    """The demo calendar of one municipality: school years 2025/26 and 2026/27."""
    sport = 7 if municipality in SPORTLOV_WEEK_7 else 8
    shift = index % 3  # the summer break starts a day or two apart between municipalities
    days: list[tuple[date, date, str, str]] = []
    for autumn in (2025, 2026):
        spring = autumn + 1
        days.append((*_week(autumn, 44), "break", "höstlov"))
        days.append((date(autumn, 12, 22) - timedelta(days=date(autumn, 12, 22).weekday()),
                     date(spring, 1, 9) - timedelta(days=max(0, date(spring, 1, 9).weekday() - 4)), "break",
                     "jullov"))
        days.append((*_week(spring, sport), "break", "sportlov"))
        easter_monday = {2026: date(2026, 4, 6), 2027: date(2027, 3, 29)}[spring]
        start = easter_monday if spring == 2027 else easter_monday + timedelta(days=1)
        days.append((start, start + timedelta(days=4 - start.weekday()), "break", "påsklov"))
        days.append((date(spring, 6, 10 + shift), date(spring, 8, 16 + shift), "break", "sommarlov"))
        for study in (_weekday(date(autumn, 11, 13 + shift)), _weekday(date(spring, 1, 12 + shift))):
            days.append((study, study, "study_day", "studiedag"))
    return [{"start": s, "end": e, "kind": k, "name": n} for s, e, k, n in sorted(days)]


def seed_calendars_and_schedules(ctx: DemoContext) -> None:
    from avfleet.controller.calendars.service import replace_calendar
    from avfleet.controller.db import write_transaction
    from avfleet.controller.schedules.service import ensure_defaults

    with write_transaction(ctx.controller.engine) as conn:
        for index, municipality in enumerate(municipalities()):
            replace_calendar(conn, municipality.name, None, calendar_days(municipality.name, index))
        ensure_defaults(conn)
