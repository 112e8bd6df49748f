"""The equity view ("likvärdighet"): the same indicators side by side per municipality, with their median.

Per municipality, at the end of the period (or for the period): devices per school (units in
service / schools with one), mean age in years, share of units past their warranty (of those with
a known end), availability (energy coverage, energy_figures.py), faults per device (hardware
tickets opened / units in service), kWh and left-on hours per networked device. The median is over
the municipalities listed, so a caller limited to municipalities gets the median of its own.
"""

from __future__ import annotations

from statistics import fmean, median
from typing import Any

from avfleet.controller.reports.document import Chart, Column, Section, Series, Table, Value
from avfleet.controller.reports.energy_figures import EnergyYear
from avfleet.controller.reports.health import FAULT_KINDS, TicketRow
from avfleet.controller.reports.indicators import Period, Unit

INDICATORS = ("devices_per_school", "mean_age_years", "past_warranty_pct", "availability_pct", "faults_per_device",
              "kwh_per_device", "left_on_hours_per_device")


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def equity_items(units: list[Unit], tickets: list[TicketRow], energy: EnergyYear,
                 period: Period) -> list[dict[str, Any]]:
    day = period.as_of
    names = sorted({u.municipality for u in units})
    out = []
    for name in names:
        serving = [u for u in units if u.municipality == name and u.in_service(day)]
        schools = {u.school for u in serving}
        ages = [a for u in serving if (a := u.age_years(day)) is not None]
        known = [u for u in serving if u.warranty_end is not None]
        faults = sum(1 for t in tickets if t.municipality == name and t.kind in FAULT_KINDS
                     and period.start_utc <= t.opened_at < period.until_utc)
        devices = energy.device_count(name)
        out.append({
            "municipality": name, "units": len(serving), "schools": len(schools),
            "devices_per_school": _round(len(serving) / len(schools)) if schools else None,
            "mean_age_years": _round(fmean(ages)) if ages else None,
            "past_warranty_pct": _round(100 * sum(u.warranty_end < day for u in known) / len(known), 1)  # type: ignore[operator]
            if known else None,
            "availability_pct": energy.availability(name),
            "faults_per_device": _round(faults / len(serving), 3) if serving else None,
            "kwh_per_device": _round(energy.total("kwh", name) / devices, 1) if devices else None,
            "left_on_hours_per_device": _round(energy.total("hours_left_on", name) / devices, 1) if devices else None,
        })
    return out


def medians(items: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in INDICATORS:
        values = [i[key] for i in items if i[key] is not None]
        out[key] = _round(median(values), 3) if values else None
    return out


def equity_answer(items: list[dict[str, Any]], year: int) -> dict[str, Any]:
    return {"year": year, "items": items, "median": medians(items)}


def equity_section(items: list[dict[str, Any]], lang: str) -> Section:
    from avfleet.i18n import text

    kinds = {"devices_per_school": "float", "mean_age_years": "float", "past_warranty_pct": "float",
             "availability_pct": "float", "faults_per_device": "float", "kwh_per_device": "kwh",
             "left_on_hours_per_device": "hours"}
    columns = (Column("municipality", "report.column.municipality"), Column("units", "report.column.units", "int"),
               *(Column(key, f"report.equity.{key}", kind) for key, kind in kinds.items()))  # type: ignore[arg-type]
    middle = medians(items)
    rows: list[dict[str, Value]] = [dict(i) for i in items]
    rows.append({"municipality": text("report.value.median", lang), "units": None, **middle})
    chart = Chart("equity_availability", "report.chart.equity_availability", "barh",
                  [i["municipality"] for i in items],
                  [Series("report.equity.availability_pct", [i["availability_pct"] for i in items])],
                  unit="report.unit.percent", reference=middle["availability_pct"],
                  reference_label="report.value.median")
    chart_devices = Chart("equity_devices_per_school", "report.chart.equity_devices_per_school", "barh",
                          [i["municipality"] for i in items],
                          [Series("report.equity.devices_per_school", [i["devices_per_school"] for i in items])],
                          unit="report.unit.units", reference=middle["devices_per_school"],
                          reference_label="report.value.median")
    return Section("equity", "report.section.equity", [
        Table("equity", "report.equity.title", columns, rows, note="report.note.equity"),
    ], [chart, chart_devices])
