"""Demo step: about 13 months of plausible device history, so energy figures show at once.

Demo rows are marked: `seq = 0` and `replayed = true` (an ingested transition has the agent's seq,
which starts at 1). They end before the start of today, so the live fleet's own transitions follow
them. The pattern per device and local day:

- school days (weekdays that are no holiday, outside the demo's breaks): 1-3 lessons, each a warm-up,
  on and a cool-down to standby (4-6 transitions); about one day in 25 the projector is left on
  overnight and goes to standby next morning (someone switches it off, or the lamp timer does);
- breaks (sommarlov, jullov, sportlov, höstlov, påsklov) and weekends: standby all day;
- about one day in 100 the device is unreachable for a few hours (a gap in coverage);
- displays report measured watts (`power_w`), so their rooms' figures are `mixed`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.energy.school_days import LOCAL, is_school_day, parse_school_hours
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import Device, DeviceTransition

if TYPE_CHECKING:
    from avfleet.demo.run import DemoContext

log = logging.getLogger("avfleet.demo")

DEVICES = Device.__table__
HISTORY = DeviceTransition.__table__
DEMO_SEQ = 0  # the marker of demo history rows (with replayed = true)
HISTORY_COLUMNS = ("device_pk", "agent_id", "device_id", "seq", "replayed", "observed_at", "received_at",
                   "availability", "power", "input", "power_w", "active_faults")
DEVICES_WAIT_S = 30.0


@dataclass(frozen=True)
class SeedDevice:
    pk: int
    agent_id: str
    device_id: str
    kind: str | None
    municipality: str | None = None
    school: str | None = None


def in_break(day: date) -> bool:
    """The demo's school breaks (roughly a Swedish municipality's): a break is no use, not a gap."""
    week = day.isocalendar().week
    return ((day.month, day.day) >= (6, 12) and (day.month, day.day) <= (8, 18)) or \
        (day.month, day.day) >= (12, 21) or (day.month, day.day) <= (1, 7) or week in (9, 44) or \
        (day.month == 4 and week == 14)


def device_rows(dev: SeedDevice, first: date, last: date, rng: random.Random) -> Iterator[tuple]:
    """Demo history rows of one device from `first` to `last` (local days), in time order."""
    measured = dev.kind == "display"

    def row(at: datetime, availability: str, power: str, watts: float | None) -> tuple:
        return (dev.pk, dev.agent_id, dev.device_id, DEMO_SEQ, True, at, at, availability, power, None,
                watts if measured else None, "")

    def at(day: date, minutes: float) -> datetime:
        return (datetime(day.year, day.month, day.day, tzinfo=LOCAL) + timedelta(minutes=minutes)).astimezone(UTC)

    on_w, standby_w = (120.0, 1.5) if measured else (None, None)
    yield row(at(first, 0), "online", "standby", standby_w)
    left_on = False
    day = first
    while day <= last:
        if left_on:  # left on overnight: someone switches it off in the morning
            yield row(at(day, 7 * 60 + rng.uniform(0, 60)), "online", "standby", standby_w)
            left_on = False
        if rng.random() < 0.01:
            start = rng.uniform(9 * 60, 20 * 60)
            yield row(at(day, start), "unreachable", "unknown", None)
            yield row(at(day, start + rng.uniform(60, 240)), "online", "standby", standby_w)
        elif is_school_day(dev.municipality, dev.school, day) and not in_break(day):
            t = rng.uniform(7 * 60 + 45, 9 * 60 + 30)
            for _lesson in range(rng.choice((1, 1, 2, 2, 3))):
                length = rng.uniform(40, 150)
                yield row(at(day, t), "online", "warming", on_w)
                yield row(at(day, t + 1), "online", "on", on_w and on_w + rng.uniform(-8, 8))
                end = t + 1 + length
                last_lesson = end > 15 * 60 or rng.random() < 0.3
                if last_lesson and rng.random() < 0.04:
                    left_on = True  # never switched off: on through the night
                    break
                yield row(at(day, end), "online", "cooling", on_w)
                yield row(at(day, end + 1.5), "online", "standby", standby_w)
                t = end + rng.uniform(30, 120)
                if last_lesson or t > 16 * 60:
                    break
        day += timedelta(days=1)


def seed_energy_history(engine: Engine, devices: list[SeedDevice], now: datetime, months: int = 13,
                        *, seed: int = 11) -> int:
    """Write `months` of demo history (ending before today's local midnight) for `devices`; rows written."""
    last = now.astimezone(LOCAL).date() - timedelta(days=1)
    first = last - timedelta(days=round(months * 30.44))
    rng = random.Random(seed)
    return bulk_insert_history(engine, (r for dev in devices for r in device_rows(dev, first, last, rng)))


def bulk_insert_history(engine: Engine, rows: Iterable[tuple], chunk_rows: int = 20_000) -> int:
    """Insert history rows (HISTORY_COLUMNS order, aware UTC times) in transactions of chunk_rows: COPY on
    PostgreSQL, the driver's executemany on SQLite (SQLAlchemy's per-row processing would dominate)."""
    written = 0
    rows = iter(rows)
    while True:
        chunk = list(islice(rows, chunk_rows))
        if not chunk:
            return written
        written += _insert_chunk(engine, chunk)


def _insert_chunk(engine: Engine, rows: list[tuple]) -> int:
    """One write transaction each, so the ingest's batches get the SQLite write lock in between."""
    written = 0
    with write_transaction(engine) as conn:
        raw = conn.connection.driver_connection
        names = ", ".join(HISTORY_COLUMNS)
        if engine.dialect.name == "postgresql":
            with raw.cursor() as cur, cur.copy(f"COPY device_history ({names}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((*r[:5], _naive(r[5]), _naive(r[6]), *r[7:]))
                    written += 1
            return written
        cur = raw.cursor()
        sql = f"INSERT INTO device_history ({names}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"
        batch: list[tuple] = []
        for r in rows:
            # SQLAlchemy's SQLite DateTime text format, so the model reads these rows back unchanged.
            batch.append((*r[:4], int(r[4]), _sqlite_time(r[5]), _sqlite_time(r[6]), *r[7:]))
            if len(batch) >= 20_000:
                cur.executemany(sql, batch)
                written += len(batch)
                batch.clear()
        cur.executemany(sql, batch)
        written += len(batch)
    return written


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _sqlite_time(at: datetime) -> str:
    return _naive(at).strftime("%Y-%m-%d %H:%M:%S.%f")


def demo_devices(engine: Engine, expected: set[tuple[str, str]], wait_s: float = DEVICES_WAIT_S) -> list[SeedDevice]:
    """The `expected` demo devices once the controller has stored them (their first status arrives just
    after the agents connect); PDUs are not expected (their load is the other devices')."""
    from avfleet.controller.fleet.models import Agent

    a = Agent.__table__.c
    d = DEVICES.c
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(d.id, d.agent_id, d.device_id, d.kind, a.municipality, a.school)
                                .join(Agent.__table__, a.agent_id == d.agent_id)).all()
        found = {(r.agent_id, r.device_id) for r in rows}
        if expected <= found or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # the ingest commits in batches of at most 200 ms
    return [SeedDevice(r.id, r.agent_id, r.device_id, r.kind, r.municipality, r.school) for r in rows
            if (r.agent_id, r.device_id) in expected]


def energy_history_step(ctx: DemoContext) -> None:
    """Demo step: seed the history, then roll up its days so the first energy query is quick."""
    from avfleet.controller.energy.rollup import days_between, first_history_day, rollup_days_apart

    engine = ctx.controller.engine
    expected, displays = set(), set()
    for room in ctx.rooms:
        expected |= {(room.agent_id, room.projector_id(n + 1)) for n in range(len(room.projectors))}
        if room.display:
            displays.add((room.agent_id, room.display_id))
    expected |= displays
    now = datetime.now(UTC)
    # The kind from the plan: a device row can exist (from the agent's birth) before its first state.
    devices = [replace(d, kind="display") if (d.agent_id, d.device_id) in displays else d
               for d in demo_devices(engine, expected)]
    written = seed_energy_history(engine, devices, now)
    hours = parse_school_hours(ctx.settings.school_hours)
    with engine.connect() as conn:
        first = first_history_day(conn)
    yesterday = now.astimezone(LOCAL).date() - timedelta(days=1)
    days = days_between(first, yesterday) if first is not None else []
    rollup_days_apart(engine, days, now, hours, WattsResolver())
    log.info("demo: %d demo history rows (seq 0, replayed) for %d devices; %d days rolled up", written,
             len(devices), len(days))
