"""Periodic work of the energy domain: roll up finished local days into energy_daily, note agent
outages (agent_outages) so that their devices' figures have gaps there, and note fed PDU outlets'
watts (energy_outlet_readings) so that the devices behind them count as measured."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.energy.models import AgentOutage
from avfleet.controller.energy.outlets import note_outlet_readings
from avfleet.controller.energy.rollup import days_between, first_history_day, rolled_days, rollup_days_apart
from avfleet.controller.energy.school_days import LOCAL, parse_school_hours
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import Agent
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


def note_outages(conn: Connection, now: datetime, lost_after_s: float) -> int:
    """Open an outage for each agent that is out and has none open, close the open ones of agents that
    are back; how many changed.

    Out: its Will marked it lost, it said "offline" on a clean stop, or nothing came from it for
    `lost_after_s`. The outage starts at the agent's last_seen (the last thing known of it), and ends
    at the envelope time of the online status it sent on coming back (else its last_seen). An outage
    shorter than this job's interval plus lost_after_s may go unnoticed (docs/energy.md).
    """
    a, o = Agent.__table__.c, AgentOutage.__table__.c
    silent_since = now - timedelta(seconds=lost_after_s)
    open_ = {r.agent_id: r for r in conn.execute(sa.select(o.id, o.agent_id, o.since).where(o.until.is_(None)))}
    changes = 0
    for r in conn.execute(sa.select(a.agent_id, a.state, a.last_seen, a.state_ts)):
        if r.last_seen is None:
            continue  # never heard of: no state to extend
        reason = "offline" if r.state == "offline" else "lost" if (
            r.state == "lost" or r.last_seen < silent_since) else None
        outage = open_.get(r.agent_id)
        if reason is not None and outage is None:
            conn.execute(AgentOutage.__table__.insert().values(agent_id=r.agent_id, since=r.last_seen,
                                                                reason=reason))
            changes += 1
        elif reason is None and outage is not None:
            back = r.state_ts if r.state == "online" and r.state_ts is not None and r.state_ts > outage.since \
                else r.last_seen
            conn.execute(AgentOutage.__table__.update().where(o.id == outage.id)
                         .values(until=max(back, outage.since)))
            changes += 1
    return changes


def outages(engine: Engine, settings: ControllerSettings, now: datetime) -> int:
    with write_transaction(engine) as conn:
        return note_outages(conn, now, settings.agent_lost_after_s)


def outlets(engine: Engine) -> int:
    """Note fed PDU outlets' watts (energy/outlets.py): every 15 s, so a change is placed within 15 s."""
    with write_transaction(engine) as conn:
        return note_outlet_readings(conn)


def jobs(settings: ControllerSettings) -> list[Job]:
    resolver = WattsResolver()
    return [Job("energy.rollup", 600.0, lambda engine, now: rollup(engine, settings, resolver, now)),
            Job("energy.outages", 15.0, lambda engine, now: outages(engine, settings, now)),
            Job("energy.outlets", 15.0, lambda engine, now: outlets(engine))]
