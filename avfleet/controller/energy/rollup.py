"""From the database to figures: devices and their history, per local day; the daily roll-up writes them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from avfleet.controller.calendars.models import CalendarDay
from avfleet.controller.calendars.service import Calendar, Holidays, SchoolDays
from avfleet.controller.db import write_transaction
from avfleet.controller.energy.compute import Figures, Reading, Watts, compute
from avfleet.controller.energy.models import AgentOutage, EnergyDay, EnergyMonth, EnergyRolledDay
from avfleet.controller.energy.outlets import load_outlet_watts, with_outlet_watts
from avfleet.controller.energy.school_days import is_school_day, local_day_bounds, school_window
from avfleet.controller.energy.watts import WattsResolver, configured_profiles
from avfleet.controller.fleet.models import Agent, Device, DeviceTransition

AGENTS = Agent.__table__
DEVICES = Device.__table__
HISTORY = DeviceTransition.__table__
DAILY = EnergyDay.__table__
ROLLED = EnergyRolledDay.__table__
MONTHLY = EnergyMonth.__table__
OUTAGES = AgentOutage.__table__
CALENDAR_DAYS = CalendarDay.__table__
# An outage still open runs to the end of any window.
OPEN_END = datetime(9999, 1, 1, tzinfo=UTC)
Outages = dict[str, list[tuple[datetime, datetime]]]
# A PDU's own reading is the sum of what it feeds: counting it too would count those devices twice.
EXCLUDED_KINDS = ("pdu",)
# load_history names up to this many devices in its queries (see there).
FEW_DEVICES = 500


@dataclass(frozen=True)
class DeviceInfo:
    pk: int
    agent_id: str
    device_id: str
    municipality: str | None
    school: str | None
    room: str | None
    watts: Watts | None
    cutoff: datetime | None  # the agent is lost or stopped since then: nothing is known after it


def load_devices(conn: Connection, resolver: WattsResolver, *, municipality: str | None = None,
                 school: str | None = None, room: str | None = None, agent_id: str | None = None,
                 device_id: str | None = None) -> list[DeviceInfo]:
    d, a = DEVICES.c, AGENTS.c
    filters = [column == value for column, value in (
        (a.municipality, municipality), (a.school, school), (a.room, room), (d.agent_id, agent_id),
        (d.device_id, device_id)) if value is not None]
    # Only the identity's three fields from the stored status: decoding 5,000 whole statuses costs more.
    rows = conn.execute(
        sa.select(d.id, d.agent_id, d.device_id, d.model, d.protocol, d.kind,
                  d.status[("identity", "manufacturer")].as_string().label("manufacturer"),
                  d.status[("identity", "model")].as_string().label("identity_model"),
                  d.status[("identity", "pjlink_class")].as_string().label("pjlink_class"),
                  a.municipality, a.school, a.room, a.state, a.last_seen, a.configured_devices)
        .join(AGENTS, AGENTS.c.agent_id == d.agent_id)
        .where(sa.or_(d.kind.is_(None), d.kind.not_in(EXCLUDED_KINDS)), *filters)
        .order_by(d.id)).all()
    profiles: dict[str, dict[str, str]] = {}
    out = []
    for r in rows:
        if r.agent_id not in profiles:
            profiles[r.agent_id] = configured_profiles(r.configured_devices)
        watts = resolver.lookup(profiles[r.agent_id].get(r.device_id), r.manufacturer, r.identity_model or r.model,
                                r.pjlink_class, r.protocol)
        cutoff = r.last_seen if r.state in ("lost", "offline") else None
        out.append(DeviceInfo(r.id, r.agent_id, r.device_id, r.municipality, r.school, r.room, watts, cutoff))
    return out


def load_history(conn: Connection, pks: list[int], start: datetime, end: datetime) -> dict[int, list[Reading]]:
    """Each device's readings in [start, end), preceded by its last one before `start` (its state then)."""
    h = HISTORY.c
    out: dict[int, list[Reading]] = defaultdict(list)
    if not pks:
        return out
    wanted = set(pks)
    # A few devices (one device's chart, a room) are named in the queries, so they read only their own
    # rows; a larger set reads every device's and keeps the wanted ones below (an IN list of thousands
    # of keys costs more than that).
    named = sorted(wanted) if len(wanted) <= FEW_DEVICES else None
    keys = sa.select(DEVICES.c.id)
    if named is not None:
        keys = keys.where(DEVICES.c.id.in_(named))
    # The last transition before `start` of every device: one index seek each on (device_pk, observed_at),
    # in the database (a list of 5,000 ids sent back as bound parameters cost a third of a second).
    b = HISTORY.alias("before").c
    before = (sa.select(b.id).where(b.device_pk == DEVICES.c.id, b.observed_at < start)
              .order_by(b.observed_at.desc(), b.id.desc()).limit(1).correlate(DEVICES).scalar_subquery())
    previous = sa.select(before).select_from(DEVICES)
    if named is not None:
        previous = previous.where(DEVICES.c.id.in_(named))
    # Plain DateTime (naive UTC) read back: the aware-datetime decorator costs more than the arithmetic.
    columns = (h.device_pk, sa.type_coerce(h.observed_at, sa.DateTime).label("observed_at"), h.availability,
               h.power, h.power_w)
    rows: list[Iterable] = [conn.execute(sa.select(*columns).where(h.id.in_(previous)))]
    # Inside the window: `device_pk IN (devices)` makes SQLite seek (device_pk, observed_at) per device;
    # a plain join scanned the whole index (5.6 s against 0.3 s on a year of 5,000 devices).
    rows.append(conn.execute(
        sa.select(*columns).where(h.device_pk.in_(named if named is not None else keys), h.observed_at >= start,
                                  h.observed_at < end).order_by(h.device_pk, h.observed_at, h.id)))
    for result in rows:
        for r in result:
            if r.device_pk in wanted:
                out[r.device_pk].append(Reading(r.observed_at.replace(tzinfo=UTC), r.availability, r.power,
                                                r.power_w))
    for readings in out.values():
        readings.sort(key=lambda x: x.observed_at)  # stable: the previous state first, then the window in order
    # Devices behind a PDU outlet (`feeds`): the outlet's watts are their measured draw (energy/outlets.py).
    for pk, watts in load_outlet_watts(conn, wanted, start, end).items():
        out[pk] = with_outlet_watts(out.get(pk, []), watts)
    return out


class BulkSchoolDays(SchoolDays):
    """calendars.service.SchoolDays with every place's calendar read in one query: a county-wide
    computation touches hundreds of schools, and one query per school cost a second on 5,000 devices.
    The rule is SchoolDays.calendar's: the school's own rows when it has any, else its municipality's."""

    def __init__(self, conn: Connection, holidays: Holidays | None = None) -> None:
        super().__init__(conn, holidays)
        c = CALENDAR_DAYS.c
        self._rows: dict[tuple[str, str | None], list[tuple[date, date, str, str]]] = defaultdict(list)
        for r in conn.execute(sa.select(c.municipality, c.school, c.start, c.end, c.kind, c.name).order_by(c.start)):
            self._rows[(r.municipality, r.school)].append((r.start, r.end, r.kind, r.name))
        self._bulk: dict[tuple[str, str | None], Calendar] = {}

    def calendar(self, municipality: str | None, school: str | None = None) -> Calendar:
        if municipality is None:
            return Calendar()
        key = (municipality, school)
        found = self._bulk.get(key)
        if found is None:
            own = self._rows.get((municipality, school), []) if school is not None else []
            found = self._bulk[key] = Calendar(own or self._rows.get((municipality, None), []))
        return found


def load_outages(conn: Connection, start: datetime, end: datetime) -> Outages:
    """Each agent's outages overlapping [start, end), as (since, until) with an open one until OPEN_END."""
    o = OUTAGES.c
    out: Outages = defaultdict(list)
    rows = conn.execute(sa.select(o.agent_id, o.since, o.until)
                        .where(o.since < end, sa.or_(o.until.is_(None), o.until > start)).order_by(o.since))
    for r in rows:
        out[r.agent_id].append((r.since, r.until or OPEN_END))
    return out


def day_figures(devices: list[DeviceInfo], history: dict[int, list[Reading]], day: date, now: datetime,
                hours: tuple[time, time], calendar: SchoolDays | None = None,
                outages: Outages | None = None) -> dict[int, Figures]:
    """Each device's figures of one local day, up to `now` when the day is today.

    `calendar`: the school calendars (breaks and study days are no school days); without it a
    school day is a weekday that is not a public holiday. `outages`: per agent, the stretches it was
    lost or stopped (gaps for its devices).
    """
    start, end = local_day_bounds(day)
    end = min(end, now)
    window = school_window(day, hours)
    out = {}
    school_day: dict[tuple[str | None, str | None], bool] = {}
    # A device whose state held all day (nights, weekends, breaks, a quiet morning) has the figures of
    # any other in the same state with the same watts, school day and gaps: computed once per kind.
    held: dict[tuple, Figures] = {}
    for dev in devices:
        place = (dev.municipality, dev.school)
        if place not in school_day:
            school_day[place] = is_school_day(dev.municipality, dev.school, day, calendar)
        readings = _within(history.get(dev.pk, []), start, end)
        gaps = outages.get(dev.agent_id, ()) if outages else ()
        school = window if school_day[place] else None
        if len(readings) > 1 or (readings and readings[0].observed_at > start):
            out[dev.pk] = compute(readings, start, end, watts=dev.watts, school=school, cutoff=dev.cutoff,
                                  outages=gaps)
            continue
        figures = held_figures(held, readings[0] if readings else None, start, end, dev, school, gaps)
        out[dev.pk] = replace(figures)  # each device its own object: callers may add to it
    return out


def held_figures(held: dict[tuple, Figures], reading: Reading | None, start: datetime, end: datetime,
                 dev: DeviceInfo, school: tuple[datetime, datetime] | None,
                 gaps: Sequence[tuple[datetime, datetime]]) -> Figures:
    """The figures of [start, end) for a device whose state `reading` (None: nothing known) held
    throughout, computed once per kind in `held`: the same state, watts, school day and gaps give
    the same figures, whichever device it is. The result is shared: add it, do not change it."""
    state = None if reading is None else (reading.availability, reading.power, reading.power_w)
    kind = (state, dev.watts, school is not None, dev.cutoff, tuple(gaps))
    found = held.get(kind)
    if found is None:
        found = held[kind] = compute([reading] if reading is not None else [], start, end, watts=dev.watts,
                                     school=school, cutoff=dev.cutoff, outages=gaps)
    return found


def _within(readings: list[Reading], start: datetime, end: datetime) -> list[Reading]:
    """The readings of [start, end) and the one before: a slice, so a span of many days stays linear."""
    first = bisect_right(readings, start, key=lambda r: r.observed_at)
    last = bisect_left(readings, end, key=lambda r: r.observed_at)
    return readings[max(0, first - 1):last]


def days_figures(conn: Connection, devices: list[DeviceInfo], days: list[date], now: datetime,
                 hours: tuple[time, time]) -> dict[date, dict[int, Figures]]:
    """Figures of several local days (on the fly), loading the history once for their span."""
    if not days or not devices:
        return {}
    start, _ = local_day_bounds(min(days))
    _, end = local_day_bounds(max(days))
    history = load_history(conn, [d.pk for d in devices], start, min(end, now))
    calendar = BulkSchoolDays(conn)  # every place's calendar read once for all these days
    outages = load_outages(conn, start, min(end, now))
    return {day: day_figures(devices, history, day, now, hours, calendar, outages) for day in days}


def rollup_day(conn: Connection, day: date, now: datetime, hours: tuple[time, time],
               resolver: WattsResolver) -> int:
    """Write every device's energy_daily row of a finished local day (again, if it was already)."""
    return rollup_days(conn, [day], now, hours, resolver)


def rollup_days(conn: Connection, days: list[date], now: datetime, hours: tuple[time, time],
                resolver: WattsResolver) -> int:
    """rollup_day for several days in one pass over their history (computed and written on `conn`)."""
    rows, count = daily_rows(conn, days, now, hours, resolver)
    write_daily(conn, days, rows, count, now)
    return len(rows)


def rollup_days_apart(engine: Engine, days: list[date], now: datetime, hours: tuple[time, time],
                      resolver: WattsResolver) -> int:
    """rollup_days that reads on its own connection and holds the write lock only to write (SQLite has
    one writer: the ingest must not wait for the arithmetic)."""
    with engine.connect() as conn:
        rows, count = daily_rows(conn, days, now, hours, resolver)
    with write_transaction(engine) as conn:
        write_daily(conn, days, rows, count, now)
    return len(rows)


def daily_rows(conn: Connection, days: list[date], now: datetime, hours: tuple[time, time],
               resolver: WattsResolver) -> tuple[list[dict], int]:
    """The energy_daily rows of `days` for every device, and the number of devices."""
    devices = load_devices(conn, resolver)
    figures = days_figures(conn, devices, days, now, hours)
    rows = [{"device_pk": dev.pk, "day": day, "year": day.year, "month": day.month, "agent_id": dev.agent_id,
             "device_id": dev.device_id, "municipality": dev.municipality, "school": dev.school,
             "room": dev.room, "computed_at": now, **_columns(figures[day][dev.pk])}
            for day in sorted(set(days)) if day in figures for dev in devices]
    return rows, len(devices)


def write_daily(conn: Connection, days: list[date], rows: list[dict], devices: int, now: datetime) -> None:
    wanted = sorted(set(days))
    if not wanted:
        return
    conn.execute(DAILY.delete().where(DAILY.c.day.in_(wanted)))
    conn.execute(ROLLED.delete().where(ROLLED.c.day.in_(wanted)))
    for i in range(0, len(rows), 5000):
        conn.execute(DAILY.insert(), rows[i:i + 5000])
    conn.execute(ROLLED.insert(), [{"day": day, "devices": devices, "computed_at": now} for day in wanted])
    for year, month in sorted({(d.year, d.month) for d in wanted}):
        refresh_month(conn, year, month)


FIGURE_COLUMNS = ("period_s", "measured_s", "rated_s", "kwh", "kwh_school_hours", "kwh_left_on", "kwh_standby",
                  "hours_on", "hours_left_on")


def refresh_month(conn: Connection, year: int, month: int) -> None:
    """Rewrite energy_monthly of one month from its energy_daily rows (in the roll-up's transaction)."""
    c = DAILY.c
    conn.execute(MONTHLY.delete().where(MONTHLY.c.year == year, MONTHLY.c.month == month))
    place = [sa.func.max(c[name]).label(name) for name in ("municipality", "school", "room", "agent_id",
                                                           "device_id")]
    sums = [sa.func.sum(c[name]).label(name) for name in FIGURE_COLUMNS]
    select = (sa.select(c.device_pk, c.year, c.month, sa.func.count().label("days"), *place, *sums)
              .where(c.year == year, c.month == month).group_by(c.device_pk, c.year, c.month))
    names = ["device_pk", "year", "month", "days", "municipality", "school", "room", "agent_id", "device_id",
             *FIGURE_COLUMNS]
    conn.execute(MONTHLY.insert().from_select(names, select))


def _columns(f: Figures) -> dict[str, float]:
    return {"period_s": f.period_s, "measured_s": f.measured_s, "rated_s": f.rated_s, "kwh": f.kwh,
            "kwh_school_hours": f.kwh_school_hours, "kwh_left_on": f.kwh_left_on, "kwh_standby": f.kwh_standby,
            "hours_on": f.hours_on, "hours_left_on": f.hours_left_on}


def first_history_day(conn: Connection) -> date | None:
    """The local day of the oldest transition: before it nothing was known (no items, not gaps)."""
    from avfleet.controller.energy.school_days import LOCAL

    h = HISTORY.c
    # One seek per device on (device_pk, observed_at): MIN over the whole table would scan it. The
    # outer query names devices in its FROM, else the subquery is not correlated and becomes that scan
    # over a join (1–3 s on a year of 5,000 devices instead of 0.03 s).
    per_device = (sa.select(h.observed_at).where(h.device_pk == DEVICES.c.id).order_by(h.observed_at)
                  .limit(1).correlate(DEVICES).scalar_subquery())
    firsts = [v for v in conn.execute(sa.select(per_device).select_from(DEVICES)).scalars() if v is not None]
    if not firsts:
        return None
    first = min(v if v.tzinfo is not None else v.replace(tzinfo=UTC) for v in firsts)
    return first.astimezone(LOCAL).date()


def rolled_days(conn: Connection, start: date, end: date) -> set[date]:
    return set(conn.execute(sa.select(ROLLED.c.day).where(ROLLED.c.day >= start, ROLLED.c.day <= end)).scalars())


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
