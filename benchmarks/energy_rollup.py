"""Energy roll-up at county scale: a year of history for 5,000 devices on SQLite and PostgreSQL.

For each database: 5,000 projectors in 500 rooms of 50 schools in 13 municipalities, a year of
history ending yesterday (every school day 2 or 3 lessons, each an `on` and a `standby`
transition: 4-6 transitions; ~6M rows, written with COPY on PostgreSQL and the driver's executemany
on SQLite). Then:

- day: the real roll-up of one finished school day (`rollup_day`: every device's history of the
  day, its figures, 5,000 energy_daily rows), timed;
- county-year: `EnergyService.answer` for level=county, from=Y-01-01, to=Y-12-31 (this year),
  group=month and group=year (with previous_year), timed: the first answer cold, then three more
  (today's figures carried forward, energy/today.py), then one more from a new service (a restarted
  controller on a database that has served queries since); every other finished day's energy_daily rows
  filled in bulk (the same rows the job writes, synthetic figures: rolling up 365 days for real
  would take the job's time, not the query's), today computed on the fly, as the API does.

Targets (issue 11): a day's roll-up at most 10 s, a county-year answer at most 1 s.
Usage: .venv/bin/python benchmarks/energy_rollup.py [--devices N] [--days D] [--db sqlite,postgresql]
The last line prints both figures per database.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.energy.models import EnergyDay, EnergyRolledDay
from avfleet.controller.energy.rollup import refresh_month, rollup_day
from avfleet.controller.energy.school_days import LOCAL, is_school_day, local_day_bounds, parse_school_hours
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import load_settings

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STATUS = {"identity": {"manufacturer": "EPSON", "model": "EB-2250U", "pjlink_class": "2"}, "protocol": "pjlink"}
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def build_fleet(engine: sa.Engine, devices: int) -> list[tuple[int, str, str]]:
    rooms = max(1, devices // 10)
    agents, rows = [], []
    for r in range(rooms):
        agent = f"m{r % 13}-s{r % 50}-r{r}"
        agents.append({"agent_id": agent, "municipality": f"Kommun {r % 13}", "school": f"Skola {r % 50}",
                       "room": f"R{r}", "state": "online", "first_seen": T0, "changed_at": T0, "last_seen": T0})
    for n in range(devices):
        agent = agents[n % rooms]["agent_id"]
        rows.append({"agent_id": agent, "device_id": f"{agent}-pj{n}", "kind": "projector", "protocol": "pjlink",
                     "changed_at": T0, "status": STATUS, "model": "EB-2250U"})
    with write_transaction(engine) as conn:
        conn.execute(Agent.__table__.insert(), agents)
        conn.execute(Device.__table__.insert(), rows)
        d = Device.__table__.c
        return [(r.id, r.agent_id, r.device_id) for r in conn.execute(sa.select(d.id, d.agent_id, d.device_id))]


def history_rows(fleet: list[tuple[int, str, str]], days: list[date], seed: int = 5):
    """(device_pk, agent_id, device_id, observed_at text, power) per transition; times as naive UTC text
    from a cache of (day, minute), since formatting six million datetimes would dominate the run."""
    rng = random.Random(seed)
    plans = [local_day_bounds(day)[0] for day in days if is_school_day(None, None, day)]
    cache: dict[tuple[int, int], str] = {}

    def text(i: int, minute: int) -> str:
        key = (i, minute)
        if key not in cache:
            at = (plans[i] + timedelta(minutes=minute)).replace(tzinfo=None)
            cache[key] = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        return cache[key]

    start = local_day_bounds(days[0])[0].replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    choice, randint = rng.choice, rng.randint
    for pk, agent, device in fleet:
        yield (pk, agent, device, start, "standby")
        for i in range(len(plans)):
            t = randint(7 * 60 + 50, 9 * 60)
            for _ in range(choice((2, 3))):
                on = t
                t += randint(40, 120)
                yield (pk, agent, device, text(i, on), "on")
                yield (pk, agent, device, text(i, t), "standby")
                t += randint(20, 90)


def insert_history(engine: sa.Engine, rows) -> int:
    """COPY on PostgreSQL, the driver's executemany on SQLite; demo-marked rows (seq 0, replayed)."""
    names = "device_pk, agent_id, device_id, seq, replayed, observed_at, received_at, availability, power, " \
            "active_faults"
    written = 0
    with write_transaction(engine) as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy(f"COPY device_history ({names}) FROM STDIN") as copy:
                for pk, agent, device, at, power in rows:
                    copy.write_row((pk, agent, device, 0, True, at, at, "online", power, ""))
                    written += 1
            return written
        cur = raw.cursor()
        sql = f"INSERT INTO device_history ({names}) VALUES (?, ?, ?, 0, 1, ?, ?, 'online', ?, '')"
        batch = []
        for pk, agent, device, at, power in rows:
            batch.append((pk, agent, device, at, at, power))
            if len(batch) >= 50_000:
                cur.executemany(sql, batch)
                written += len(batch)
                batch.clear()
        cur.executemany(sql, batch)
        written += len(batch)
    return written


def fill_daily(engine: sa.Engine, fleet: list[tuple[int, str, str]], days: list[date], now: datetime) -> int:
    """energy_daily rows for `days` as the job would write them (synthetic figures), in bulk."""
    places = {}
    with engine.connect() as conn:
        a = Agent.__table__.c
        for r in conn.execute(sa.select(a.agent_id, a.municipality, a.school, a.room)):
            places[r.agent_id] = (r.municipality, r.school, r.room)
    rng = random.Random(3)
    rows = []
    for day in days:
        period = (local_day_bounds(day)[1] - local_day_bounds(day)[0]).total_seconds()
        for pk, agent, device in fleet:
            kwh = rng.uniform(0.05, 1.5)
            m, s, r = places[agent]
            rows.append({"device_pk": pk, "day": day, "year": day.year, "month": day.month, "agent_id": agent,
                         "device_id": device, "municipality": m, "school": s, "room": r, "period_s": period,
                         "measured_s": 0.0, "rated_s": period, "kwh": kwh, "kwh_school_hours": kwh * 0.9,
                         "kwh_left_on": kwh * 0.05, "kwh_standby": 0.04, "hours_on": 3.0, "hours_left_on": 0.1,
                         "computed_at": now})
    table = EnergyDay.__table__
    cols = [c.name for c in table.columns]
    with write_transaction(engine) as conn:
        raw = conn.connection.driver_connection
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy(f"COPY energy_daily ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c].replace(tzinfo=None) if c == "computed_at" else row[c] for c in cols])
        else:
            stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            values = [[stamp if c == "computed_at" else row[c].isoformat() if c == "day" else row[c] for c in cols]
                      for row in rows]
            raw.cursor().executemany(f"INSERT INTO energy_daily ({', '.join(cols)}) VALUES "
                                     f"({', '.join('?' * len(cols))})", values)
        conn.execute(EnergyRolledDay.__table__.insert(), [{"day": d, "devices": len(fleet), "computed_at": now}
                                                          for d in days])
        for year, month in sorted({(d.year, d.month) for d in days}):
            refresh_month(conn, year, month)
    return len(rows)


def run(url: str, devices: int, n_days: int) -> tuple[float, float, float, float, int]:
    engine = create_db_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL).date()
    days = [today - timedelta(days=n) for n in range(n_days, 0, -1)]
    fleet = build_fleet(engine, devices)
    t = time.perf_counter()
    rows = insert_history(engine, history_rows(fleet, days))
    print(f"  {rows:,} history rows in {time.perf_counter() - t:.1f} s", flush=True)
    vacuum(engine)
    day = next(d for d in reversed(days[:-1]) if is_school_day(None, None, d))
    resolver = WattsResolver()
    resolver.for_device(None, STATUS)  # load the profile library outside the timing
    hours = parse_school_hours("07:00-17:00")
    t = time.perf_counter()
    with write_transaction(engine) as conn:
        written = rollup_day(conn, day, now, hours, resolver)
    day_s = time.perf_counter() - t
    print(f"  rollup of {day}: {written} devices in {day_s:.2f} s", flush=True)
    fill_daily(engine, fleet, [d for d in days if d != day], now)
    vacuum(engine)
    service = EnergyService(load_settings(demo=True), resolver)
    # The query: the calendar year to date, by month and by year, with its previous_year. The
    # first answer is cold (devices, first history day and today's history read afresh); later ones
    # carry today's kept figures forward (energy/today.py), as the dashboard's repeated queries do.
    year = (date(today.year, 1, 1), date(today.year, 12, 31))
    timings: dict[str, list[float]] = {}
    for group in ("month", "year", "month", "year"):
        t = time.perf_counter()
        with engine.connect() as conn:
            answer = service.answer(conn, EnergyQuery("county", *year, group), time_now(now, t))
        timings.setdefault(group, []).append(time.perf_counter() - t)
    # A new service (a restarted controller, or the first query in a minute after the device list
    # changed) on a database that has served queries since: devices, first day and today afresh again.
    again = EnergyService(load_settings(demo=True), resolver)
    t = time.perf_counter()
    with engine.connect() as conn:
        again.answer(conn, EnergyQuery("county", *year, "month"), time_now(now, t))
    restart = time.perf_counter() - t
    cold = timings["month"][0]
    warm = max(timings["month"][1], *timings["year"])
    print(f"  county-year answers (month, year, month, year): "
          f"{', '.join(f'{x:.2f}' for pair in zip(timings['month'], timings['year'], strict=True) for x in pair)} s; "
          f"{len(answer['items'])} item(s), kWh {answer['items'][0]['kwh'] if answer['items'] else 0}; "
          f"a new service's first answer {restart:.2f} s", flush=True)
    engine.dispose()
    return day_s, cold, warm, restart, rows


def vacuum(engine: sa.Engine) -> None:
    """What autovacuum does after a bulk insert on PostgreSQL (statistics and the visibility map, so
    index-only scans need no heap visit); SQLite keeps its statistics with ANALYZE."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def time_now(start: datetime, perf_at: float) -> datetime:
    """The "now" of an answer: moving on with the clock between the answers, as it does for the API."""
    return start + timedelta(seconds=perf_at - PERF0)


PERF0 = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    results = []
    for kind in args.db.split(","):
        print(f"{kind}:", flush=True)
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results.append((kind, *run(f"sqlite:///{tmp}/bench.db", args.devices, args.days)))
            continue
        name = f"avfleet_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            results.append((kind, *run(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.devices,
                                       args.days)))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("; ".join(f"{kind}: day roll-up {d:.2f} s, county-year answer {cold:.2f} s cold, {warm:.2f} s after, "
                    f"{restart:.2f} s from a new service ({rows:,} history rows, {args.devices} devices)"
                    for kind, d, cold, warm, restart, rows in results))


if __name__ == "__main__":
    main()
