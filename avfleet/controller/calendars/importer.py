"""Reading a school calendar file: CSV (`start,end,kind,name`) or ICS (all-day VEVENTs).

Every row gets a fate with its line number; the caller writes nothing unless every row is good.
ICS: DTEND of an all-day event is exclusive (RFC 5545), so the last day is DTEND - 1; the kind is
the event's CATEGORIES when it names one, else guessed from the summary ("studiedag" → study_day,
"stängt"/"stängning" → closing_day, else break).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from avfleet.controller.calendars.models import KINDS
from avfleet.controller.calendars.schemas import CalendarDayItem


@dataclass(frozen=True)
class RowFate:
    line: int
    day: dict[str, Any] | None  # the validated day, or None when the row is bad
    error: str | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"line {self.line}: error: {self.error}"
        d = self.day or {}
        return f"line {self.line}: ok {d['start']}..{d['end']} {d['kind']} {d['name']}".rstrip()


class CalendarFileError(ValueError):
    """The file cannot be read at all (unknown format, not UTF-8, not a calendar)."""


def read_file(path: Path) -> list[RowFate]:
    suffix = path.suffix.lower()
    data = path.read_bytes()
    if suffix == ".csv":
        return parse_csv(data)
    if suffix in (".ics", ".ical"):
        return parse_ics(data)
    raise CalendarFileError(f"{path}: unknown calendar format {suffix!r} (use .csv or .ics)")


def _day(line: int, values: dict[str, Any]) -> RowFate:
    try:
        item = CalendarDayItem.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "row"
        return RowFate(line, None, f"{where}: {first.get('msg', 'invalid')}")
    return RowFate(line, item.model_dump())


def parse_csv(data: bytes) -> list[RowFate]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CalendarFileError(f"not UTF-8: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    fates = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in row]
        if line == 1 and [c.lower() for c in cells[:3]] == ["start", "end", "kind"]:
            continue  # the header
        if len(cells) not in (3, 4):
            fates.append(RowFate(line, None, f"expected start,end,kind,name; got {len(cells)} columns"))
            continue
        fates.append(_day(line, {"start": cells[0], "end": cells[1], "kind": cells[2],
                                 "name": cells[3] if len(cells) == 4 else ""}))
    return fates


def _guess_kind(summary: str) -> str:
    low = summary.lower()
    if "studiedag" in low or "study" in low:
        return "study_day"
    if "stängt" in low or "stängning" in low or "closing" in low:
        return "closing_day"
    return "break"


def _as_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    return value


def parse_ics(data: bytes) -> list[RowFate]:
    import icalendar

    try:
        text = data.decode("utf-8-sig")
        calendar = icalendar.Calendar.from_ical(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CalendarFileError(f"not an iCalendar file: {exc}") from None
    # icalendar keeps no line numbers: the n-th VEVENT starts at the n-th BEGIN:VEVENT line.
    starts = [n for n, raw in enumerate(text.splitlines(), start=1) if raw.strip().upper() == "BEGIN:VEVENT"]
    fates = []
    for index, event in enumerate(calendar.walk("VEVENT")):
        line = starts[index] if index < len(starts) else 0
        summary = str(event.get("SUMMARY", "")).strip()
        dtstart = event.get("DTSTART")
        if dtstart is None:
            fates.append(RowFate(line, None, "VEVENT without DTSTART"))
            continue
        start = _as_date(dtstart.dt)
        dtend = event.get("DTEND")
        if dtend is None:
            end = start
        else:
            end = _as_date(dtend.dt)
            # All-day events end the day before DTEND; a timed event ends on its own date.
            if isinstance(dtend.dt, date) and not isinstance(dtend.dt, datetime) and end > start:
                end = end - timedelta(days=1)
        kind = _guess_kind(summary)
        categories = event.get("CATEGORIES")
        if categories is not None:
            names = [str(c).strip().lower() for c in getattr(categories, "cats", [categories])]
            named = [n for n in names if n in KINDS]
            if named:
                kind = named[0]
            elif names and names[0]:
                kind = re.sub(r"\s+", "_", names[0])  # validated below: an unknown kind is a bad row
        fates.append(_day(line, {"start": start, "end": end, "kind": kind, "name": summary[:128]}))
    if not fates:
        raise CalendarFileError("no VEVENT in the file")
    return fates
