"""Prometheus figures of tickets and the notification outbox, read from the database at scrape time
(so every controller process reports the county's figures, not only what it handled itself)."""

from __future__ import annotations

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Connection

from avfleet.controller.notifications import service as outbox
from avfleet.controller.tickets.models import ACTIVE_STATES, KINDS, Ticket


class _Snapshot:
    def __init__(self, open_by_kind: dict[tuple[str, str], int], outbox_counts: dict[tuple[str, str], int]) -> None:
        self.open_by_kind = open_by_kind
        self.outbox_counts = outbox_counts

    def collect(self):  # the prometheus_client collector protocol
        tickets = GaugeMetricFamily("avfleet_tickets_open", "Open or acknowledged tickets", labels=["kind", "severity"])
        for kind in KINDS:
            for severity in ("warning", "error"):
                tickets.add_metric([kind, severity], self.open_by_kind.get((kind, severity), 0))
        yield tickets
        notes = GaugeMetricFamily("avfleet_notifications", "Notification outbox rows", labels=["channel", "state"])
        for (channel, state), n in sorted(self.outbox_counts.items()):
            notes.add_metric([channel, state], n)
        yield notes


def exposition(conn: Connection) -> bytes:
    t = Ticket.__table__.c
    open_by_kind = {(k, s): n for k, s, n in conn.execute(
        sa.select(t.kind, t.severity, sa.func.count()).where(t.state.in_(ACTIVE_STATES)).group_by(t.kind, t.severity))}
    registry = CollectorRegistry()
    registry.register(_Snapshot(open_by_kind, outbox.counts(conn)))
    return generate_latest(registry)
