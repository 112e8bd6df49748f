"""The shape every report is built into before it becomes CSV, XLSX or PDF: pure data, no I/O.

The indicator code (reports/indicators.py and friends) fills a `ReportDocument`; the renderers
(reports/render_*.py) turn one into bytes without knowing what the figures mean. Labels are
catalogue keys (avfleet/i18n), so one document renders in Swedish or English; values stay typed
(int, float, date, str, None) so XLSX cells are numbers and dates, not text.

Comparison with the previous year is part of the shape: a column with `compare=True` carries, in
each row, the value under `key` and last year's under `key + PREVIOUS_SUFFIX`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

ValueKind = Literal["text", "int", "float", "percent", "date", "kwh", "kg", "sek", "hours", "days"]
ChartKind = Literal["bar", "barh", "line"]
PREVIOUS_SUFFIX = "__previous"

Value = str | int | float | date | datetime | None


@dataclass(frozen=True)
class Column:
    key: str  # the row dict's key
    label: str  # a catalogue key (avfleet/i18n/catalogue.py)
    kind: ValueKind = "text"
    compare: bool = False  # rows also hold key + PREVIOUS_SUFFIX: last year's value


@dataclass(frozen=True)
class Table:
    key: str  # stable id: the CSV's section column, the XLSX sheet (with the section's)
    title: str  # catalogue key
    columns: tuple[Column, ...]
    rows: list[dict[str, Value]]
    note: str | None = None  # catalogue key of a sentence under the table (an assumption, a source)
    note_values: dict[str, Value] = field(default_factory=dict)  # fills the note's {placeholders}


@dataclass(frozen=True)
class Series:
    label: str  # catalogue key, or a literal name (a municipality) when `literal` is set
    values: list[float | None]
    literal: bool = False


@dataclass(frozen=True)
class Chart:
    key: str
    title: str  # catalogue key
    kind: ChartKind
    categories: list[str]  # x axis (bar, line) or y axis (barh) labels, already human text (names, months)
    series: list[Series]
    unit: str | None = None  # catalogue key of the value axis' unit
    reference: float | None = None  # a horizontal/vertical line, e.g. the county median
    reference_label: str | None = None  # catalogue key


@dataclass(frozen=True)
class Section:
    key: str  # inventory | health | service_life | warranty | repairs | energy | equity | procurement
    title: str  # catalogue key
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)


@dataclass(frozen=True)
class ReportDocument:
    """One report: a municipality's or the county's (municipality None) for one calendar year."""

    kind: Literal["inventory"]
    municipality: str | None
    year: int
    generated_at: datetime  # aware; shown in Europe/Stockholm
    sections: list[Section]
    co2e_g_per_kwh: float | None = None
    co2e_source: str | None = None
    assumptions: list[tuple[str, dict[str, Value]]] = field(default_factory=list)  # (catalogue key, values)

    @property
    def previous_year(self) -> int:
        return self.year - 1
