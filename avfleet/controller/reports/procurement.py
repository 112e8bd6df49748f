"""Evidence for procurement: per device model (manufacturer + model) across the county, what the fleet measured.

A unit-year is one unit in service for a whole year (Unit.service_years), so a model bought in
June weighs half. Faults are hardware tickets (health.FAULT_KINDS) of the devices the register's
units stand behind (agent id and device id); repairs are the cases opened on the model's units.
kWh per unit-year divides the energy of the model's networked units by their unit-years; the basis
says whether it was measured (the device reported watts), rated (profile watts), or mixed.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

from avfleet.controller.reports.document import Column, Section, Table, Value
from avfleet.controller.reports.energy_figures import EnergyYear
from avfleet.controller.reports.health import FAULT_KINDS, TicketRow
from avfleet.controller.reports.indicators import Period, Unit
from avfleet.controller.reports.repairs import CaseRow


def procurement_items(units: list[Unit], tickets: list[TicketRow], cases: list[CaseRow], energy: EnergyYear,
                      period: Period) -> list[dict[str, Any]]:
    by_model: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        if unit.model_name:
            by_model[unit.model_name].append(unit)
    unit_of_device = {(u.agent_id, u.device_id): u for u in units if u.agent_id and u.device_id}
    faults: dict[int, int] = defaultdict(int)
    for t in tickets:
        unit = unit_of_device.get((t.agent_id, t.device_id))
        if unit is not None and t.kind in FAULT_KINDS and period.start_utc <= t.opened_at < period.until_utc:
            faults[unit.id] += 1
    opened = [c for c in cases if period.start_utc <= c.opened_at < period.until_utc]
    out = []
    for model, group in sorted(by_model.items()):
        years = {u.id: u.service_years(period) for u in group}
        unit_years = sum(years.values())
        serving = [u for u in group if u.in_service(period.as_of)]
        if not serving and unit_years == 0:
            continue
        ages = [a for u in serving if (a := u.age_years(period.as_of)) is not None]
        ids = {u.id for u in group}
        model_cases = [c for c in opened if c.unit_id in ids]
        metered = [(energy.devices[(u.agent_id, u.device_id)], years[u.id]) for u in group
                   if (u.agent_id, u.device_id) in energy.devices]
        metered_years = sum(y for _, y in metered)
        bases = {d["basis"] for d, _ in metered}
        out.append({
            "model": model, "units": len(serving), "unit_years": round(unit_years, 2),
            "mean_age_years": round(fmean(ages), 2) if ages else None,
            "faults_per_unit_year": round(sum(faults[i] for i in ids) / unit_years, 3) if unit_years else None,
            "repairs_per_unit_year": round(len(model_cases) / unit_years, 3) if unit_years else None,
            "repaired_under_warranty_pct": round(100 * sum(c.under_warranty for c in model_cases) / len(model_cases), 1)
            if model_cases else None,
            "kwh_per_unit_year": round(sum(d["kwh"] for d, _ in metered) / metered_years, 1) if metered_years else None,
            "basis": (bases.pop() if len(bases) == 1 else "mixed") if bases else None,
        })
    return out


def procurement_answer(items: list[dict[str, Any]], year: int) -> dict[str, Any]:
    return {"year": year, "items": items}


def procurement_section(items: list[dict[str, Any]], lang: str) -> Section:
    from avfleet.i18n import text

    columns = (Column("model", "report.column.model"), Column("units", "report.column.units", "int"),
               Column("unit_years", "report.procurement.unit_years", "float"),
               Column("mean_age_years", "report.equity.mean_age_years", "float"),
               Column("faults_per_unit_year", "report.procurement.faults_per_unit_year", "float"),
               Column("repairs_per_unit_year", "report.procurement.repairs_per_unit_year", "float"),
               Column("repaired_under_warranty_pct", "report.procurement.repaired_under_warranty_pct", "float"),
               Column("kwh_per_unit_year", "report.procurement.kwh_per_unit_year", "kwh"),
               Column("basis", "report.procurement.basis"))
    rows: list[dict[str, Value]] = [
        {**i, "basis": text(f"report.basis.{i['basis']}", lang) if i["basis"] else None} for i in items]
    return Section("procurement", "report.section.procurement", [
        Table("procurement", "report.procurement.title", columns, rows, note="report.note.procurement"),
    ])
