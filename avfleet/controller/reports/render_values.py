"""What the report renderers share: output columns, how a value reads, the report's title and place.

A table's columns unfold into output columns (a `compare=True` column becomes this year, last
year and, for numbers, the change); a value is shown to a reader with the Swedish decimal comma
and no-break groups, "–" for nothing; for a machine (CSV) with dot decimals and ISO dates.
Percent values are fractions (0.953 is 95.3 %); the change of a percent is in percentage points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from avfleet.controller.reports.document import PREVIOUS_SUFFIX, Column, ReportDocument, Table, Value, ValueKind
from avfleet.i18n import STOCKHOLM, local_time, text

Role = Literal["current", "previous", "change"]

NUMERIC_KINDS: frozenset[str] = frozenset({"int", "float", "percent", "kwh", "kg", "sek", "hours", "days"})
_UNIT_KEYS: dict[str, str] = {"kwh": "layout.unit.kwh", "kg": "layout.unit.kg", "sek": "layout.unit.sek",
                              "hours": "layout.unit.hours", "days": "layout.unit.days"}
# Decimals shown to a reader (PDF, XLSX number formats); the CSV keeps every digit.
DECIMALS: dict[str, int] = {"int": 0, "float": 2, "percent": 1, "kwh": 1, "kg": 1, "sek": 0, "hours": 1, "days": 1}


def report_title(doc: ReportDocument, lang: str) -> str:
    return text(f"layout.title.{doc.kind}", lang)


def place(doc: ReportDocument, lang: str) -> str:
    """The municipality's name, or the whole county's words."""
    return doc.municipality if doc.municipality else text("layout.place.county", lang)


def generated_line(doc: ReportDocument, lang: str) -> str:
    return text("layout.cover.generated_line", lang, time=local_time(doc.generated_at))


def label(key: str, doc: ReportDocument, lang: str) -> str:
    """A catalogue label; `year` and `previous_year` are offered to every one (series "2026" / "2025")."""
    return text(key, lang, year=doc.year, previous_year=doc.previous_year)


def note_text(table: Table, doc: ReportDocument, lang: str) -> str | None:
    if table.note is None:
        return None
    values = {"year": str(doc.year), "previous_year": str(doc.previous_year), **table.note_values}
    return text(table.note, lang, **{k: _plain(v, lang) for k, v in values.items()})


def assumption_texts(doc: ReportDocument, lang: str) -> list[str]:
    return [text(key, lang, **{k: _plain(v, lang) for k, v in values.items()}) for key, values in doc.assumptions]


def cover_lines(doc: ReportDocument, lang: str) -> list[tuple[str, Value]]:
    """(label, value) of the cover: place, year, compared year, generated at, CO2e factor and source."""
    lines: list[tuple[str, Value]] = [
        (text("layout.cover.place", lang), place(doc, lang)),
        (text("layout.cover.year", lang), doc.year),
        (text("layout.cover.compared", lang), doc.previous_year),
        (text("layout.cover.generated", lang), local_time(doc.generated_at)),
    ]
    co2e = co2e_text(doc, lang)
    if co2e:
        lines.append((text("layout.cover.co2e", lang), co2e))
    if doc.co2e_source:
        lines.append((text("layout.cover.co2e_source", lang), doc.co2e_source))
    return lines


def co2e_text(doc: ReportDocument, lang: str) -> str | None:
    if doc.co2e_g_per_kwh is None:
        return None
    return text("layout.cover.co2e_value", lang, factor=show(doc.co2e_g_per_kwh, "float", lang, trim=True))


@dataclass(frozen=True)
class OutColumn:
    """One column of a rendered table: a document column's current or previous value, or their change."""

    column: Column
    role: Role
    header: str
    kind: ValueKind  # what the cells hold (a change of a date is never made)
    get: Callable[[dict[str, Value]], Value]


def out_columns(table: Table, doc: ReportDocument, lang: str) -> list[OutColumn]:
    """The table's columns as rendered: a compare column is followed by last year's and the change."""
    result: list[OutColumn] = []
    for column in table.columns:
        base = text(column.label, lang)
        unit = unit_text(column.kind, lang)
        shown = text("layout.column.with_unit", lang, label=base, unit=unit) if unit else base
        key = column.key
        result.append(OutColumn(column, "current", shown, column.kind, lambda row, key=key: row.get(key)))
        if not column.compare:
            continue
        prev_key = key + PREVIOUS_SUFFIX
        result.append(OutColumn(column, "previous",
                                text("layout.column.previous", lang, label=shown, year=doc.previous_year),
                                column.kind, lambda row, k=prev_key: row.get(k)))
        if column.kind in NUMERIC_KINDS:
            change_key = "layout.column.change_points" if column.kind == "percent" else "layout.column.change"
            result.append(OutColumn(column, "change", text(change_key, lang, label=shown), column.kind,
                                    lambda row, a=key, b=prev_key: change(row.get(a), row.get(b))))
    return result


def unit_text(kind: str, lang: str) -> str | None:
    key = _UNIT_KEYS.get(kind)
    return text(key, lang) if key else None


def change(current: Value, previous: Value) -> float | int | None:
    """This year minus last year; nothing when either is missing or not a number."""
    if not _is_number(current) or not _is_number(previous):
        return None
    return current - previous  # type: ignore[operator]


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def show(value: Value, kind: str, lang: str, *, signed: bool = False, trim: bool = False) -> str:
    """A value as a reader sees it: `1 234,5` in Swedish, `1,234.5` in English, percents with `%`.

    Measured kinds keep their decimals so a column lines up (kWh 1, SEK 0, percent 1); a plain
    float (a ratio, a mixed "value" column) and `trim` drop trailing zeros: 1.5, 42, 0.25.
    """
    if value is None:
        return text("value.none", lang)
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if not _is_number(value):
        return str(value)
    number = float(value) * 100 if kind == "percent" else value
    decimals = DECIMALS.get(kind, 2)
    formatted = f"{number:{'+' if signed else ''},.{decimals}f}"
    if trim or kind == "float":
        formatted = formatted.rstrip("0").rstrip(".") if "." in formatted else formatted
    if lang == "sv":
        # Swedish: a (non-breaking) space between groups, a decimal comma, a true minus sign.
        formatted = formatted.replace(",", "\u00a0").replace(".", ",").replace("-", "\u2212")
    if kind == "percent":
        formatted += "\u00a0%" if lang == "sv" else "%"
    return formatted


def _plain(value: Value, lang: str) -> str:
    # Placeholders in notes and assumptions: numbers as a reader would write them.
    if isinstance(value, float):
        return show(value, "float", lang, trim=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return show(value, "int", lang)
    return show(value, "text", lang)


def iso(value: Value) -> str:
    """A value for a machine (CSV): dot decimals, ISO dates, times with their Stockholm offset."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(STOCKHOLM).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(round(value, 10)).removesuffix(".0") if value.is_integer() else repr(round(value, 10))
    return str(value)
