"""The report's year and the register's units as they stood at its end: inventory and warranty indicators.

Every indicator is computed twice, for the report's year and the one before, from the same rows:
the register keeps one row per unit with its dates (install, purchase, retired, reused, recycled),
so "in service at a day" is decided from those dates, not from a snapshot. A unit counts from its
install date (else purchase date, else the day it entered the register) until it was retired or
recycled; a reused unit counts again from its reuse date. Kind, model and firmware are the
register's current values (the history of those fields is not replayed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.inventory.models import InventoryUnit
from avfleet.controller.reports.document import PREVIOUS_SUFFIX, Chart, Column, Section, Series, Table, Value
from avfleet.i18n import STOCKHOLM, text

UNITS = InventoryUnit.__table__
P = PREVIOUS_SUFFIX
AGE_BANDS = ((0, 1, "0_1"), (1, 3, "1_3"), (3, 5, "3_5"), (5, 8, "5_8"), (8, 1000, "8_plus"))
WARRANTY_WINDOWS = (30, 60, 90, 180)


def year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=STOCKHOLM).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """One calendar year, up to `as_of` (the last day counted: 31 December, or today in the current year)."""

    year: int
    as_of: date

    @property
    def start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        return date(self.year, 12, 31)

    @property
    def start_utc(self) -> datetime:
        return local_midnight_utc(self.start)

    @property
    def until_utc(self) -> datetime:
        """The end of `as_of` (exclusive), as UTC."""
        return local_midnight_utc(self.as_of + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.as_of - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.year - 1, year_back(self.as_of) if self.as_of < self.end else date(self.year - 1, 12, 31))


def period_of(year: int, now: datetime) -> Period:
    today = now.astimezone(STOCKHOLM).date()
    return Period(year, min(date(year, 12, 31), max(today, date(year, 1, 1))))


@dataclass(frozen=True)
class Unit:
    id: int
    municipality: str
    school: str
    kind: str
    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    install_date: date | None
    purchase_date: date | None
    warranty_end: date | None
    lifecycle: str
    agent_id: str | None
    device_id: str | None
    retired_on: date | None
    reused_on: date | None
    recycled_on: date | None
    entered: date  # the day it entered the register

    @property
    def since(self) -> date:
        return self.install_date or self.purchase_date or self.entered

    def in_service(self, day: date) -> bool:
        """In the municipality's fleet at the end of `day` (in use, in repair, spare or reused)."""
        if self.since > day:
            return False
        if self.recycled_on is not None and self.recycled_on <= day:
            return False
        if self.retired_on is not None and self.retired_on <= day:
            return self.reused_on is not None and self.retired_on <= self.reused_on <= day
        return True

    def service_years(self, period: Period) -> float:
        """The share of the period this unit was in service (a unit-year is one unit for a whole year)."""
        first = max(self.since, period.start)
        if first > period.as_of:
            return 0.0
        days = sum(1 for n in range((period.as_of - first).days + 1) if self.in_service(first + timedelta(days=n))) \
            if (self.retired_on or self.recycled_on) else (period.as_of - first).days + 1
        return days / 365.0

    def age_years(self, day: date) -> float | None:
        bought = self.purchase_date or self.install_date
        if bought is None or bought > day:
            return None
        return (day - bought).days / 365.25

    @property
    def model_name(self) -> str | None:
        name = " ".join(x for x in (self.manufacturer, self.model) if x)
        return name or None


def load_units(conn: Connection, municipality: str | None, scope: Scope = COUNTY) -> list[Unit]:
    u = UNITS.c
    where = [*scope.clauses(u.municipality)]
    if municipality is not None:
        where.append(u.municipality == municipality)
    rows = conn.execute(sa.select(
        u.id, u.municipality, u.school, u.kind, u.manufacturer, u.model, u.serial, u.firmware, u.install_date,
        u.purchase_date, u.warranty_end, u.lifecycle, u.agent_id, u.device_id, u.retired_on, u.reused_on,
        u.recycled_on, u.created_at).where(*where).order_by(u.id))
    return [Unit(*r[:-1], entered=r.created_at.astimezone(STOCKHOLM).date()) for r in rows]


def age_band(age: float | None) -> str:
    # A unit bought after the report's date (a report of an earlier year) has no age there yet.
    if age is None or age < 0:
        return "unknown"
    return next((key for lo, hi, key in AGE_BANDS if lo <= age < hi), AGE_BANDS[-1][2])


def compare_rows(current: Counter, previous: Counter, label_key: str, labels: dict[str, str] | None = None,
                 order: list[str] | None = None) -> list[dict[str, Value]]:
    """One row per category seen in either year: its count this year and last, most units first."""
    keys = order or sorted(set(current) | set(previous), key=lambda k: (-current.get(k, 0), str(k)))
    return [{label_key: (labels or {}).get(k, k), "units": current.get(k, 0), "units" + P: previous.get(k, 0)}
            for k in keys if current.get(k, 0) or previous.get(k, 0)]


def _counts(units: list[Unit], day: date, key: Any) -> Counter:
    return Counter(key(unit) for unit in units if unit.in_service(day))


def unknown(lang: str) -> str:
    return text("report.value.unknown", lang)


def kind_label(kind: str, lang: str) -> str:
    key = f"report.kind.{kind}"
    from avfleet.i18n.reports import REPORTS

    return text(key, lang) if key in REPORTS else kind


def inventory_section(units: list[Unit], period: Period, lang: str) -> Section:
    day, before = period.as_of, period.previous().as_of
    units_col = Column("units", "report.column.units", "int", compare=True)
    kinds = {u.kind: kind_label(u.kind, lang) for u in units}
    by_kind_now, by_kind_then = _counts(units, day, lambda u: u.kind), _counts(units, before, lambda u: u.kind)
    by_kind = compare_rows(by_kind_now, by_kind_then, "kind", kinds)
    total = {"kind": text("report.value.total", lang), "units": sum(by_kind_now.values()),
             "units" + P: sum(by_kind_then.values())}
    no_name = unknown(lang)
    by_model = compare_rows(_counts(units, day, lambda u: u.model_name or no_name),
                            _counts(units, before, lambda u: u.model_name or no_name), "model")
    band_labels = {key: text(f"report.age.{key}", lang) for *_, key in AGE_BANDS} | {"unknown": no_name}
    by_age = compare_rows(_counts(units, day, lambda u: age_band(u.age_years(day))),
                          _counts(units, before, lambda u: age_band(u.age_years(before))), "age", band_labels,
                          order=[key for *_, key in AGE_BANDS] + ["unknown"])
    by_firmware = compare_rows(_counts(units, day, lambda u: u.firmware or no_name),
                               _counts(units, before, lambda u: u.firmware or no_name), "firmware")
    tables = [
        Table("by_kind", "report.inventory.by_kind", (Column("kind", "report.column.kind"), units_col),
              [*by_kind, total], note="report.note.in_service", note_values={"date": day, "previous": before}),
        Table("by_model", "report.inventory.by_model", (Column("model", "report.column.model"), units_col), by_model),
        Table("by_age", "report.inventory.by_age", (Column("age", "report.column.age_band"), units_col), by_age,
              note="report.note.age"),
        Table("by_firmware", "report.inventory.by_firmware", (Column("firmware", "report.column.firmware"), units_col),
              by_firmware, note="report.note.current_fields"),
    ]
    chart = Chart("inventory_by_kind", "report.chart.inventory_by_kind", "bar",
                  [str(r["kind"]) for r in by_kind],
                  [Series(str(period.year), [float(r["units"]) for r in by_kind], literal=True),  # type: ignore[arg-type]
                   Series(str(period.year - 1), [float(r["units" + P]) for r in by_kind], literal=True)],  # type: ignore[arg-type]
                  unit="report.unit.units")
    return Section("inventory", "report.section.inventory", tables, [chart])


def warranty_counts(units: list[Unit], day: date) -> dict[str, int]:
    """Units in service whose warranty ends within N days after `day` (cumulative), and those past it."""
    out = {f"within_{n}": 0 for n in WARRANTY_WINDOWS} | {"expired": 0, "unknown": 0}
    for unit in units:
        if not unit.in_service(day):
            continue
        if unit.warranty_end is None:
            out["unknown"] += 1
            continue
        left = (unit.warranty_end - day).days
        if left < 0:
            out["expired"] += 1
        for n in WARRANTY_WINDOWS:
            if 0 <= left <= n:
                out[f"within_{n}"] += 1
    return out


def warranty_section(units: list[Unit], period: Period, lang: str) -> Section:
    now, then = warranty_counts(units, period.as_of), warranty_counts(units, period.previous().as_of)
    rows: list[dict[str, Value]] = [
        {"window": text(f"report.warranty.{key}", lang), "units": now[key], "units" + P: then[key]}
        for key in (*(f"within_{n}" for n in WARRANTY_WINDOWS), "expired", "unknown")]
    ending = sorted((u for u in units if u.in_service(period.as_of) and u.warranty_end is not None
                     and 0 <= (u.warranty_end - period.as_of).days <= WARRANTY_WINDOWS[-1]),
                    key=lambda u: (u.warranty_end, u.id))
    listed = [{"warranty_end": u.warranty_end, "school": u.school, "kind": kind_label(u.kind, lang),
               "model": u.model_name, "serial": u.serial} for u in ending]
    return Section("warranty", "report.section.warranty", [
        Table("windows", "report.warranty.windows",
              (Column("window", "report.column.window"), Column("units", "report.column.units", "int", compare=True)),
              rows, note="report.note.warranty", note_values={"date": period.as_of}),
        Table("ending", "report.warranty.ending",
              (Column("warranty_end", "report.column.warranty_end", "date"), Column("school", "report.column.school"),
               Column("kind", "report.column.kind"), Column("model", "report.column.model"),
               Column("serial", "report.column.serial")), listed),
    ])
