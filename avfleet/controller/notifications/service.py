"""The outbox's rules (no I/O): which rows a ticket event writes, which rows are due, what a result does."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.notifications.models import Notification
from avfleet.controller.settings import ControllerSettings

OUTBOX = Notification.__table__
FINAL = ("sent", "dead")


def enqueue_ticket_event(conn: Connection, settings: ControllerSettings, ticket: dict[str, Any], event: str,
                         now: datetime) -> int:
    """Write one outbox row per receiver of `event` (webhooks, e-mail recipients, TOPdesk)."""
    body = {"event": event, "ticket": ticket}
    rows: list[dict[str, Any]] = []
    for hook in settings.webhooks:
        if hook.events is None or event in hook.events:
            rows.append({"channel": "webhook", "target": hook.url, "state": "pending"})
    for recipients in settings.email:
        if recipients.municipality is None or recipients.municipality == ticket.get("municipality"):
            rows.append({"channel": "email", "target": ",".join(recipients.to), "language": recipients.language,
                         "state": "pending" if recipients.mode == "immediate" else "digest"})
    if settings.topdesk is not None:
        rows.append({"channel": "topdesk", "target": settings.topdesk.url, "state": "pending"})
    for row in rows:
        row.setdefault("language", settings.language)
        row.update(event=event, ticket_id=ticket.get("id"), delivery_id=uuid.uuid4().hex, attempts=0,
                   created_at=now, next_attempt_at=now, payload=body)
    if rows:
        conn.execute(OUTBOX.insert(), rows)
    return len(rows)


def due(conn: Connection, now: datetime, limit: int = 50) -> list[Any]:
    """Pending rows whose time has come, oldest first, and never one whose earlier sibling is unsent.

    A receiver sees a ticket's events in order: a TOPdesk update must not overtake its create.
    """
    o = OUTBOX.c
    earlier = OUTBOX.alias("earlier")
    e = earlier.c
    blocked = sa.exists().where(e.channel == o.channel, e.target == o.target, e.ticket_id == o.ticket_id,
                                e.id < o.id, e.state == "pending")
    return conn.execute(sa.select(OUTBOX).where(o.state == "pending", o.next_attempt_at <= now, ~blocked)
                        .order_by(o.id).limit(limit)).all()


def retry_delay(settings: ControllerSettings, attempts: int) -> float:
    """Exponential backoff with full jitter, capped at an hour."""
    ceiling = min(3600.0, settings.notify_retry_base_s * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def record_sent(conn: Connection, row_id: int, now: datetime) -> None:
    o = OUTBOX.c
    conn.execute(OUTBOX.update().where(o.id == row_id, o.state == "pending")
                 .values(state="sent", sent_at=now, attempts=o.attempts + 1, last_error=None))


def record_failure(conn: Connection, settings: ControllerSettings, row: Any, error: str, now: datetime,
                   *, permanent: bool = False) -> str:
    """Count a failed try: later again with backoff, or dead after notify_max_attempts (or at once)."""
    attempts = row.attempts + 1
    dead = permanent or attempts >= settings.notify_max_attempts
    o = OUTBOX.c
    conn.execute(OUTBOX.update().where(o.id == row.id, o.state == "pending").values(
        attempts=attempts, last_error=error[:500], state="dead" if dead else "pending",
        next_attempt_at=now if dead else now + timedelta(seconds=retry_delay(settings, attempts))))
    return "dead" if dead else "retry"


def counts(conn: Connection) -> dict[tuple[str, str], int]:
    o = OUTBOX.c
    return {(channel, state): n for channel, state, n in
            conn.execute(sa.select(o.channel, o.state, sa.func.count()).group_by(o.channel, o.state))}


def list_notifications(conn: Connection, *, state: str | None, channel: str | None, ticket_id: int | None,
                       limit: int, offset: int, ticket_filter: Any = None) -> tuple[list[dict[str, Any]], int]:
    o = OUTBOX.c
    where = []
    if state:
        where.append(o.state == state)
    if channel:
        where.append(o.channel == channel)
    if ticket_id is not None:
        where.append(o.ticket_id == ticket_id)
    if ticket_filter is not None:
        where.append(ticket_filter)
    total = conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(*where)).scalar_one()
    rows = conn.execute(sa.select(OUTBOX).where(*where).order_by(o.id.desc()).limit(limit).offset(offset)).all()
    items = [{"id": r.id, "channel": r.channel, "target": _redacted_target(r.channel, r.target), "event": r.event,
              "ticket_id": r.ticket_id, "delivery_id": r.delivery_id, "state": r.state, "attempts": r.attempts,
              "created_at": r.created_at, "next_attempt_at": r.next_attempt_at, "sent_at": r.sent_at,
              "last_error": r.last_error} for r in rows]
    return items, total


def _redacted_target(channel: str, target: str) -> str:
    """A webhook URL may carry a token in its query: show only scheme, host and path."""
    if channel != "webhook":
        return target
    from urllib.parse import urlsplit

    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"
