"""Counts per place for the overview and the drill-down: devices counted per agent, then per place; tickets.

A row's figures: devices; on (on, warming or cooling, and answering); standby; fault (a component at
warning or error); unreachable (not answering: unreachable, auth_failed or error); open tickets (open
or acknowledged); left on (on, warming or cooling while it is not school hours now for that school:
weekends, holidays, breaks and study days of the municipality's calendar, and outside `school_hours`).
Tenancy: the Scope's clauses on the agents' and tickets' municipality columns, as in every list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import Scope
from avfleet.controller.calendars.service import SchoolDays
from avfleet.controller.energy.rollup import BulkSchoolDays
from avfleet.controller.energy.school_days import LOCAL, parse_school_hours
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.tickets.models import ACTIVE_STATES, Ticket

AGENTS = Agent.__table__
DEVICES = Device.__table__
TICKETS = Ticket.__table__
LIT = ("on", "warming", "cooling")
NOT_ANSWERING = ("unreachable", "auth_failed", "error")
FIELDS = ("devices", "on", "standby", "fault", "unreachable", "open_tickets", "left_on")
LEVELS = ("municipality", "school", "room")


@dataclass
class PlaceCounts:
    name: str
    devices: int = 0
    on: int = 0
    standby: int = 0
    fault: int = 0
    unreachable: int = 0
    open_tickets: int = 0
    left_on: int = 0
    place: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> list[tuple[str, int]]:
        return [(name, getattr(self, name)) for name in FIELDS]


def within_hours(hours_text: str, now: datetime) -> bool:
    start, end = parse_school_hours(hours_text)
    return start <= now.astimezone(LOCAL).time() < end


def school_hours_now(school_days: SchoolDays, hours_text: str, municipality: str | None, school: str | None,
                     now: datetime) -> bool:
    return within_hours(hours_text, now) and school_days.is_school_day(municipality, school,
                                                                        now.astimezone(LOCAL).date())


def place_counts(conn: Connection, scope: Scope, level: str, school_hours: str, now: datetime,
                 municipality: str | None = None, school: str | None = None) -> list[PlaceCounts]:
    """One PlaceCounts per place at `level` (inside `municipality`/`school` when given), sorted by name."""
    a, d, t = AGENTS.c, DEVICES.c, TICKETS.c
    depth = LEVELS.index(level) + 1
    # Left on depends on the school's calendar, so devices are counted per school at least.
    group_cols = [a.municipality, a.school, a.room][:max(depth, 2)]
    where = [*scope.clauses(a.municipality), a.municipality.is_not(None)]
    if municipality is not None:
        where.append(a.municipality == municipality)
    if school is not None:
        where.append(a.school == school)

    def count_if(condition: Any) -> Any:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    online = d.availability == "online"
    # Devices are counted per agent first and those counts (one row per agent, 5,000 for 50,000
    # devices) summed per place: joining every device to its agent and grouping by place names cost
    # about twice as much on PostgreSQL. Below the county the agents of the place are named inside,
    # so only their devices are read.
    per_agent = (sa.select(d.agent_id, sa.func.count().label("devices"),
                           count_if(online & d.power.in_(LIT)).label("on"),
                           count_if(online & (d.power == "standby")).label("standby"),
                           count_if(d.active_faults != "").label("fault"),
                           count_if(d.availability.in_(NOT_ANSWERING)).label("unreachable"))
                 .group_by(d.agent_id))
    if municipality is not None or school is not None or not scope.county_wide:
        per_agent = per_agent.where(d.agent_id.in_(sa.select(a.agent_id).where(*where)))
    p = per_agent.subquery()
    rows = conn.execute(
        sa.select(*group_cols, *(sa.func.sum(p.c[name]).label(name) for name in FIELDS[:5]))
        .select_from(p.join(AGENTS, p.c.agent_id == a.agent_id)).where(*where).group_by(*group_cols))
    out: dict[tuple, PlaceCounts] = {}
    # Every place's calendar in one query, and only when it is school hours at all: one query per school
    # (SchoolDays) cost ~0.5 s for the county's 260 schools on PostgreSQL.
    school_days: SchoolDays | None = None
    hours_now = within_hours(school_hours, now)
    in_hours: dict[tuple, bool] = {}
    for r in rows:
        values = tuple(r)[:len(group_cols)]
        key = values[:depth]
        item = out.setdefault(key, PlaceCounts(name=key[-1] or "", place=dict(zip(LEVELS, key, strict=False))))
        lit = int(r.on or 0)  # a SUM: Decimal on PostgreSQL
        item.devices += int(r.devices)
        item.on += lit
        item.standby += int(r.standby or 0)
        item.fault += int(r.fault or 0)
        item.unreachable += int(r.unreachable or 0)
        if lit:
            school_key = values[:2]
            if school_key not in in_hours:
                if hours_now and school_days is None:
                    school_days = BulkSchoolDays(conn)
                in_hours[school_key] = hours_now and school_hours_now(school_days, school_hours, *school_key, now)
            if not in_hours[school_key]:
                item.left_on += lit
    ticket_cols = [t.municipality, t.school, t.room][:depth]
    tw = [*scope.clauses(t.municipality), t.state.in_(ACTIVE_STATES)]
    if municipality is not None:
        tw.append(t.municipality == municipality)
    if school is not None:
        tw.append(t.school == school)
    for r in conn.execute(sa.select(*ticket_cols, sa.func.count().label("n")).where(*tw).group_by(*ticket_cols)):
        key = tuple(r)[:depth]
        if key in out:
            out[key].open_tickets += r.n
    return sorted(out.values(), key=lambda p: p.name.casefold())


def municipalities(conn: Connection, scope: Scope) -> list[str]:
    """The municipalities in the caller's scope that have agents (the filter menus)."""
    a = AGENTS.c
    rows = conn.execute(sa.select(a.municipality).distinct().where(*scope.clauses(a.municipality),
                                                                   a.municipality.is_not(None)))
    return sorted((r.municipality for r in rows), key=str.casefold)


def total_of(rows: list[PlaceCounts], name: str) -> PlaceCounts:
    total = PlaceCounts(name=name)
    for row in rows:
        for figure in FIELDS:
            setattr(total, figure, getattr(total, figure) + getattr(row, figure))
    return total
