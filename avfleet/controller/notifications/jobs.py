"""Periodic work of the outbox: send what is due, and put together the daily digests."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.jobs.runner import Job
from avfleet.controller.notifications import channels, service
from avfleet.controller.notifications.models import Notification
from avfleet.controller.settings import ControllerSettings
from avfleet.i18n import STOCKHOLM
from avfleet.protocols.status import utc_now

log = logging.getLogger("avfleet.controller.notifications")
OUTBOX = Notification.__table__


def deliver_due(engine: Engine, settings: ControllerSettings, now: datetime) -> dict[str, int]:
    """Send every due row once; record each result in its own transaction. Counts by outcome."""
    with engine.connect() as conn:
        rows = service.due(conn, now)
    outcome = {"sent": 0, "retry": 0, "dead": 0}
    topdesk: channels.TopdeskClient | None = None
    try:
        for row in rows:
            try:
                if row.channel == "webhook":
                    channels.send_webhook(settings, row)
                elif row.channel == "email":
                    channels.send_email(settings, row)
                elif row.channel == "topdesk":
                    if settings.topdesk is None:
                        raise channels.DeliveryFailed("topdesk is no longer configured", permanent=True)
                    topdesk = topdesk or channels.TopdeskClient(settings.topdesk)
                    _deliver_topdesk(engine, settings, topdesk, row)
                else:
                    raise channels.DeliveryFailed(f"unknown channel {row.channel!r}", permanent=True)
            except channels.DeliveryFailed as exc:
                with write_transaction(engine) as conn:
                    result = service.record_failure(conn, settings, row, str(exc), utc_now(),
                                                    permanent=exc.permanent)
                outcome[result] += 1
                log.warning("notification %s (%s, ticket %s) not delivered: %s%s", row.id, row.channel,
                            row.ticket_id, exc, "; giving up" if result == "dead" else "")
                continue
            with write_transaction(engine) as conn:
                service.record_sent(conn, row.id, utc_now())
            outcome["sent"] += 1
    finally:
        if topdesk is not None:
            topdesk.close()
    return outcome


def _deliver_topdesk(engine: Engine, settings: ControllerSettings, client: channels.TopdeskClient, row: Any) -> None:
    from avfleet.controller.tickets.models import Ticket

    tickets = Ticket.__table__
    ticket = row.payload["ticket"]
    with engine.connect() as conn:
        incident_id = conn.execute(sa.select(tickets.c.topdesk_incident_id)
                                   .where(tickets.c.id == row.ticket_id)).scalar()
    if incident_id is None:
        # A crash between TOPdesk's answer and our record must not make a second incident: ask first.
        found = client.find_by_external_number(channels.external_number(row.ticket_id))
        if found is None:
            created = client.create(channels.topdesk_body(settings.topdesk, row.event, ticket, row.language,
                                                          create=True))
            _store_incident(engine, row.ticket_id, created)
            return
        _store_incident(engine, row.ticket_id, found)
        incident_id = found["id"]
    client.update(incident_id, channels.topdesk_body(settings.topdesk, row.event, ticket, row.language,
                                                     create=False))


def _store_incident(engine: Engine, ticket_id: int, incident: dict[str, Any]) -> None:
    from avfleet.controller.tickets.models import Ticket

    tickets = Ticket.__table__
    with write_transaction(engine) as conn:
        conn.execute(tickets.update().where(tickets.c.id == ticket_id).values(
            topdesk_incident_id=str(incident.get("id")), topdesk_incident_number=incident.get("number")))


def build_digests(engine: Engine, settings: ControllerSettings, now: datetime) -> int:
    """Once a day per recipient list, after its digest_at: one e-mail with the day's ticket events."""
    local = now.astimezone(STOCKHOLM)
    made = 0
    for recipients in settings.email:
        if recipients.mode != "digest" or local.strftime("%H:%M") < recipients.digest_at:
            continue
        target = ",".join(recipients.to)
        day = local.date().isoformat()
        delivery_id = "digest-" + hashlib.sha256(f"{target}|{day}".encode()).hexdigest()[:40]
        o = OUTBOX.c
        with write_transaction(engine) as conn:
            if conn.execute(sa.select(o.id).where(o.delivery_id == delivery_id)).first():
                continue
            waiting = conn.execute(sa.select(o.id, o.payload).where(o.channel == "email", o.target == target,
                                                                     o.state == "digest").order_by(o.id)).all()
            if not waiting:
                continue
            conn.execute(OUTBOX.insert().values(
                channel="email", target=target, event="digest", ticket_id=None, delivery_id=delivery_id,
                state="pending", attempts=0, created_at=now, next_attempt_at=now, language=recipients.language,
                payload={"day": day, "items": [r.payload for r in waiting]}))
            conn.execute(OUTBOX.update().where(o.id.in_([r.id for r in waiting]))
                         .values(state="sent", sent_at=now, last_error="in the daily digest"))
            made += 1
    return made


def jobs(settings: ControllerSettings) -> list[Job]:
    return [
        Job("notifications.deliver", 1.0, lambda engine, now: deliver_due(engine, settings, now)),
        Job("notifications.digest", 60.0, lambda engine, now: build_digests(engine, settings, now)),
    ]
