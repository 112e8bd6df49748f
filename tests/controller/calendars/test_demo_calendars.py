"""The demo step: a plausible calendar for each of the 13 municipalities, and the default schedules."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.calendars.service import SchoolDays
from avfleet.controller.schedules.models import Schedule
from avfleet.demo.calendars import seed_calendars_and_schedules
from avfleet.demo.county import municipalities
from avfleet.demo.steps import demo_steps


def test_demo_seeds_every_municipality_and_the_defaults(engine: Engine) -> None:
    assert seed_calendars_and_schedules in demo_steps()
    seed_calendars_and_schedules(SimpleNamespace(controller=SimpleNamespace(engine=engine)))
    seed_calendars_and_schedules(SimpleNamespace(controller=SimpleNamespace(engine=engine)))  # again: no doubles
    names = [m.name for m in municipalities()]
    assert len(names) == 13
    with engine.connect() as conn:
        days = SchoolDays(conn)
        for name in names:
            assert days.why_not(name, None, date(2026, 10, 28)) == "höstlov"  # week 44
            assert days.why_not(name, None, date(2027, 1, 5)) == "jullov"
            assert days.why_not(name, None, date(2027, 3, 30)) == "påsklov"
            assert days.why_not(name, None, date(2027, 7, 1)) == "sommarlov"
            assert days.is_school_day(name, None, date(2026, 12, 1))
            sport = [d for d in (date(2027, 2, 17), date(2027, 2, 24)) if days.why_not(name, None, d) == "sportlov"]
            assert len(sport) == 1  # week 7 or week 8, not both
        weeks = {name: days.why_not(name, None, date(2027, 2, 17)) == "sportlov" for name in names}
        assert 0 < sum(weeks.values()) < 13  # the county is split between the two weeks
        schedules = conn.execute(sa.select(Schedule.__table__.c.times, Schedule.__table__.c.days)).all()
    assert sorted((tuple(t), d) for t, d in schedules) == sorted([
        (("17:30",), "every_day"), (tuple(f"{h:02d}:00" for h in range(8, 17)), "non_school_days")])
