"""Energy for reports, from the energy domain's answers (EnergyService) and the schedules' runs.

Per device and year (`level=device, group=year`) gives kWh, left-on hours and coverage for every
device; per month (`group=month`) the chart. Availability is the mean over devices of their
coverage: the share of the period each device answered `online` with a known power state (and
watts known for it), as the energy roll-up measured it (docs/energy.md). kWh saved by schedules is
each finished run's `kwh_saved`, split over municipalities by the devices it powered off (once per run,
into report_run_savings, by the reports.savings job).
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
from avfleet.controller.reports.models import RunSaving
from avfleet.controller.schedules.models import ScheduleRun

RUNS = ScheduleRun.__table__
SAVINGS = RunSaving.__table__
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


def split_run(kwh: float, results: list[dict[str, Any]] | None,
              places: dict[str, str | None]) -> dict[str, tuple[int, float]]:
    """A run's kWh saved shared out by the municipalities of the devices it powered off: {name: (devices, kWh)}."""
    off = Counter(places.get(x.get("agent_id")) or "" for x in results or [] if x.get("result") == "powered_off")
    total = sum(off.values())
    return {name: (n, kwh * n / total) for name, n in off.items()} if total else {}


def agent_places(conn: Connection) -> dict[str, str | None]:
    return {a: m for a, m in conn.execute(sa.select(AGENTS.c.agent_id, AGENTS.c.municipality))}


def unsplit_runs(conn: Connection, where: list[Any], limit: int | None = None) -> list[Any]:
    """Finished runs with savings that report_run_savings does not hold yet (their results read)."""
    r, s = RUNS.c, SAVINGS.c
    query = (sa.select(r.id, r.started_at, r.kwh_saved, r.results)
             .where(r.state == "finished", r.kwh_saved > 0, ~sa.exists().where(s.run_id == r.id), *where)
             .order_by(r.id))
    return conn.execute(query.limit(limit) if limit else query).all()


def kwh_saved(conn: Connection, period: Period, scope: Scope = COUNTY) -> dict[str | None, float]:
    """kWh saved by the schedule runs started in the period, per municipality (None: the county's total).

    From report_run_savings (each run split once by the reports.savings job); a run the job has not
    reached yet is split here, without writing.
    """
    s, r = SAVINGS.c, RUNS.c
    out: dict[str | None, float] = defaultdict(float)
    rows = conn.execute(sa.select(s.municipality, sa.func.sum(s.kwh_saved)).where(
        s.started_at >= period.start_utc, s.started_at < period.until_utc).group_by(s.municipality)).all()
    pending = unsplit_runs(conn, [r.started_at >= period.start_utc, r.started_at < period.until_utc])
    extra: list[tuple[str, float]] = []
    if pending:
        places = agent_places(conn)
        extra = [(name, kwh) for run in pending
                 for name, (_, kwh) in split_run(run.kwh_saved, run.results, places).items()]
    for name, kwh in [*((m, float(k or 0)) for m, k in rows), *extra]:
        if name and scope.allows(name):
            out[name] += kwh
            out[None] += kwh
        elif not name and scope.county_wide:  # devices of no municipality count in the county's total only
            out[None] += kwh
    return out


def split_savings(engine: Any, batch: int = 200) -> int:
    """The reports.savings job: split the finished runs not split yet, a batch per pass; how many runs."""
    from avfleet.controller.db import write_transaction

    done = 0
    while True:
        with engine.connect() as conn:
            runs = unsplit_runs(conn, [], batch)
            places = agent_places(conn) if runs else {}
        if not runs:
            return done
        rows = []
        for run in runs:
            shares = split_run(run.kwh_saved, run.results, places) or {"": (0, 0.0)}  # a marker: split, nothing off
            rows += [{"run_id": run.id, "municipality": name, "started_at": run.started_at, "devices": n,
                      "kwh_saved": kwh} for name, (n, kwh) in shares.items()]
        with write_transaction(engine) as conn:
            fresh = {row.id for row in runs} - set(conn.execute(
                sa.select(SAVINGS.c.run_id).where(SAVINGS.c.run_id.in_([row.id for row in runs]))).scalars())
            if fresh:
                conn.execute(SAVINGS.insert(), [row for row in rows if row["run_id"] in fresh])
        done += len(runs)


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
