"""Today's figures per device, kept between queries and carried forward from the history since.

Today is never rolled up, so every energy query that reaches today computes it from the history:
for 5,000 devices that read today's transitions and ran the arithmetic on each (about half a second
on the development VM). The figures of [midnight, until) do not change once computed unless history
arrives late for that stretch, so the next query computes only [until, now) from the rows stored
since and adds them. "Since" is by `device_history.id`: on PostgreSQL a transaction may commit a
lower id after a higher one was read, so each pass reads from the highest id that was read at least
SETTLE_S ago and skips the rows it has already counted. It starts over when:

- a stored row lies before `until` (an outbox replay, a clock-skewed agent): the past changed;
- an agent outage opened or closed (agent_outages changed): the gaps changed;
- the device list changed (the service looks it up again every 60 s: placements, watts, lost agents);
- PDU outlet readings were noted and the figures are older than OUTLETS_LAG_S;
- the day changed, or the figures are older than REFRESH_S (a bound on anything missed all the same:
  a row committed late across the moment the figures were computed afresh).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from time import monotonic

import sqlalchemy as sa
from sqlalchemy import Connection

from avfleet.controller.energy.compute import Figures, Reading, compute
from avfleet.controller.energy.models import AgentOutage, OutletReading
from avfleet.controller.energy.rollup import (
    FEW_DEVICES,
    HISTORY,
    BulkSchoolDays,
    DeviceInfo,
    Outages,
    day_figures,
    held_figures,
    load_history,
    load_outages,
)
from avfleet.controller.energy.school_days import is_school_day, local_day_bounds, school_window

OUTAGES = AgentOutage.__table__
OUTLET_READINGS = OutletReading.__table__
REFRESH_S = 600.0
# Longer than any ingest transaction holds an id before it commits.
SETTLE_S = 60.0
# PDU outlet readings (energy/outlets.py) are not carried forward: new ones count at the next full
# computation, at most this long after the last one.
OUTLETS_LAG_S = 60.0


@dataclass
class _Kept:
    day: date
    source: list[DeviceInfo]
    devices: list[DeviceInfo]
    until: datetime
    settled_id: int  # rows up to this id were all committed when read: not read again
    outages_mark: tuple
    made: float
    figures: dict[int, Figures]
    current: dict[int, Reading]  # the reading in force at `until`, per device
    school: dict[tuple[str | None, str | None], bool]  # whether today is a school day at each place
    outages: Outages
    ahead: dict[int, list[Reading]] = field(default_factory=dict)  # rows stamped at or after `until`
    counted: set[int] = field(default_factory=set)  # ids above settled_id already in the figures
    reads: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, highest id read) per pass
    outlets_mark: int | None = None  # the newest energy_outlet_readings id when computed


class TodayFigures:
    """Per device, today's figures up to `now`; one per EnergyService (keyed by the device list)."""

    def __init__(self, hours: tuple[time, time]) -> None:
        self.hours = hours
        self._kept: dict[tuple, _Kept] = {}
        # The service answers from several API threads: two carrying one _Kept forward would count twice.
        self._lock = threading.Lock()

    def figures(self, conn: Connection, key: tuple, source: list[DeviceInfo], devices: list[DeviceInfo],
                day: date, now: datetime) -> dict[int, Figures]:
        """`devices`: those of `source` (the service's cached device list) that `key` selects; kept
        figures are reused only for the same `source` object. """
        with self._lock:
            return self._figures(conn, key, source, devices, day, now)

    def _figures(self, conn: Connection, key: tuple, source: list[DeviceInfo], devices: list[DeviceInfo],
                 day: date, now: datetime) -> dict[int, Figures]:
        kept = self._kept.get(key)
        mark = _outages_mark(conn)
        outlets = _outlets_mark(conn)
        age = monotonic() - kept.made if kept is not None else 0.0
        if (kept is not None and kept.day == day and kept.source is source and kept.outages_mark == mark
                and age < REFRESH_S and (kept.outlets_mark == outlets or age < OUTLETS_LAG_S)
                and now >= kept.until and self._advance(conn, kept, now)):
            return kept.figures
        kept = self._fresh(conn, source, devices, day, now, mark)
        kept.outlets_mark = outlets
        if len(self._kept) > 64:
            self._kept.clear()
        self._kept[key] = kept
        return kept.figures

    def _fresh(self, conn: Connection, source: list[DeviceInfo], devices: list[DeviceInfo], day: date,
               now: datetime, mark: tuple) -> _Kept:
        settled_id = conn.execute(sa.select(sa.func.max(HISTORY.c.id))).scalar() or 0  # before the history read
        start, end = local_day_bounds(day)
        until = min(end, now)
        history = load_history(conn, [d.pk for d in devices], start, until)
        calendar = BulkSchoolDays(conn)
        outages = load_outages(conn, start, until)
        figures = day_figures(devices, history, day, now, self.hours, calendar, outages)
        current: dict[int, Reading] = {}
        for dev in devices:
            readings = [r for r in history.get(dev.pk, []) if r.observed_at < until]
            if readings:
                current[dev.pk] = readings[-1]
        places = {(d.municipality, d.school) for d in devices}
        school = {place: is_school_day(*place, day, calendar) for place in places}
        return _Kept(day, source, devices, until, settled_id, mark, monotonic(), figures, current, school, outages)

    def _advance(self, conn: Connection, kept: _Kept, now: datetime) -> bool:
        """Carry `kept` forward to `now`; False when it must be computed afresh (the past changed)."""
        h = HISTORY.c
        wanted = {d.pk for d in kept.devices}
        since = [h.id > kept.settled_id]
        if len(wanted) <= FEW_DEVICES:  # one device's chart reads its own new rows, not everyone's
            since.append(h.device_pk.in_(sorted(wanted)))
        rows = conn.execute(sa.select(h.id, h.device_pk, sa.type_coerce(h.observed_at, sa.DateTime).label("at"),
                                      h.availability, h.power, h.power_w).where(*since)
                            .order_by(h.id)).all()
        new: dict[int, list[Reading]] = defaultdict(list)
        for pk, ahead in kept.ahead.items():
            new[pk].extend(ahead)
        rows = [r for r in rows if r.id not in kept.counted]
        for r in rows:
            if r.device_pk not in wanted:
                continue
            at = r.at.replace(tzinfo=UTC)
            if at < kept.until:
                return False
            new[r.device_pk].append(Reading(at, r.availability, r.power, r.power_w))
        start, end = kept.until, min(local_day_bounds(kept.day)[1], now)
        window = school_window(kept.day, self.hours)
        ahead: dict[int, list[Reading]] = {}
        # Most devices had no new row: their stretch is their current state held, the same figures for
        # the same state, watts, school day and gaps (computed once per kind, not 5,000 times).
        held: dict[tuple, Figures] = {}
        figures: dict[int, Figures] = {}
        for dev in kept.devices:
            readings = sorted(new.get(dev.pk, []), key=lambda x: x.observed_at)
            before = kept.current.get(dev.pk)
            school = window if kept.school[(dev.municipality, dev.school)] else None
            gaps = kept.outages.get(dev.agent_id, ())
            if readings:
                series = ([before] if before is not None else []) + readings
                delta = compute(series, start, end, watts=dev.watts, school=school, cutoff=dev.cutoff, outages=gaps)
            else:
                delta = held_figures(held, before, start, end, dev, school, gaps)
            total = figures[dev.pk] = Figures()  # new objects: an answer already handed out never changes
            total.add(kept.figures[dev.pk])
            total.add(delta)
            used = [x for x in readings if x.observed_at < end]
            if used:
                kept.current[dev.pk] = used[-1]
            later = [x for x in readings if x.observed_at >= end]
            if later:
                ahead[dev.pk] = later
        _settle(kept, [r.id for r in rows])
        kept.ahead, kept.until, kept.figures = ahead, end, figures
        return True


def _settle(kept: _Kept, ids: list[int]) -> None:
    """Note the ids counted in this pass, and move settled_id up to the highest id read SETTLE_S ago."""
    kept.counted.update(ids)
    now = monotonic()
    highest = max(ids, default=kept.reads[-1][1] if kept.reads else kept.settled_id)
    kept.reads.append((now, highest))
    while kept.reads and now - kept.reads[0][0] >= SETTLE_S:
        _, read = kept.reads.pop(0)
        kept.settled_id = max(kept.settled_id, read)
    kept.counted = {i for i in kept.counted if i > kept.settled_id}


def _outlets_mark(conn: Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(OUTLET_READINGS.c.id))).scalar()


def _outages_mark(conn: Connection) -> tuple:
    o = OUTAGES.c
    return tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(o.id), sa.func.count(o.until))).one())


