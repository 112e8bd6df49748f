"""The inventory report of one municipality of 5,000 units with a year of history, in each format.

Builds (once per database): one municipality, 50 schools, 500 rooms (one agent each), 5,000 units
in the register, each behind a projector; a whole calendar year (last year) of energy_daily rows
(5,000 × 365, synthetic figures as the roll-up job writes them) with energy_monthly and the rolled
days; ~2 tickets per unit in the year and the year before, 500 repair cases, a finished schedule run
every school day whose results name every device, and 35 days of power transitions per device (the
lamp forecast reads the last 30), and the reports.savings job's split of the runs. Then, for csv,
xlsx and pdf, a fresh process makes the report (`ReportService.report_file`, the API's and the
CLI's path) and reports its time and peak RSS.

Target (issue 12): at most 5 s per format. Usage:
  .venv/bin/python benchmarks/reports.py [--units N] [--db sqlite,postgresql]
The last line prints the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.energy.models import EnergyDay, EnergyRolledDay
from avfleet.controller.energy.rollup import refresh_month
from avfleet.controller.fleet.models import Agent, Device, DeviceTransition
from avfleet.controller.inventory.models import InventoryUnit, RepairCase
from avfleet.controller.migrate import upgrade
from avfleet.controller.reports.energy_figures import split_savings
from avfleet.controller.schedules.models import ScheduleRun
from avfleet.controller.tickets.models import Ticket

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MUNICIPALITY = "Jönköping"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
KINDS = ("lamp", "fan", "filter", "unreachable", "temperature", "other")


def status(n: int) -> dict:
    # A tenth of the lamps near their rated 4,000 h (BenQ MW560): the forecast reads their history.
    hours = 3_900 if n % 10 == 0 else 800 + n % 2_000
    return {"identity": {"manufacturer": "BenQ", "model": "MW560", "pjlink_class": "1"}, "protocol": "pjlink",
            "lamps": [{"hours": hours}]}


def build(engine: sa.Engine, units: int, year: int, now: datetime) -> None:
    rng = random.Random(12)
    rooms = max(1, units // 10)
    agents = [{"agent_id": f"r{r}", "municipality": MUNICIPALITY, "school": f"Skola {r % 50}", "room": f"Sal {r}",
               "state": "online", "first_seen": T0, "changed_at": T0, "last_seen": now} for r in range(rooms)]
    with write_transaction(engine) as conn:
        conn.execute(Agent.__table__.insert(), agents)
        conn.execute(Device.__table__.insert(), [
            {"agent_id": f"r{n % rooms}", "device_id": f"pj{n}", "kind": "projector", "protocol": "pjlink",
             "changed_at": T0, "status": status(n), "model": "MW560"} for n in range(units)])
        d = Device.__table__.c
        fleet = [(r.id, r.agent_id, r.device_id) for r in conn.execute(sa.select(d.id, d.agent_id, d.device_id))]
        models = (("BenQ", "MW560"), ("Epson", "EB-2250U"), ("NEC", "ME403U"))
        unit_rows = []
        for n, (_, agent, device) in enumerate(fleet):
            bought = date(2016, 1, 1) + timedelta(days=rng.randint(0, 365 * 9))
            maker, model = models[n % 3]
            unit_rows.append({
                "municipality": MUNICIPALITY, "school": agents[int(agent[1:])]["school"], "room": f"Sal {agent[1:]}",
                "kind": "projector", "manufacturer": maker, "model": model, "serial": f"SN{n:06d}", "mac": None,
                "firmware": f"1.{n % 7}", "install_date": bought, "purchase_date": bought,
                "warranty_end": bought + timedelta(days=365 * 5), "lifecycle": "in_use", "agent_id": agent,
                "device_id": device, "created_at": T0, "updated_at": T0})
        conn.execute(InventoryUnit.__table__.insert(), unit_rows)
        unit_ids = list(conn.execute(sa.select(InventoryUnit.__table__.c.id)).scalars())
        tickets = []
        for n in range(units * 4):  # two years of about two tickets per unit and year
            _, agent, device = fleet[n % len(fleet)]
            opened = datetime(year - 1, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 2 * 365 * 1440))
            repaired = opened + timedelta(hours=rng.uniform(1, 200)) if rng.random() < 0.95 else None
            tickets.append({"kind": KINDS[n % len(KINDS)], "severity": "error", "state": "resolved" if repaired
                            else "open", "agent_id": agent, "device_id": device, "title": "x",
                            "municipality": MUNICIPALITY, "opened_at": opened, "updated_at": opened,
                            "resolved_at": repaired, "context": {}, "children": []})
        conn.execute(Ticket.__table__.insert(), tickets)
        conn.execute(RepairCase.__table__.insert(), [
            {"unit_id": unit_ids[rng.randrange(len(unit_ids))], "opened_by": "bench", "previous_lifecycle": "in_use",
             "opened_at": (at := datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 350))),
             "closed_at": at + timedelta(days=rng.randint(3, 30)), "under_warranty": rng.random() < 0.4,
             "outcome": "returned"} for _ in range(500)])
        results = [{"agent_id": agent, "device_id": device, "result": "powered_off" if i % 3 else "already_off"}
                   for i, (_, agent, device) in enumerate(fleet)]
        school_days = [date(year, 1, 1) + timedelta(days=n) for n in range(365)]
        conn.execute(ScheduleRun.__table__.insert(), [
            {"action": "power_off", "state": "finished", "requested_by": "avfleet", "kwh_saved": 400.0,
             "started_at": datetime(day.year, day.month, day.day, 16, tzinfo=UTC), "results": results}
            for day in school_days if day.weekday() < 5])
        history = []
        for pk, agent, device in fleet:
            for back in range(35, 0, -1):
                on = now - timedelta(days=back, hours=6)
                history += [(pk, agent, device, on, "on"), (pk, agent, device, on + timedelta(hours=7), "standby")]
        conn.execute(DeviceTransition.__table__.insert(), [
            {"device_pk": pk, "agent_id": a, "device_id": dv, "seq": 0, "replayed": True, "observed_at": at,
             "received_at": at, "availability": "online", "power": power, "active_faults": ""}
            for pk, a, dv, at, power in history])
    fill_energy(engine, fleet, agents, year, now, rng)


def fill_energy(engine: sa.Engine, fleet: list, agents: list[dict], year: int, now: datetime,
                rng: random.Random) -> None:
    """A year of energy_daily rows, a month per transaction, with energy_monthly and the rolled days."""
    places = {a["agent_id"]: a for a in agents}
    cols = ["device_pk", "day", "year", "month", "agent_id", "device_id", "municipality", "school", "room",
            "period_s", "measured_s", "rated_s", "kwh", "kwh_school_hours", "kwh_left_on", "kwh_standby",
            "hours_on", "hours_left_on", "computed_at"]
    for month in range(1, 13):
        first = date(year, month, 1)
        days = [first + timedelta(days=n) for n in range(31) if (first + timedelta(days=n)).month == month]
        with write_transaction(engine) as conn:
            rows = []
            for day in days:
                for pk, agent, device in fleet:
                    kwh = rng.uniform(0.05, 1.5)
                    place = places[agent]
                    rows.append((pk, day, year, month, agent, device, place["municipality"], place["school"],
                                 place["room"], 86400.0, 0.0, 86400.0 * 0.97, kwh, kwh * 0.9, kwh * 0.05, 0.04, 3.0,
                                 0.1, now))
            conn.execute(EnergyDay.__table__.insert(), [dict(zip(cols, r, strict=True)) for r in rows])
            conn.execute(EnergyRolledDay.__table__.insert(), [{"day": d, "devices": len(fleet), "computed_at": now}
                                                              for d in days])
            refresh_month(conn, year, month)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM): ru_maxrss would carry over the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, fmt: str, year: int) -> None:
    """One format in a fresh process: its time and the process's peak RSS (MB) as a JSON line."""
    from avfleet.controller.reports.service import ReportService
    from avfleet.controller.settings import load_settings
    from avfleet.protocols.status import utc_now

    engine = create_db_engine(url)
    service = ReportService(load_settings(demo=True))
    service.library()  # the profile library (seconds of YAML), outside the timing, as a running API has it
    before_mb = peak_rss_mb()
    t = time.perf_counter()
    with engine.connect() as conn:
        made = service.report_file(conn, MUNICIPALITY, year, fmt, "sv", utc_now())
    seconds = time.perf_counter() - t
    rss_mb = peak_rss_mb()
    print(json.dumps({"format": fmt, "seconds": round(seconds, 2), "rss_mb": round(rss_mb),
                      "rss_before_mb": round(before_mb), "bytes": len(made.body)}))


def run(url: str, units: int) -> list[dict]:
    engine = create_db_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    year = now.year - 1
    t = time.perf_counter()
    build(engine, units, year, now)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
    print(f"  built {units} units and a year of history in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    split = split_savings(engine)  # the reports.savings job, as a running controller has done it by then
    print(f"  reports.savings split {split} runs in {time.perf_counter() - t:.1f} s", flush=True)
    engine.dispose()
    out = []
    for fmt in ("csv", "xlsx", "pdf"):
        done = subprocess.run([sys.executable, __file__, "--child", fmt, "--url", url, "--year", str(year)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"{fmt} failed:\n{done.stderr}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"  {fmt}: {figures['seconds']:.2f} s, peak RSS {figures['rss_mb']} MB ({figures['rss_before_mb']} MB "
              f"before the report), {figures['bytes']:,} bytes", flush=True)
        out.append(figures)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--year", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.url, args.child, args.year)
        return
    results = []
    for kind in args.db.split(","):
        print(f"{kind}:", flush=True)
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results.append((kind, run(f"sqlite:///{tmp}/bench.db", args.units)))
            continue
        name = f"avfleet_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            results.append((kind, run(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.units)))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("; ".join(f"{kind}: " + ", ".join(f"{f['format']} {f['seconds']:.2f} s {f['rss_mb']} MB" for f in figures)
                    for kind, figures in results) + f" ({args.units} units, a year of history)")


if __name__ == "__main__":
    main()
