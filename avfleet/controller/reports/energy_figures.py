"""Energy for reports, from the energy domain's answers (EnergyService) and the schedules' runs.

Per device and year (`level=device, group=year`) gives kWh, left-on hours and coverage for every
device; per month (`group=month`) the chart. Availability is the mean over devices of their
coverage: the share of the period each device answered `online` with a known power state (and
watts known for it), as the energy roll-up measured it (docs/energy.md). kWh saved by schedules is
each finished run's `kwh_saved`, split over municipalities by the devices it powered off.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.fleet.models import Agent
from avfleet.controller.reports.document import PREVIOUS_SUFFIX, Chart, Column, Section, Series, Table, Value
from avfleet.controller.reports.indicators import Period
from avfleet.controller.schedules.models import ScheduleRun

RUNS = ScheduleRun.__table__
AGENTS = Agent.__table__
P = PREVIOUS_SUFFIX


@dataclass
class EnergyYear:
    """One period's energy: per device (agent_id, device_id) and per month."""

    devices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    months: dict[int, float] = field(default_factory=dict)  # month → kWh
    factor: dict[str, Any] = field(default_factory=dict)

    def total(self, name: str, municipality: str | None = None) -> float:
        return sum(d[name] for d in self.devices.values() if municipality is None or d["municipality"] == municipality)

    def availability(self, municipality: str | None = None) -> float | None:
        values = [d["coverage"] for d in self.devices.values()
                  if municipality is None or d["municipality"] == municipality]
        return round(100 * fmean(values), 1) if values else None

    def device_count(self, municipality: str | None = None) -> int:
        return sum(1 for d in self.devices.values() if municipality is None or d["municipality"] == municipality)


def energy_year(conn: Connection, service: Any, municipality: str | None, period: Period, now: datetime,
                scope: Scope = COUNTY) -> EnergyYear:
    from avfleet.controller.energy.service import EnergyQuery

    out = EnergyYear(factor=service.factor(period.year))
    level = "municipality" if municipality is not None else "county"
    for item in service.items(conn, EnergyQuery("device", period.start, period.as_of, "year", municipality,
                                                scope=scope), now):
        key = (item["agent_id"], item["device_id"])
        found = out.devices.get(key)
        if found is None:
            out.devices[key] = dict(item)
        else:  # a device that moved: its figures add up, its place is the last one
            for name in ("kwh", "hours_left_on", "hours_on"):
                found[name] += item[name]
            found["coverage"] = max(found["coverage"], item["coverage"])
    for item in service.items(conn, EnergyQuery(level, period.start, period.as_of, "month", municipality,
                                                scope=scope), now):
        out.months[int(item["period"][5:7])] = out.months.get(int(item["period"][5:7]), 0.0) + item["kwh"]
    return out


def kwh_saved(conn: Connection, period: Period, scope: Scope = COUNTY) -> dict[str | None, float]:
    """kWh saved by the schedule runs started in the period, per municipality (None: the county's total)."""
    r = RUNS.c
    runs = conn.execute(sa.select(r.kwh_saved, r.results).where(
        r.state == "finished", r.started_at >= period.start_utc, r.started_at < period.until_utc,
        r.kwh_saved > 0)).all()
    places = {a: m for a, m in conn.execute(sa.select(AGENTS.c.agent_id, AGENTS.c.municipality))}
    out: dict[str | None, float] = defaultdict(float)
    for run in runs:
        off = Counter(places.get(x.get("agent_id")) for x in run.results or [] if x.get("result") == "powered_off")
        n = sum(off.values())
        if not n:
            continue
        for municipality, count in off.items():
            if scope.allows(municipality):
                out[municipality] += run.kwh_saved * count / n
                out[None] += run.kwh_saved * count / n
    return out


def energy_section(now: EnergyYear, then: EnergyYear, saved: tuple[float, float], period: Period,
                   lang: str) -> Section:
    from avfleet.i18n import text

    def co2e(e: EnergyYear) -> float:
        return round(e.total("kwh") * e.factor["g_co2e_per_kwh"] / 1000, 1)

    figures = [("kwh", round(now.total("kwh"), 1), round(then.total("kwh"), 1), "kwh"),
               ("co2e_kg", co2e(now), co2e(then), "kg"),
               ("hours_left_on", round(now.total("hours_left_on"), 1), round(then.total("hours_left_on"), 1), "hours"),
               ("kwh_saved", round(saved[0], 1), round(saved[1], 1), "kwh"),
               ("devices", now.device_count(), then.device_count(), "int")]
    rows: list[dict[str, Value]] = [
        {"indicator": text(f"report.energy.{key}", lang), "value": a, "value" + P: b,
         "unit": text(f"report.unit.{unit}", lang)} for key, a, b, unit in figures]
    months = list(range(1, 13))
    month_rows: list[dict[str, Value]] = [
        {"month": f"{period.year}-{m:02d}", "kwh": round(now.months[m], 1) if m in now.months else None,
         "kwh" + P: round(then.months[m], 1) if m in then.months else None} for m in months]
    columns = (Column("indicator", "report.column.indicator"),
               Column("value", "report.column.value", "float", compare=True), Column("unit", "report.column.unit"))
    chart = Chart("kwh_per_month", "report.chart.kwh_per_month", "line", [f"{m:02d}" for m in months],
                  [Series(str(period.year), [now.months.get(m) for m in months], literal=True),
                   Series(str(period.year - 1), [then.months.get(m) for m in months], literal=True)],
                  unit="report.unit.kwh")
    return Section("energy", "report.section.energy", [
        Table("energy", "report.energy.title", columns, rows, note="report.note.energy",
              note_values={"factor": now.factor["g_co2e_per_kwh"], "source": now.factor["source"]}),
        Table("per_month", "report.energy.per_month",
              (Column("month", "report.column.month"), Column("kwh", "report.column.kwh", "kwh", compare=True)),
              month_rows),
    ], [chart])
