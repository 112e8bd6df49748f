"""Repair cases and the life cycle's steps in a period: counts, warranty share, turnaround, reuse, recycling.

A case belongs to the municipality of its unit (the register's current place); it counts in the
period it was opened, its turnaround (opened → closed, days) in the period it closed. Retired,
reused and recycled units are those whose step's date falls in the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import fmean

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.inventory.models import InventoryUnit, RepairCase
from avfleet.controller.reports.document import PREVIOUS_SUFFIX, Column, Section, Table, Value
from avfleet.controller.reports.indicators import Period, Unit

UNITS = InventoryUnit.__table__
REPAIRS = RepairCase.__table__
P = PREVIOUS_SUFFIX


@dataclass(frozen=True)
class CaseRow:
    unit_id: int
    opened_at: datetime
    closed_at: datetime | None
    under_warranty: bool


def load_cases(conn: Connection, municipality: str | None, period: Period, scope: Scope = COUNTY) -> list[CaseRow]:
    r, u = REPAIRS.c, UNITS.c
    where = [r.opened_at < period.until_utc, sa.or_(r.closed_at.is_(None), r.closed_at >= period.previous().start_utc),
             *scope.clauses(u.municipality)]
    if municipality is not None:
        where.append(u.municipality == municipality)
    rows = conn.execute(sa.select(r.unit_id, r.opened_at, r.closed_at, r.under_warranty)
                        .join(UNITS, u.id == r.unit_id).where(*where))
    return [CaseRow(*row) for row in rows]


def case_figures(cases: list[CaseRow], period: Period) -> dict[str, float | int | None]:
    start, until = period.start_utc, period.until_utc
    opened = [c for c in cases if start <= c.opened_at < until]
    turnaround = [(c.closed_at - c.opened_at).total_seconds() / 86_400 for c in cases
                  if c.closed_at is not None and start <= c.closed_at < until]
    warranty = round(100 * sum(c.under_warranty for c in opened) / len(opened), 1) if opened else None
    return {"cases": len(opened), "under_warranty_pct": warranty,
            "turnaround_days": round(fmean(turnaround), 1) if turnaround else None}


def lifecycle_figures(units: list[Unit], period: Period) -> dict[str, int]:
    def within(day: object) -> bool:
        return day is not None and period.start <= day <= period.as_of  # type: ignore[operator]

    return {"retired": sum(within(u.retired_on) for u in units), "reused": sum(within(u.reused_on) for u in units),
            "recycled": sum(within(u.recycled_on) for u in units)}


def repairs_section(cases: list[CaseRow], units: list[Unit], period: Period, lang: str) -> Section:
    from avfleet.i18n import text

    before = period.previous()
    now = case_figures(cases, period) | lifecycle_figures(units, period)
    then = case_figures(cases, before) | lifecycle_figures(units, before)
    units_of = {"cases": "int", "under_warranty_pct": "percent", "turnaround_days": "days", "retired": "int",
                "reused": "int", "recycled": "int"}
    rows: list[dict[str, Value]] = [
        {"indicator": text(f"report.repairs.{key}", lang), "value": now[key], "value" + P: then[key],
         "unit": "%" if kind == "percent" else text(f"report.unit.{kind}", lang)} for key, kind in units_of.items()]
    columns = (Column("indicator", "report.column.indicator"),
               Column("value", "report.column.value", "float", compare=True), Column("unit", "report.column.unit"))
    return Section("repairs", "report.section.repairs", [
        Table("repairs", "report.repairs.title", columns, rows, note="report.note.repairs"),
    ])
