"""Periodic work of the tickets domain: quiet periods, lost agents, notifications held back."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.fleet.models import Agent
from avfleet.controller.jobs.runner import Job
from avfleet.controller.settings import ControllerSettings
from avfleet.controller.tickets import notify
from avfleet.controller.tickets.models import ACTIVE_STATES, Ticket
from avfleet.controller.tickets.service import TicketService, children_of
from avfleet.i18n import text

AGENTS = Agent.__table__
TICKETS = Ticket.__table__


def resolve_quiet(engine: Engine, service: TicketService, now: datetime) -> list[int]:
    with write_transaction(engine) as conn:
        return service.resolve_quiet(conn, now)


def lost_since(row: Any, now: datetime, lost_after: timedelta) -> datetime | None:
    """When the agent was lost (its Last Will, or silence past agent_lost_after_s); None when it is not.

    A clean stop (`offline`) is deliberate and opens nothing.
    """
    if row.state == "lost":
        # When the controller received the Will (the Will's own ts is the agent's connect time).
        return row.changed_at or now
    if row.state == "offline":
        return None
    if row.last_seen is not None and row.last_seen < now - lost_after:
        return row.last_seen
    return None


def check_agents(engine: Engine, service: TicketService, now: datetime) -> int:
    """Open one agent_lost ticket per lost agent, or one per school when all its agents went together;
    start the quiet period of those whose agents are all back."""
    settings = service.settings
    lost_after = timedelta(seconds=settings.agent_lost_after_s)
    group = timedelta(seconds=settings.agent_lost_group_s)
    a, t = AGENTS.c, TICKETS.c
    changes = 0
    with write_transaction(engine) as conn:
        agents = {r.agent_id: r for r in conn.execute(
            sa.select(a.agent_id, a.state, a.changed_at, a.last_seen, a.municipality, a.school, a.room))}
        since = {aid: s for aid, r in agents.items() if (s := lost_since(r, now, lost_after)) is not None}
        open_tickets = conn.execute(sa.select(t.id, t.agent_id, t.children, t.clear_since).where(
            t.kind == "agent_lost", t.state.in_(ACTIVE_STATES))).all()
        covered: dict[str, Any] = {}
        for ticket in open_tickets:
            members = {ticket.agent_id} | {c["agent_id"] for c in ticket.children or [] if c.get("device_id") is None}
            for member in members:
                covered[member] = ticket
            if ticket.clear_since is None and not members & since.keys():
                changes += service.clear_condition(conn, ticket.agent_id, None, "agent_lost", now)
            elif ticket.clear_since is not None and members & since.keys():
                place = _place(agents.get(ticket.agent_id))
                changes += service.raise_condition(conn, ticket.agent_id, None, "agent_lost", "error", now,
                                                   place) is not None
        schools: dict[tuple[str | None, str | None], list[str]] = defaultdict(list)
        for aid, row in agents.items():
            schools[(row.municipality, row.school)].append(aid)
        for (_municipality, school), members in schools.items():
            due = sorted(aid for aid in members if aid in since and aid not in covered and now - since[aid] >= group)
            if not due:
                continue
            together = (len(members) >= 2 and all(m in since for m in members)
                        and not any(m in covered for m in members)
                        and max(since[m] for m in members) - min(since[m] for m in members) <= group)
            if together:
                first = sorted(members)[0]
                title = text("ticket.title.school", settings.language, count=len(members), school=school or "?")
                changes += service.raise_condition(conn, first, None, "agent_lost", "error", now,
                                                   _place(agents[first]), children=children_of(conn, members),
                                                   title=title) is not None
                continue
            for aid in due:
                changes += service.raise_condition(conn, aid, None, "agent_lost", "error", now, _place(agents[aid]),
                                                   children=children_of(conn, [aid])) is not None
    return changes


def _place(row: Any) -> dict[str, Any]:
    if row is None:
        return {"municipality": None, "school": None, "room": None, "configured": [], "state": None}
    return {"municipality": row.municipality, "school": row.school, "room": row.room, "configured": [],
            "state": row.state}


def send_held_back(engine: Engine, settings: ControllerSettings, now: datetime) -> int:
    with write_transaction(engine) as conn:
        return notify.send_held_back(conn, settings, now)


def jobs(settings: ControllerSettings) -> list[Job]:
    service = TicketService(settings)
    return [
        Job("tickets.resolve_quiet", 5.0, lambda engine, now: resolve_quiet(engine, service, now)),
        Job("tickets.agents", 5.0, lambda engine, now: check_agents(engine, service, now)),
        Job("tickets.notify_held_back", 10.0, lambda engine, now: send_held_back(engine, settings, now)),
    ]
