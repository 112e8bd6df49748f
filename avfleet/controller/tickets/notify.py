"""Ticket changes into the notification outbox, at most one per ticket per notify_min_interval_s.

A change held back by the interval is not lost: the ticket is marked, and the `tickets.notify`
job sends its current state once the interval has passed (so a flapping device sends one
notification per interval, and the last word is always the ticket's real state).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.notifications.service import enqueue_ticket_event
from avfleet.controller.settings import ControllerSettings
from avfleet.controller.tickets.models import Ticket
from avfleet.controller.tickets.schemas import public_ticket

TICKETS = Ticket.__table__


def ticket_changed(conn: Connection, settings: ControllerSettings, ticket_id: int, event: str,
                   now: datetime, *, by_person: bool = False) -> bool:
    """Queue `event` for the ticket's receivers, or hold it back; True when queued.

    The interval holds back what the device does (flapping), never what a person did.
    """
    t = TICKETS.c
    row = conn.execute(sa.select(TICKETS).where(t.id == ticket_id)).first()
    if row is None:
        return False
    interval = timedelta(seconds=settings.notify_min_interval_s)
    if (event != "ticket.opened" and not by_person and interval and row.last_notified_at is not None
            and now - row.last_notified_at < interval):
        conn.execute(TICKETS.update().where(t.id == ticket_id).values(notify_pending=True))
        return False
    enqueue_ticket_event(conn, settings, public_ticket(row), event, now)
    conn.execute(TICKETS.update().where(t.id == ticket_id).values(last_notified_at=now, notify_pending=False))
    return True


def send_held_back(conn: Connection, settings: ControllerSettings, now: datetime) -> int:
    """Send the current state of every ticket whose change was held back and whose interval has passed."""
    t = TICKETS.c
    cutoff = now - timedelta(seconds=settings.notify_min_interval_s)
    due = conn.execute(sa.select(t.id, t.state).where(t.notify_pending.is_(True), t.last_notified_at <= cutoff)
                       ).all()
    events = {"resolved": "ticket.resolved", "closed": "ticket.closed"}
    for ticket_id, state in due:
        ticket_changed(conn, settings, ticket_id, events.get(state, "ticket.updated"), now)
    return len(due)
