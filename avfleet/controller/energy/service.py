"""Energy answers per level and period (DESIGN.md "Energy"): stored days from energy_daily, the rest on the fly.

Finished days that the roll-up job has written are summed in SQL; today, and any finished day the
job has not reached yet, are computed from the history on the fly (a GET never writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.energy.compute import Figures
from avfleet.controller.energy.models import EnergyDay, EnergyMonth
from avfleet.controller.energy.rollup import (
    DeviceInfo,
    days_between,
    days_figures,
    first_history_day,
    load_devices,
    rolled_days,
)
from avfleet.controller.energy.school_days import LOCAL, parse_school_hours
from avfleet.controller.energy.today import TodayFigures
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.errors import InvalidInput
from avfleet.controller.settings import ControllerSettings

DAILY = EnergyDay.__table__
MONTHLY = EnergyMonth.__table__
LEVELS = ("county", "municipality", "school", "room", "device")
GROUPS = ("day", "month", "year")
# The place columns that name an item at each level.
PLACE_COLUMNS = {"county": (), "municipality": ("municipality",), "school": ("municipality", "school"),
                 "room": ("municipality", "school", "room"),
                 "device": ("municipality", "school", "room", "agent_id", "device_id")}
ITEM_PLACE = ("municipality", "school", "room", "agent_id", "device_id")
MAX_DAYS = 3 * 366 + 1
DEVICES_TTL_S = 60.0


@dataclass(frozen=True)
class EnergyQuery:
    level: str
    start: date
    end: date
    group: str = "month"
    municipality: str | None = None
    school: str | None = None
    room: str | None = None
    agent_id: str | None = None
    device_id: str | None = None
    scope: Scope = COUNTY  # tenancy: a limited caller's figures cover its municipalities only

    def check(self) -> None:
        if self.level not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}")
        if self.group not in GROUPS:
            raise InvalidInput(f"group must be one of {', '.join(GROUPS)}")
        if self.end < self.start:
            raise InvalidInput("to is before from")
        if self.start.year < 1971 or self.end.year > 9998:  # a year earlier and a day later stay dates
            raise InvalidInput("dates must lie between 1971 and 9998")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise InvalidInput(f"at most {MAX_DAYS} days per query")
        if self.level != "device" and (self.agent_id or self.device_id):
            raise InvalidInput("agent_id and device_id filter only level=device")

    def a_year_earlier(self) -> EnergyQuery:
        return EnergyQuery(self.level, _year_back(self.start), _year_back(self.end), self.group, self.municipality,
                           self.school, self.room, self.agent_id, self.device_id, self.scope)


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


class EnergyService:
    def __init__(self, settings: ControllerSettings, resolver: WattsResolver | None = None) -> None:
        self.settings = settings
        self.hours: tuple[time, time] = parse_school_hours(settings.school_hours)
        self.resolver = resolver or WattsResolver()
        self._device_cache: dict[tuple, tuple[float, list[DeviceInfo]]] = {}
        self._first: tuple[float, date] | None = None
        self.today = TodayFigures(self.hours)

    def factor(self, year: int) -> dict[str, Any]:
        own = self.settings.co2e_by_year.get(year)
        if own is None:
            return {"g_co2e_per_kwh": self.settings.co2e_g_per_kwh, "source": self.settings.co2e_source}
        return {"g_co2e_per_kwh": own.g_co2e_per_kwh, "source": own.source or self.settings.co2e_source}

    def answer(self, conn: Connection, query: EnergyQuery, now: datetime) -> dict[str, Any]:
        """The contract's answer: items, factor, previous_year (and factors per year when they differ)."""
        query.check()
        first = self.first_day(conn)
        items = self.items(conn, query, now, first=first)
        previous = self.items(conn, query.a_year_earlier(), now, first=first)
        years = range(query.start.year - 1, query.end.year + 1)
        return {"items": items, "total": len(items), "factor": self.factor(query.end.year),
                "factors": [{"year": y, **self.factor(y)} for y in years], "previous_year": previous,
                "timezone": "Europe/Stockholm", "from": query.start.isoformat(), "to": query.end.isoformat()}

    def first_day(self, conn: Connection) -> date | None:
        """rollup.first_history_day, kept DEVICES_TTL_S: one index seek per device (0.3 s on 5,000), and
        it moves only when older history arrives (a demo seed) or is pruned."""
        if self._first is not None and monotonic() - self._first[0] < DEVICES_TTL_S:
            return self._first[1]
        first = first_history_day(conn)
        if first is not None:  # an empty database stays unknown: the first transition may come any time
            self._first = (monotonic(), first)
        return first

    def items(self, conn: Connection, query: EnergyQuery, now: datetime, *,
              first: date | bool | None = False) -> list[dict[str, Any]]:
        """`first`: the first history day when the caller has it (False: look it up)."""
        today = now.astimezone(LOCAL).date()
        last = min(query.end, today)
        sums: dict[tuple, Figures] = {}
        if query.start <= last:
            finished_end = min(last, date.fromordinal(today.toordinal() - 1))
            stored = rolled_days(conn, query.start, finished_end) if query.start <= finished_end else set()
            months, outside = self._monthly(conn, query, stored) if query.group != "day" else (set(), [])
            if months:
                self._stored_months(conn, query, months, sums)
            if outside:  # rolled days of those months outside the range: taken away again
                self._sum(conn, query, DAILY, DAILY.c.day.in_(sorted(outside)), sums, sign=-1.0)
            by_month: dict[tuple[int, int], list[date]] = {}
            for day in stored:
                if (day.year, day.month) not in months:
                    by_month.setdefault((day.year, day.month), []).append(day)
            for days in by_month.values():
                self._stored(conn, query, min(days), max(days), sums)
            if first is False:
                first = self.first_day(conn)
            missing = [d for d in days_between(max(query.start, first), last) if d not in stored] if first else []
            if missing:
                self._on_the_fly(conn, query, missing, now, sums)
        return [self._item(query, key, figures) for key, figures in sorted(sums.items(), key=_sort_key)
                if figures.period_s > 1e-6]  # a place with only days taken away again (a device moved)

    @staticmethod
    def _monthly(conn: Connection, query: EnergyQuery, stored: set[date]) -> tuple[set[tuple[int, int]], list[date]]:
        """The months energy_monthly answers, and the rolled days to take away from them.

        energy_monthly holds, per device, the sum of the month's rolled days. So a month whose rolled
        days all lie in the range is its energy_monthly rows (a whole month, or the partial first
        month of the history: a county-year query sums 12 rows per device, not 365); a month with
        fewer rolled days outside the range than inside is its rows minus those days' energy_daily
        rows; any other month sums its energy_daily rows of the range.
        """
        if not stored:
            return set(), []
        first = min(stored).replace(day=1)
        last_month = max(stored)
        last = date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1) - timedelta(days=1)
        rolled: dict[tuple[int, int], list[date]] = {}
        for day in rolled_days(conn, first, last):
            rolled.setdefault((day.year, day.month), []).append(day)
        months, outside = set(), []
        for ym, days in rolled.items():
            inside = [d for d in days if d in stored]
            out = [d for d in days if d not in stored]
            if inside and len(out) < len(inside):
                months.add(ym)
                outside += out
        return months, outside

    def _stored_months(self, conn: Connection, query: EnergyQuery, months: set[tuple[int, int]],
                       sums: dict[tuple, Figures]) -> None:
        self._sum(conn, query, MONTHLY, sa.or_(*(sa.and_(MONTHLY.c.year == y, MONTHLY.c.month == m)
                                                 for y, m in sorted(months))), sums)

    def _stored(self, conn: Connection, query: EnergyQuery, start: date, end: date, sums: dict[tuple, Figures]) -> None:
        self._sum(conn, query, DAILY, sa.and_(DAILY.c.day >= start, DAILY.c.day <= end), sums)

    def _sum(self, conn: Connection, query: EnergyQuery, table: sa.Table, where: Any,
             sums: dict[tuple, Figures], sign: float = 1.0) -> None:
        c = table.c
        place = [c[name] for name in PLACE_COLUMNS[query.level]]
        period = {"day": ["day"], "month": ["year", "month"], "year": ["year"]}[query.group]
        period = [c[name] for name in period]
        filters = [c[name] == value for name in ITEM_PLACE if (value := getattr(query, name)) is not None]
        filters += query.scope.clauses(c.municipality)
        figures = [sa.func.sum(c[name]).label(name) for name in
                   ("period_s", "measured_s", "rated_s", "kwh", "kwh_school_hours", "kwh_left_on", "kwh_standby",
                    "hours_on", "hours_left_on")]
        rows = conn.execute(sa.select(*place, *period, *figures).where(where, *filters).group_by(*place, *period))
        n_place = len(place)
        for r in rows:
            key = (*r[:n_place], _period_label(query.group, *r[n_place:n_place + len(period)]))
            sums.setdefault(key, Figures()).add(Figures(**{k: float(r._mapping[k] or 0) for k in _FIGURE_FIELDS}),
                                                sign)

    def _on_the_fly(self, conn: Connection, query: EnergyQuery, days: list[date], now: datetime,
                    sums: dict[tuple, Figures]) -> None:
        source = self._devices(conn, query)
        devices = [dev for dev in source if query.scope.allows(dev.municipality)]
        names = PLACE_COLUMNS[query.level]
        today = now.astimezone(LOCAL).date()
        figures = days_figures(conn, devices, [d for d in days if d != today], now, self.hours)
        if today in days:
            key = (tuple(getattr(query, name) for name in ITEM_PLACE), query.scope.municipalities)
            figures[today] = self.today.figures(conn, key, source, devices, today, now)
        for day, per_device in figures.items():
            label = _period_label(query.group, *_period_parts(query.group, day))
            for dev in devices:
                key = (*(getattr(dev, name) for name in names), label)
                found = sums.get(key)
                if found is None:
                    found = sums[key] = Figures()
                found.add(per_device[dev.pk])

    def _devices(self, conn: Connection, query: EnergyQuery) -> list[DeviceInfo]:
        """The devices in scope with their watts, looked up again after DEVICES_TTL_S: 5,000 cost more
        than today's arithmetic, and placements and profiles change seldom (the history is read every
        time). An unchanged list is handed out as the same object, which keeps today's figures."""
        key = tuple(getattr(query, name) for name in ITEM_PLACE)
        cached = self._device_cache.get(key)
        if cached is not None and monotonic() - cached[0] < DEVICES_TTL_S:
            return cached[1]
        devices = load_devices(conn, self.resolver, municipality=query.municipality, school=query.school,
                               room=query.room, agent_id=query.agent_id, device_id=query.device_id)
        if cached is not None and cached[1] == devices:
            devices = cached[1]  # the same list object: today's kept figures stay valid (energy/today.py)
        if len(self._device_cache) > 256:
            self._device_cache.clear()
        self._device_cache[key] = (monotonic(), devices)
        return devices

    def _item(self, query: EnergyQuery, key: tuple, f: Figures) -> dict[str, Any]:
        place = dict(zip(PLACE_COLUMNS[query.level], key[:-1], strict=True))
        period = key[-1]
        factor = self.factor(int(period[:4]))
        return {"level": query.level, **{name: place.get(name) for name in ITEM_PLACE}, "period": period,
                "kwh": round(f.kwh, 3), "kwh_school_hours": round(f.kwh_school_hours, 3),
                "kwh_left_on": round(f.kwh_left_on, 3), "kwh_standby": round(f.kwh_standby, 3),
                "hours_on": round(f.hours_on, 2), "hours_left_on": round(f.hours_left_on, 2),
                "co2e_kg": round(f.kwh * factor["g_co2e_per_kwh"] / 1000, 3), "basis": f.basis,
                "coverage": round(f.coverage, 4)}


_FIGURE_FIELDS = ("period_s", "measured_s", "rated_s", "kwh", "kwh_school_hours", "kwh_left_on", "kwh_standby",
                  "hours_on", "hours_left_on")


def _period_parts(group: str, day: date) -> tuple:
    return {"day": (day,), "month": (day.year, day.month), "year": (day.year,)}[group]


def _period_label(group: str, *parts: Any) -> str:
    if group == "day":
        value = parts[0]
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if group == "month":
        return f"{int(parts[0]):04d}-{int(parts[1]):02d}"
    return f"{int(parts[0]):04d}"


def _sort_key(item: tuple[tuple, Figures]) -> tuple:
    return tuple("" if part is None else str(part) for part in item[0])
