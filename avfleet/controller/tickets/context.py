"""Everything a technician needs inside a ticket: place, identity, address, hours against rated life,
forecast, warranty, first and last seen, and a link to the device's page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.fleet.models import Agent, Device, DeviceTransition
from avfleet.controller.tickets.rules import RatedLife, forecast_date
from avfleet.i18n import STOCKHOLM

AGENTS = Agent.__table__
DEVICES = Device.__table__
HISTORY = DeviceTransition.__table__
LIT = ("on", "warming", "cooling")  # the lamp burns, and the filter breathes, in these states


def place_of(conn: Connection, agent_id: str) -> dict[str, Any]:
    a = AGENTS.c
    row = conn.execute(sa.select(a.municipality, a.school, a.room, a.configured_devices, a.state, a.last_seen)
                       .where(a.agent_id == agent_id)).first()
    if row is None:
        return {"municipality": None, "school": None, "room": None, "configured": [], "state": None}
    return {"municipality": row.municipality, "school": row.school, "room": row.room,
            "configured": row.configured_devices or [], "state": row.state, "last_seen": row.last_seen}


def daily_on_hours(conn: Connection, device_pk: int, now: datetime, days: int = 30) -> float | None:
    """Average hours a day in a lit state over the last `days` days, from the transition history."""
    h = HISTORY.c
    start = now - timedelta(days=days)
    before = conn.execute(sa.select(h.power, h.observed_at).where(h.device_pk == device_pk, h.observed_at < start)
                          .order_by(h.observed_at.desc()).limit(1)).first()
    rows = conn.execute(sa.select(h.power, h.observed_at).where(h.device_pk == device_pk, h.observed_at >= start,
                                                                h.observed_at <= now)
                        .order_by(h.observed_at, h.id)).all()
    if before is None and not rows:
        return None
    first_at = start if before is not None else rows[0].observed_at
    power = before.power if before is not None else None
    cursor = first_at
    lit = 0.0
    for row in rows:
        if power in LIT:
            lit += (row.observed_at - cursor).total_seconds()
        power, cursor = row.power, max(cursor, row.observed_at)
    if power in LIT:
        lit += (now - cursor).total_seconds()
    span_days = max((now - first_at).total_seconds() / 86_400, 1.0)
    return lit / 3600 / span_days


def device_context(conn: Connection, agent_id: str, device_id: str | None, life: RatedLife, now: datetime,
                   dashboard_url: str, place: dict[str, Any] | None = None) -> dict[str, Any]:
    place = place if place is not None else place_of(conn, agent_id)
    context: dict[str, Any] = {
        "municipality": place["municipality"], "school": place["school"], "room": place["room"],
        "device_kind": None, "manufacturer": None, "model": None, "serial": None, "firmware": None,
        "address": None, "lamp_hours": None, "lamp_life_h": life.lamp_h, "filter_hours": None,
        "filter_life_h": life.filter_h, "forecast_date": None, "warranty_end": None, "warranty": None,
        "flags": {}, "first_seen": None, "last_seen": None, "availability": None, "power": None,
        "link": f"{dashboard_url.rstrip('/')}/#device/{agent_id}/{device_id}" if device_id else
        f"{dashboard_url.rstrip('/')}/#agent/{agent_id}",
    }
    if device_id is None:
        return context
    for configured in place["configured"]:
        if configured.get("id") == device_id:
            port = configured.get("port")
            context["address"] = f"{configured.get('host')}:{port}" if port else configured.get("host")
    d = DEVICES.c
    row = conn.execute(sa.select(d.id, d.kind, d.status, d.observed_at, d.availability, d.power)
                       .where(d.agent_id == agent_id, d.device_id == device_id)).first()
    if row is None:
        return context
    status = row.status or {}
    identity = status.get("identity") or {}
    lamps = status.get("lamps") or []
    context.update(
        device_kind=row.kind, manufacturer=identity.get("manufacturer"), model=identity.get("model"),
        serial=identity.get("serial"), firmware=identity.get("firmware"),
        lamp_hours=max((lamp.get("hours", 0) for lamp in lamps), default=None),
        filter_hours=status.get("filter_hours"), flags=status.get("faults") or {},
        last_seen=row.observed_at.isoformat() if row.observed_at else None,
        availability=row.availability, power=row.power,
    )
    first = _first_seen(conn, row.id)
    context["first_seen"] = first.isoformat() if first else None
    today = now.astimezone(STOCKHOLM).date()
    if life.lamp_h or life.filter_h:
        daily = daily_on_hours(conn, row.id, now)
        dates = [x for x in (forecast_date(context["lamp_hours"], life.lamp_h, daily, today),
                             forecast_date(context["filter_hours"], life.filter_h, daily, today)) if x]
        context["forecast_date"] = min(dates).isoformat() if dates else None
        context["daily_on_hours"] = round(daily, 2) if daily is not None else None
    context.update(_warranty(conn, agent_id, device_id, today))
    return context


def _first_seen(conn: Connection, device_pk: int) -> datetime | None:
    h = HISTORY.c
    return conn.execute(sa.select(sa.func.min(h.observed_at)).where(h.device_pk == device_pk)).scalar()


def _warranty(conn: Connection, agent_id: str, device_id: str, today: Any) -> dict[str, Any]:
    """Warranty end and status from the inventory record, when the inventory knows one."""
    from avfleet.controller.models import metadata

    table = metadata().tables.get("inventory")
    if table is None or "warranty_end" not in table.c:
        return {"warranty_end": None, "warranty": None}
    c = table.c
    end = conn.execute(sa.select(c.warranty_end).where(c.agent_id == agent_id, c.device_id == device_id)
                       .limit(1)).scalar()
    if end is None:
        return {"warranty_end": None, "warranty": None}
    return {"warranty_end": end.isoformat(), "warranty": "active" if end >= today else "expired"}
