"""Health indicators from the tickets (open, opened, mean time to repair) and lamps and filters due.

Tickets are placed by their own municipality column (where the device stood when the ticket
opened). A ticket counts as repaired when it was resolved (or closed without a resolve); mean time
to repair is opened → resolved in hours, over the tickets resolved within the period. Faults per
device (equity, procurement) count the hardware kinds only (FAULT_KINDS), not reachability.

Lamps and filters due reuse the tickets' forecast (tickets/rules.py `forecast_date`, the profile's
rated life through TicketService.rated_life) with the hours a day the energy roll-up measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.reports.document import PREVIOUS_SUFFIX, Column, Section, Table, Value
from avfleet.controller.reports.indicators import Period, Unit, kind_label
from avfleet.controller.tickets.models import Ticket

TICKETS = Ticket.__table__
DEVICES = Device.__table__
AGENTS = Agent.__table__
P = PREVIOUS_SUFFIX
FAULT_KINDS = ("lamp", "fan", "temperature", "cover", "filter", "other")
DUE_HORIZON_DAYS = 365  # lamps and filters forecast within this many days are listed
TREND_DAYS = 30  # the hours a day of the last this many days (as tickets/context.py)


@dataclass(frozen=True)
class TicketRow:
    kind: str
    municipality: str | None
    agent_id: str
    device_id: str | None
    opened_at: datetime
    repaired_at: datetime | None


def load_tickets(conn: Connection, municipality: str | None, period: Period, scope: Scope = COUNTY) -> list[TicketRow]:
    """Tickets that matter to the period or the one before: opened before its end, not repaired before."""
    t = TICKETS.c
    earliest = period.previous().start_utc
    repaired = sa.func.coalesce(t.resolved_at, t.closed_at)
    where = [t.opened_at < period.until_utc, sa.or_(repaired.is_(None), repaired >= earliest),
             *scope.clauses(t.municipality)]
    if municipality is not None:
        where.append(t.municipality == municipality)
    rows = conn.execute(sa.select(t.kind, t.municipality, t.agent_id, t.device_id, t.opened_at,
                                  repaired.label("repaired_at")).where(*where))
    return [TicketRow(*r) for r in rows]


def ticket_figures(tickets: list[TicketRow], period: Period) -> dict[str, float | int | None]:
    start, until = period.start_utc, period.until_utc
    open_at_end = sum(1 for t in tickets if t.opened_at < until and (t.repaired_at is None or t.repaired_at >= until))
    opened = [t for t in tickets if start <= t.opened_at < until]
    repaired = [(t.repaired_at - t.opened_at).total_seconds() / 3600 for t in tickets
                if t.repaired_at is not None and start <= t.repaired_at < until]
    faults = sum(1 for t in opened if t.kind in FAULT_KINDS)
    return {"open_at_end": open_at_end, "opened": len(opened), "faults": faults, "repaired": len(repaired),
            "mttr_h": round(fmean(repaired), 2) if repaired else None}


def health_section(tickets: list[TicketRow], availability: tuple[float | None, float | None], period: Period,
                   lang: str) -> Section:
    from avfleet.i18n import text

    now, then = ticket_figures(tickets, period), ticket_figures(tickets, period.previous())
    rows: list[dict[str, Value]] = []
    for key, kind in (("open_at_end", "int"), ("opened", "int"), ("faults", "int"), ("repaired", "int"),
                      ("mttr_h", "hours")):
        rows.append({"indicator": text(f"report.health.{key}", lang), "value": now[key], "value" + P: then[key],
                     "unit": text(f"report.unit.{kind}", lang)})
    rows.append({"indicator": text("report.health.availability", lang),
                 "value": availability[0], "value" + P: availability[1], "unit": "%"})
    columns = (Column("indicator", "report.column.indicator"), Column("value", "report.column.value", "float",
                                                                       compare=True),
               Column("unit", "report.column.unit"))
    return Section("health", "report.section.health", [
        Table("health", "report.health.title", columns, rows, note="report.note.health",
              note_values={"date": period.as_of}),
    ])


def due_units(conn: Connection, units: list[Unit], today: date, tickets: Any) -> list[dict[str, Any]]:
    """Lamps and filters whose forecast replacement date is known, soonest first (the units behind devices).

    `tickets` is a TicketService (its rated_life, from the device's profile); the hours a day are the
    device's lit hours over the last TREND_DAYS finished days as the energy roll-up counted them
    (energy_daily.hours_on, from the same transitions as tickets/context.py `daily_on_hours`, read
    for every device in one query instead of two per device).
    """
    from avfleet.controller.energy.models import EnergyDay
    from avfleet.controller.tickets.rules import forecast_date
    from avfleet.protocols.status import Identity

    placed = {(u.agent_id, u.device_id): u for u in units if u.agent_id and u.device_id and u.in_service(today)}
    if not placed:
        return []
    d, e = DEVICES.c, EnergyDay.__table__.c
    agents = sorted({a for a, _ in placed})
    rows, trend = [], {}
    for i in range(0, len(agents), 500):
        chunk = agents[i:i + 500]
        rows += conn.execute(sa.select(d.agent_id, d.device_id, d.status).where(d.agent_id.in_(chunk))).all()
        trend.update({(r.agent_id, r.device_id): r.hours / r.days for r in conn.execute(
            sa.select(e.agent_id, e.device_id, sa.func.sum(e.hours_on).label("hours"),
                      sa.func.count().label("days"))
            .where(e.day >= today - timedelta(days=TREND_DAYS), e.day < today, e.agent_id.in_(chunk))
            .group_by(e.agent_id, e.device_id))})
    out = []
    for row in rows:
        unit = placed.get((row.agent_id, row.device_id))
        status = row.status or {}
        lamps = status.get("lamps") or []
        lamp_h = max((lamp.get("hours", 0) for lamp in lamps), default=None)
        filter_h = status.get("filter_hours")
        if unit is None or (lamp_h is None and filter_h is None):
            continue
        identity = {k: v for k, v in (status.get("identity") or {}).items() if k in Identity.model_fields}
        # rated_life reads only the identity of a status.
        life = tickets.rated_life(SimpleNamespace(identity=Identity(**identity)))
        daily = trend.get((row.agent_id, row.device_id))
        for part, hours, rated in (("lamp", lamp_h, life.lamp_h), ("filter", filter_h, life.filter_h)):
            when = forecast_date(hours, rated, daily, today)
            if when is not None and (when - today).days <= DUE_HORIZON_DAYS:
                out.append({"forecast": when, "part": part, "hours": hours, "rated": rated,
                            "daily": round(daily, 2) if daily is not None else None, "unit": unit})
    out.sort(key=lambda x: (x["forecast"], x["unit"].id, x["part"]))
    return out


def service_life_section(due: list[dict[str, Any]], lang: str) -> Section:
    from avfleet.i18n import text

    rows: list[dict[str, Value]] = [
        {"forecast": x["forecast"], "part": text(f"report.part.{x['part']}", lang), "school": x["unit"].school,
         "kind": kind_label(x["unit"].kind, lang), "model": x["unit"].model_name, "serial": x["unit"].serial,
         "hours": x["hours"], "rated": x["rated"], "daily": x["daily"]} for x in due]
    columns = (Column("forecast", "report.column.forecast", "date"), Column("part", "report.column.part"),
               Column("school", "report.column.school"), Column("kind", "report.column.kind"),
               Column("model", "report.column.model"), Column("serial", "report.column.serial"),
               Column("hours", "report.column.hours_used", "int"), Column("rated", "report.column.rated_life", "int"),
               Column("daily", "report.column.daily_hours", "hours"))
    return Section("service_life", "report.section.service_life", [
        Table("due", "report.service_life.due", columns, rows, note="report.note.service_life",
              note_values={"days": DUE_HORIZON_DAYS}),
    ])
