"""Which schedules and runs a caller limited to municipalities may see and change (docs/users.md "Tenancy").

A schedule's targets are a JSON scope, not a municipality column, so the rule is stated on what the
scope spans: its `municipality` when it names one; else the municipalities of the agents of its
`devices` list; else (no municipality and no devices: a school, a room or nothing at all, which may
match any municipality) the whole county. A limited caller sees and changes a schedule only when
every municipality it spans is its own (`Scope.covers`); any other schedule does not exist for it
(404). A run (a schedule's, or a power run of a whole scope) is visible when every device in its
report is on an agent of the caller's municipalities and, for a schedule's run, the schedule is.
Agents are matched with `Scope.clauses` on their municipality, the one tenancy mechanism.

County-wide callers skip all of this: the service's own queries (and their paging) answer as they are.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import Scope
from avfleet.controller.errors import Forbidden, NotFound
from avfleet.controller.fleet.models import Agent
from avfleet.controller.schedules import service
from avfleet.controller.schedules.models import ScheduleRun

AGENTS = Agent.__table__
RUNS = ScheduleRun.__table__
COUNTY_WIDE = None  # what a scope without a municipality or devices spans


def spanned(conn: Connection, target: dict[str, Any] | None) -> set[str | None]:
    """The municipalities a schedule's (or power request's) scope reaches; {None}: the whole county."""
    target = target or {}
    if target.get("municipality"):
        return {target["municipality"]}
    devices = target.get("devices") or []
    if not devices:
        return {COUNTY_WIDE}
    ids = sorted({d["agent_id"] for d in devices})
    found = dict(conn.execute(sa.select(AGENTS.c.agent_id, AGENTS.c.municipality)
                              .where(AGENTS.c.agent_id.in_(ids))).all())
    return {found.get(agent_id) for agent_id in ids}


def visible(conn: Connection, scope: Scope, schedule: dict[str, Any]) -> bool:
    return scope.county_wide or scope.covers(spanned(conn, schedule.get("scope")))


def check_target(conn: Connection, scope: Scope, target: dict[str, Any] | None) -> None:
    """A write (create, replace, power now) aimed outside the caller's municipalities: 404 or 403."""
    if scope.county_wide:
        return
    target = target or {}
    municipality = target.get("municipality")
    if municipality and not scope.allows(municipality):
        raise NotFound(f"no municipality {municipality!r}")
    devices = target.get("devices") or []
    if not municipality and not devices:
        raise Forbidden("a scope without a municipality reaches the whole county: name one of your municipalities")
    if devices:
        mine = _agents_in_scope(conn, scope, {d["agent_id"] for d in devices})
        for device in devices:
            if device["agent_id"] not in mine:
                raise NotFound(f"no device {device['device_id']!r} on agent {device['agent_id']!r}")


def get_schedule(conn: Connection, scope: Scope, schedule_id: int) -> dict[str, Any]:
    schedule = service.get_schedule(conn, schedule_id)
    if not visible(conn, scope, schedule):
        raise NotFound(f"no schedule {schedule_id}")
    return schedule


def list_schedules(conn: Connection, scope: Scope, *, municipality: str | None, limit: int,
                   offset: int) -> tuple[list[dict[str, Any]], int]:
    if scope.county_wide:
        return service.list_schedules(conn, municipality=municipality, limit=limit, offset=offset)
    everything, _total = service.list_schedules(conn, municipality=municipality, limit=1_000_000, offset=0)
    mine = [s for s in everything if visible(conn, scope, s)]
    return mine[offset:offset + limit], len(mine)


def _agents_in_scope(conn: Connection, scope: Scope, agent_ids: set[str]) -> set[str]:
    if not agent_ids:
        return set()
    return set(conn.execute(sa.select(AGENTS.c.agent_id).where(AGENTS.c.agent_id.in_(sorted(agent_ids)),
                                                               *scope.clauses(AGENTS.c.municipality))).scalars())


def _run_visible(conn: Connection, scope: Scope, run: dict[str, Any], schedule_ok: bool | None = None) -> bool:
    agents = {r["agent_id"] for r in run["results"]}
    if run["schedule_id"] is None:
        if not agents:
            return False  # a power run that reached no device names no place: only the county's
    elif schedule_ok is None:
        try:
            get_schedule(conn, scope, run["schedule_id"])
        except NotFound:
            return False
    elif not schedule_ok:
        return False
    return agents <= _agents_in_scope(conn, scope, agents)


def get_run(conn: Connection, scope: Scope, run_id: int) -> dict[str, Any]:
    run = service.get_run(conn, run_id)
    if not scope.county_wide and not _run_visible(conn, scope, run):
        raise NotFound(f"no run {run_id}")
    return run


def list_runs(conn: Connection, scope: Scope, schedule_id: int | None, *, limit: int,
              offset: int) -> tuple[list[dict[str, Any]], int]:
    """A schedule's runs (or the power runs, schedule_id None), newest first, as far as the caller may see."""
    if scope.county_wide:
        return service.list_runs(conn, schedule_id, limit=limit, offset=offset)
    if schedule_id is not None:
        get_schedule(conn, scope, schedule_id)
    where = RUNS.c.schedule_id.is_(None) if schedule_id is None else RUNS.c.schedule_id == schedule_id
    ids = conn.execute(sa.select(RUNS.c.id).where(where).order_by(RUNS.c.id.desc())).scalars().all()
    # Judged in Python: a run's devices are in its JSON report. Fine for one schedule's runs.
    mine = [run for run in (service.get_run(conn, i) for i in ids)
            if _run_visible(conn, scope, run, schedule_ok=True if schedule_id is not None else None)]
    return mine[offset:offset + limit], len(mine)
