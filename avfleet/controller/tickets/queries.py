"""Read-only ticket queries shared by the API and the live stream."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.tickets.models import Ticket
from avfleet.controller.tickets.schemas import public_ticket

TICKETS = Ticket.__table__


def ticket_changes(conn: Connection, since: datetime, limit: int = 1000,
                   scope: Scope = COUNTY) -> list[dict[str, Any]]:
    """Tickets changed at or after `since` (the live stream's poll), oldest change first."""
    t = TICKETS.c
    rows = conn.execute(sa.select(TICKETS).where(t.updated_at >= since, *scope.clauses(t.municipality))
                        .order_by(t.updated_at, t.id).limit(limit))
    return [public_ticket(r) for r in rows]
