"""Periodic work of the energy domain: roll up finished local days into energy_daily."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from avfleet.controller.energy.rollup import days_between, first_history_day, rolled_days, rollup_days_apart
from avfleet.controller.energy.school_days import LOCAL, parse_school_hours
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.jobs.runner import Job
from avfleet.controller.settings import ControllerSettings

# Finished days recomputed on every run: an agent's outbox replays late transitions after a lost link.
REROLL_DAYS = 2
# Days rolled up per run when catching up (a new installation, or a controller down for a while).
CATCH_UP_DAYS = 31


def rollup(engine: Engine, settings: ControllerSettings, resolver: WattsResolver, now: datetime,
           *, max_days: int = CATCH_UP_DAYS) -> list[date]:
    """Roll up the finished days not rolled up yet (oldest first, at most `max_days`) and the last
    REROLL_DAYS again; one transaction per day. Returns the days written."""
    hours = parse_school_hours(settings.school_hours)
    yesterday = now.astimezone(LOCAL).date() - timedelta(days=1)
    with engine.connect() as conn:
        first = first_history_day(conn)
        if first is None or first > yesterday:
            return []
        done = rolled_days(conn, first, yesterday)
    todo = [d for d in days_between(first, yesterday) if d not in done][:max_days]
    todo += [d for d in days_between(yesterday - timedelta(days=REROLL_DAYS - 1), yesterday)
             if d >= first and d not in todo]
    for day in todo:
        rollup_days_apart(engine, [day], now, hours, resolver)
    return todo


def jobs(settings: ControllerSettings) -> list[Job]:
    resolver = WattsResolver()
    return [Job("energy.rollup", 600.0, lambda engine, now: rollup(engine, settings, resolver, now))]
