"""Ticket rules and life cycle (no HTTP): raise, keep, clear, resolve, reopen, acknowledge, comment.

Called from the ingest writer inside the batch's transaction (`on_batch`), from the jobs (quiet
periods, lost agents) and from the API. Every change writes a journal note and, through
`notify.enqueue`, the outbox rows of its notifications in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.errors import Conflict, InvalidInput, NotFound
from avfleet.controller.settings import ControllerSettings
from avfleet.controller.tickets import notify
from avfleet.controller.tickets.context import device_context, place_of
from avfleet.controller.tickets.models import ACTIVE_STATES, Ticket, TicketNote, active_key
from avfleet.controller.tickets.rules import (
    DEVICE_LEVEL,
    ONE_SHOT,
    Conditions,
    LifeThresholds,
    RatedLife,
    band,
    device_conditions,
    lamp_hours,
    worse,
)
from avfleet.i18n import text
from avfleet.protocols.status import DeviceStatus

TICKETS = Ticket.__table__
NOTES = TicketNote.__table__
RULES = "avfleet"  # who the rules are in the journal


@dataclass
class TicketInputs:
    """What one committed batch tells the rules (collected by the fleet service)."""

    # (agent_id, device_id, status that became current, whether its availability or faults changed)
    states: list[tuple[str, str, DeviceStatus, bool]] = field(default_factory=list)
    agents_online: set[str] = field(default_factory=set)
    # (agent_id, device_id, action, detail)
    failed_commands: list[tuple[str, str | None, str, str | None]] = field(default_factory=list)
    # (agent_id, device_id, old serial, new serial)
    swaps: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.states or self.agents_online or self.failed_commands or self.swaps)


def _inside(hours: int | None, bounds: tuple[float, float] | None) -> bool:
    if bounds is None:
        return hours is None
    return hours is not None and bounds[0] <= hours < bounds[1]


class _BatchLookups:
    """What the rules read about agents, once per batch and only when a change needs it."""

    def __init__(self, conn: Connection, online: set[str]) -> None:
        self.conn = conn
        self.online = online
        self.places: dict[str, dict[str, Any]] = {}
        self._covered: set[str] | None = None

    def place(self, agent_id: str) -> dict[str, Any]:
        if agent_id not in self.places:
            self.places[agent_id] = place_of(self.conn, agent_id)
        return self.places[agent_id]

    def agent_online(self, agent_id: str) -> bool:
        return agent_id in self.online or self.place(agent_id)["state"] == "online"

    def covered(self, agent_id: str) -> bool:
        """Whether the agent stands under an open agent_lost ticket (its devices get none of their own)."""
        if self._covered is None:
            t = TICKETS.c
            covered: set[str] = set()
            for owner, children in self.conn.execute(
                    sa.select(t.agent_id, t.children).where(t.kind == "agent_lost", t.state.in_(ACTIVE_STATES))):
                covered.add(owner)
                covered.update(c["agent_id"] for c in children or [] if c.get("device_id") is None)
            self._covered = covered
        return agent_id in self._covered


def _insert(conn: Connection, table: sa.Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class TicketService:
    def __init__(self, settings: ControllerSettings, library: Any = None) -> None:
        self.settings = settings
        self.limits = LifeThresholds(settings.lamp_life_warning, settings.lamp_life_error,
                                     settings.filter_life_warning, settings.filter_life_error)
        self._library = library
        self._life: dict[tuple[str | None, str | None, str | None], RatedLife] = {}
        # Per device, what its last evaluated state was: (availability and flags, lamp-hours band, filter band).
        self._seen: dict[tuple[str, str], tuple] = {}
        self._pending_seen: dict[tuple[str, str], tuple] = {}

    # -- ingest ------------------------------------------------------------------------------------------
    def on_batch(self, conn: Connection, inputs: TicketInputs, now: datetime) -> int:
        """Apply the rules to one batch in the caller's transaction; returns the number of ticket changes."""
        self._pending_seen = {}
        if not inputs:
            return 0
        changes = 0
        batch = _BatchLookups(conn, inputs.agents_online)
        seen = self._seen
        for agent_id, device_id, status, changed in inputs.states:
            # The hot path: a repeat with the same availability and flags, and hours inside the same band
            # of rated life, cannot change a condition (the ingest benchmark measures this loop).
            flags = (status.availability, *status.faults.__dict__.values())
            hours, filter_hours = lamp_hours(status), status.filter_hours
            last = seen.get((agent_id, device_id))
            if (not changed and last is not None and last[0] == flags and _inside(hours, last[1])
                    and _inside(filter_hours, last[2])):
                continue
            life = self.rated_life(status)
            conditions = device_conditions(status, life, self.limits)
            self._pending_seen[(agent_id, device_id)] = (
                flags, band(hours, life.lamp_h, self.limits.lamp_warning, self.limits.lamp_error),
                band(filter_hours, life.filter_h, self.limits.filter_warning, self.limits.filter_error))
            changes += self._reconcile(conn, agent_id, device_id, conditions, life, now, batch)
        for agent_id, device_id, action, detail in inputs.failed_commands:
            if device_id is None or action not in ("power_on", "power_off"):
                continue
            ticket_id = self.raise_condition(conn, agent_id, device_id, "command_failed", "warning", now,
                                             batch.place(agent_id),
                                             note=f"{action}: {detail or ''}".strip())
            changes += ticket_id is not None
            self.clear_condition(conn, agent_id, device_id, "command_failed", now)
        for agent_id, device_id, old, new in inputs.swaps:
            changes += self.raise_condition(conn, agent_id, device_id, "unit_swapped", "warning", now,
                                            batch.place(agent_id),
                                            note=f"{old} → {new}") is not None
        return changes

    def committed(self) -> None:
        """The batch's transaction committed: remember what was evaluated (never before: a rollback retries)."""
        self._seen.update(self._pending_seen)
        self._pending_seen = {}

    def rated_life(self, status: DeviceStatus) -> RatedLife:
        ident = status.identity
        key = (ident.manufacturer, ident.model, ident.pjlink_class)
        if key not in self._life:
            self._life[key] = self._lookup_life(ident.manufacturer, ident.model, ident.pjlink_class)
        return self._life[key]

    def _lookup_life(self, manufacturer: str | None, model: str | None, pjlink_class: str | None) -> RatedLife:
        if manufacturer is None and model is None:
            return RatedLife()
        if self._library is None:
            from avfleet.profiles.library import load_library

            self._library = load_library()
        match = self._library.match_pjlink(manufacturer, model, pjlink_class)
        if match is None:
            return RatedLife()
        profile = match.profile
        return RatedLife(profile.lamp.rated_hours if profile.lamp else None,
                         profile.filter.rated_hours if profile.filter else None)

    def _reconcile(self, conn: Connection, agent_id: str, device_id: str, conditions: Conditions, life: RatedLife,
                   now: datetime, batch: _BatchLookups) -> int:
        """Bring the device's tickets in line with its conditions: one SELECT when nothing changes."""
        t = TICKETS.c
        active = {r.kind: r for r in conn.execute(
            sa.select(t.kind, t.severity, t.clear_since).where(
                t.agent_id == agent_id, t.device_id == device_id, t.state.in_(ACTIVE_STATES)))}
        changes = 0
        for kind, severity in conditions.active.items():
            current = active.get(kind)
            if current is not None and current.clear_since is None and worse(severity, current.severity) == \
                    current.severity:
                continue  # still the same: nothing to write
            if kind in ("unreachable", "auth_failed") and not batch.agent_online(agent_id):
                continue
            if self.raise_condition(conn, agent_id, device_id, kind, severity, now, batch.place(agent_id), life=life,
                                    suppressed=current is None and batch.covered(agent_id)) is not None:
                changes += 1
        for kind in conditions.clear:
            current = active.get(kind)
            if current is not None and current.clear_since is None:
                changes += self.clear_condition(conn, agent_id, device_id, kind, now)
        return changes

    # -- the life cycle ----------------------------------------------------------------------------------
    def raise_condition(self, conn: Connection, agent_id: str, device_id: str | None, kind: str, severity: str,
                        now: datetime, place: dict[str, Any] | None = None, *, life: RatedLife | None = None,
                        suppressed: bool = False, note: str | None = None, children: list[dict] | None = None,
                        title: str | None = None) -> int | None:
        """Open, keep, escalate or reopen the ticket of a condition; the ticket id when something changed."""
        key = active_key(agent_id, device_id, kind)
        t = TICKETS.c
        current = conn.execute(sa.select(t.id, t.severity, t.clear_since, t.occurrences)
                               .where(t.active_key == key)).first()
        if current is not None:
            values: dict[str, Any] = {}
            notes: list[tuple[str, str]] = []
            if current.clear_since is not None:
                values.update(clear_since=None, occurrences=current.occurrences + 1)
                notes.append(("updated", text("ticket.note.recurred", self.settings.language)))
            if worse(severity, current.severity) != current.severity:
                values["severity"] = severity
                notes.append(("updated", text("ticket.note.escalated", self.settings.language,
                                              severity=text(f"severity.{severity}", self.settings.language))))
            if children is not None:
                values["children"] = children
            if not values:
                return None
            values["updated_at"] = now
            if device_id is not None and kind not in ONE_SHOT:
                values["context"] = device_context(conn, agent_id, device_id, life or RatedLife(), now,
                                                   self.settings.dashboard_url(), place)
            conn.execute(TICKETS.update().where(t.id == current.id).values(**values))
            for action, line in notes:
                self._note(conn, current.id, now, RULES, action, line if note is None else f"{line}: {note}")
            notify.ticket_changed(conn, self.settings, current.id, "ticket.updated", now)
            return current.id
        if suppressed:
            return None
        place = place or place_of(conn, agent_id)
        context = device_context(conn, agent_id, device_id, life or RatedLife(), now,
                                 self.settings.dashboard_url(), place)
        window_start = now - timedelta(seconds=self.settings.ticket_reopen_window_s)
        recent = conn.execute(
            sa.select(t.id, t.occurrences, t.severity).where(
                t.agent_id == agent_id, t.device_id.is_(None) if device_id is None else t.device_id == device_id,
                t.kind == kind, t.state == "resolved", t.resolved_at >= window_start)
            .order_by(t.resolved_at.desc()).limit(1)).first()
        if recent is not None:
            updated = conn.execute(
                TICKETS.update().where(t.id == recent.id, t.state == "resolved").values(
                    state="open", active_key=key, resolved_at=None, resolved_by=None, clear_since=None,
                    occurrences=recent.occurrences + 1, severity=severity, updated_at=now, context=context,
                    **({"children": children} if children is not None else {}))).rowcount
            if updated:
                hours = round(self.settings.ticket_reopen_window_s / 3600)
                self._note(conn, recent.id, now, RULES, "reopened",
                           text("ticket.note.reopened", self.settings.language, hours=hours))
                notify.ticket_changed(conn, self.settings, recent.id, "ticket.reopened", now)
                return recent.id
        values = {
            "kind": kind, "severity": severity, "state": "open", "agent_id": agent_id, "device_id": device_id,
            "title": title or self.title(kind, agent_id, device_id, place), "municipality": place["municipality"],
            "school": place["school"], "room": place["room"], "opened_at": now, "updated_at": now,
            "occurrences": 1, "context": context, "children": children or [], "active_key": key,
            "notify_pending": False,
        }
        inserted = conn.execute(_insert(conn, TICKETS).values(**values)
                                .on_conflict_do_nothing(index_elements=["active_key"]).returning(t.id)).first()
        if inserted is None:  # another controller process opened it a moment ago
            return None
        ticket_id = inserted[0]
        self._note(conn, ticket_id, now, RULES, "opened", note or text("ticket.note.opened", self.settings.language))
        notify.ticket_changed(conn, self.settings, ticket_id, "ticket.opened", now)
        return ticket_id

    def clear_condition(self, conn: Connection, agent_id: str, device_id: str | None, kind: str,
                        now: datetime) -> int:
        """The condition is clear: start its ticket's quiet period (resolve_quiet resolves it later)."""
        t = TICKETS.c
        return conn.execute(TICKETS.update().where(t.active_key == active_key(agent_id, device_id, kind),
                                                   t.clear_since.is_(None)).values(clear_since=now)).rowcount

    def resolve_quiet(self, conn: Connection, now: datetime) -> list[int]:
        """Resolve every ticket whose condition has been clear for ticket_resolve_quiet_s."""
        t = TICKETS.c
        quiet = self.settings.ticket_resolve_quiet_s
        due = conn.execute(sa.select(t.id).where(
            t.state.in_(ACTIVE_STATES), t.clear_since.is_not(None), t.kind != "unit_swapped",
            t.clear_since <= now - timedelta(seconds=quiet)).order_by(t.id)).scalars().all()
        line = text("ticket.note.auto_resolved", self.settings.language, minutes=round(quiet / 60))
        for ticket_id in due:
            self._set_state(conn, ticket_id, "resolved", RULES, now, line)
        return list(due)

    # -- people ------------------------------------------------------------------------------------------
    def acknowledge(self, conn: Connection, ticket_id: int, by: str, now: datetime, comment: str | None = None) -> None:
        state = self._state_of(conn, ticket_id)
        if state != "open":
            raise Conflict(f"ticket {ticket_id} is {state}; only an open ticket can be acknowledged")
        self._set_state(conn, ticket_id, "acknowledged", by, now, comment)

    def resolve(self, conn: Connection, ticket_id: int, by: str, now: datetime, comment: str | None = None) -> None:
        state = self._state_of(conn, ticket_id)
        if state not in ACTIVE_STATES:
            raise Conflict(f"ticket {ticket_id} is {state}; only an open or acknowledged ticket can be resolved")
        self._set_state(conn, ticket_id, "resolved", by, now, comment)

    def close(self, conn: Connection, ticket_id: int, by: str, now: datetime, comment: str | None = None) -> None:
        state = self._state_of(conn, ticket_id)
        if state == "closed":
            raise Conflict(f"ticket {ticket_id} is already closed")
        self._set_state(conn, ticket_id, "closed", by, now, comment)

    def comment(self, conn: Connection, ticket_id: int, by: str, now: datetime, body: str) -> None:
        self._state_of(conn, ticket_id)
        if not body.strip():
            raise InvalidInput("text: a comment needs some text")
        self._note(conn, ticket_id, now, by, "comment", body)
        conn.execute(TICKETS.update().where(TICKETS.c.id == ticket_id).values(updated_at=now))

    def _state_of(self, conn: Connection, ticket_id: int) -> str:
        state = conn.execute(sa.select(TICKETS.c.state).where(TICKETS.c.id == ticket_id)).scalar()
        if state is None:
            raise NotFound(f"no ticket {ticket_id}")
        return state

    def _set_state(self, conn: Connection, ticket_id: int, state: str, by: str, now: datetime,
                   comment: str | None) -> None:
        t = TICKETS.c
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if state == "acknowledged":
            values.update(acknowledged_at=now, acknowledged_by=by)
        elif state == "resolved":
            values.update(resolved_at=now, resolved_by=by, active_key=None)
        elif state == "closed":
            values.update(closed_at=now, closed_by=by, active_key=None)
        conn.execute(TICKETS.update().where(t.id == ticket_id).values(**values))
        self._note(conn, ticket_id, now, by, state, comment)
        event = {"acknowledged": "ticket.updated", "resolved": "ticket.resolved", "closed": "ticket.closed"}[state]
        notify.ticket_changed(conn, self.settings, ticket_id, event, now, by_person=by != RULES)

    def _note(self, conn: Connection, ticket_id: int, now: datetime, by: str, action: str,
              body: str | None) -> None:
        conn.execute(NOTES.insert().values(ticket_id=ticket_id, at=now, by=by, action=action, text=body))

    def title(self, kind: str, agent_id: str, device_id: str | None, place: dict[str, Any]) -> str:
        lang = self.settings.language
        values = {"kind": text(f"kind.{kind}", lang), "agent": agent_id, "device": device_id,
                  "room": place.get("room") or "?", "school": place.get("school") or "?"}
        return text("ticket.title.device" if device_id else "ticket.title.agent", lang, **values)


def children_of(conn: Connection, agent_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The conditions an agent_lost ticket stands for: each agent, and each of its devices unreachable."""
    from avfleet.controller.fleet.models import Device

    d = Device.__table__.c
    children: list[dict[str, Any]] = []
    for agent_id in sorted(agent_ids):
        children.append({"agent_id": agent_id, "device_id": None, "kind": "agent_lost"})
        for (device_id,) in conn.execute(sa.select(d.device_id).where(d.agent_id == agent_id).order_by(d.device_id)):
            children.append({"agent_id": agent_id, "device_id": device_id, "kind": "unreachable"})
    return children


def failed_commands(conn: Connection, results: list[Any]) -> list[tuple[str, str | None, str, str | None]]:
    """(agent_id, device_id, action, detail) of the results that report a failure."""
    failed = [r for r in results if r.status.value == "failed"]
    if not failed:
        return []
    from avfleet.controller.commands.models import CommandRecord

    c = CommandRecord.__table__.c
    actions = dict(conn.execute(sa.select(c.command_id, c.action)
                                .where(c.command_id.in_([r.command_id for r in failed]))).all())
    return [(r.agent_id, r.device_id, actions[r.command_id], r.detail) for r in failed if r.command_id in actions]


__all__ = ["DEVICE_LEVEL", "TicketInputs", "TicketService", "children_of", "failed_commands"]
