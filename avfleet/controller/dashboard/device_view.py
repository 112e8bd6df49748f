"""What the device page shows, from the services the API uses for the same things.

Status and history: fleet/queries.device_detail (the /devices/{id} answer, scoped: NotFound outside
the caller's municipalities). Lamp and filter hours against rated life with the forecast date:
tickets/context.device_context (what a ticket carries). Tickets: the tickets table by the device's
pair. Energy: the energy service's daily figures for the last 30 days (today so far), handed to the chart script
as JSON in a data attribute (no inline script under the CSP).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.engine import Connection

from avfleet.controller.api.context import ApiContext
from avfleet.controller.auth.principal import Scope
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.fleet import queries
from avfleet.controller.tickets.context import device_context
from avfleet.controller.tickets.models import Ticket
from avfleet.controller.tickets.rules import RatedLife
from avfleet.controller.tickets.service import TicketService
from avfleet.i18n import STOCKHOLM
from avfleet.protocols.status import DeviceStatus

TICKETS = Ticket.__table__
HISTORY_SHOWN = 50
ENERGY_DAYS = 30


def energy_service(request: Request, ctx: ApiContext) -> EnergyService:
    # One per app, shared with /api/v1/energy (its profile library takes most of a second to load).
    service = getattr(request.app.state, "energy_service", None)
    if service is None:
        service = request.app.state.energy_service = EnergyService(ctx.settings)
    return service


def ticket_service(request: Request, ctx: ApiContext) -> TicketService:
    service = getattr(request.app.state, "dashboard_ticket_service", None)
    if service is None:
        service = request.app.state.dashboard_ticket_service = TicketService(ctx.settings)
    return service


def _rated_life(tickets: TicketService, status: dict[str, Any] | None) -> RatedLife:
    if not status:
        return RatedLife()
    try:
        return tickets.rated_life(DeviceStatus.model_validate(status))
    except ValueError:  # a status the current model no longer reads: no rated life rather than no page
        return RatedLife()


def device_tickets(conn: Connection, agent_id: str, device_id: str, scope: Scope, limit: int = 20) -> list[Any]:
    t = TICKETS.c
    return conn.execute(sa.select(t.id, t.kind, t.severity, t.state, t.title, t.opened_at, t.updated_at)
                        .where(t.agent_id == agent_id, t.device_id == device_id, *scope.clauses(t.municipality))
                        .order_by(t.updated_at.desc()).limit(limit)).all()


def daily_series(items: list[dict[str, Any]], first: date, last: date) -> dict[str, list]:
    """Every day of [first, last] for the chart (null where no figures), so the axis always spans the period."""
    by_day = {e["period"]: e for e in items}
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    return {"days": days, "kwh": [by_day[d]["kwh"] if d in by_day else None for d in days],
            "left_on": [by_day[d]["kwh_left_on"] if d in by_day else None for d in days]}


def device_page(request: Request, ctx: ApiContext, conn: Connection, agent_id: str, device_id: str,
                scope: Scope, now: datetime) -> dict[str, Any]:
    detail = queries.device_detail(conn, device_id, agent_id, HISTORY_SHOWN, scope)
    life = _rated_life(ticket_service(request, ctx), detail["status"])
    context = device_context(conn, agent_id, device_id, life, now, ctx.settings.dashboard_url())
    # Today included: its figures come from this device's history alone (energy/rollup.load_history
    # names the devices asked for), tens of milliseconds at 50,000 devices; finished days are the
    # roll-up's stored rows.
    last = now.astimezone(STOCKHOLM).date()
    first = last - timedelta(days=ENERGY_DAYS - 1)
    energy = energy_service(request, ctx).items(conn, EnergyQuery(
        "device", first, last, "day", agent_id=agent_id, device_id=device_id, scope=scope), now)
    series = daily_series(energy, first, last)
    return {"device": detail, "context": context, "tickets": device_tickets(conn, agent_id, device_id, scope),
            "energy_json": json.dumps(series), "energy_total": round(sum(e["kwh"] for e in energy), 2)}
