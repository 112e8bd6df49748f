"""The inventory CSV (DESIGN.md "Inventory and reports"): its columns, row checks and writing; no database.

One column per contract field from `municipality` to `lifecycle`, plus `notes`; ISO dates; UTF-8
(a BOM is accepted on reading, never written). `parse()` checks every row on its own and against the
file's other rows (a serial or MAC twice); what needs the register (which unit a row updates) is the
controller's importer. Each problem names its line (the physical line where the row ends, the header
being line 1) and its field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from avfleet.profiles.vocabulary import Kind

COLUMNS = ("municipality", "school", "room", "kind", "manufacturer", "model", "serial", "mac", "firmware",
           "install_date", "purchase_date", "supplier", "warranty_end", "lifecycle", "notes")
DATES = ("install_date", "purchase_date", "warranty_end")
LIFECYCLES = ("in_use", "in_repair", "spare", "reused", "retired", "recycled")
# The profile kinds an agent reports, and what a classroom holds beside them without an agent.
KINDS = (*(k.value for k in Kind), "document_camera", "audio", "screen", "computer")
MAX_LENGTH = {"municipality": 128, "school": 128, "room": 128, "kind": 32, "manufacturer": 128, "model": 128,
              "serial": 128, "mac": 32, "firmware": 128, "supplier": 128, "lifecycle": 16, "notes": 2000}
MAX_ROWS = 100_000
_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); no row is judged."""


@dataclass
class Row:
    """One data row: `values` are the parsed cells (None for empty), `errors` (field, problem) pairs."""

    line: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def normalize_mac(text: str) -> str | None:
    """aa:bb:cc:dd:ee:ff from any of the usual spellings (dashes, no separators, upper case); None if not a MAC."""
    low = text.strip().lower()
    if not _MAC.match(low):
        return None
    digits = re.sub(r"[:-]", "", low)
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"the file is not UTF-8 (byte {exc.start})") from None


def parse(text: str, today: date) -> list[Row]:
    """Every data row of the CSV `text`, parsed and checked; raises CsvFileError for a bad header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvFileError("the file is empty (a header row is needed)") from None
    except csv.Error as exc:
        raise CsvFileError(f"line 1: {exc}") from None
    names = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [h for h in names if h not in COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        raise CsvFileError(f"line 1: the header must name the columns {', '.join(COLUMNS)}"
                           + (f"; missing: {', '.join(missing)}" if missing else "")
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append(Row(reader.line_num, errors=[("row", str(exc))]))
            break
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line is no row
        if len(rows) >= MAX_ROWS:
            raise CsvFileError(f"more than {MAX_ROWS} rows: split the file")
        row = _check(reader.line_num, names, cells, today)
        for key in ("serial", "mac"):
            value = row.values.get(key)
            if value is None:
                continue
            first = seen.setdefault((key, value.lower()), row.line)
            if first != row.line:
                row.errors.append((key, f"{value!r} is also on line {first}"))
        rows.append(row)
    return rows


def _check(line: int, names: list[str], cells: list[str], today: date) -> Row:
    row = Row(line)
    if len(cells) != len(names):
        row.errors.append(("row", f"{len(cells)} cells where the header has {len(names)}"))
        return row
    return check(line, {name: cell for name, cell in zip(names, cells, strict=True)}, today)


def check(line: int, cells: Mapping[str, str], today: date) -> Row:
    """One row's cells (every column, text as in the CSV) parsed and checked: the import's and PATCH's rules."""
    row = Row(line)
    raw = {name: (cells.get(name) or "").strip() for name in COLUMNS}
    for name in COLUMNS:
        text = raw[name]
        if _CONTROL.search(text):
            row.errors.append((name, "control characters are not allowed"))
            continue
        if len(text) > MAX_LENGTH.get(name, 10):
            row.errors.append((name, f"longer than {MAX_LENGTH.get(name, 10)} characters"))
            continue
        row.values[name] = text or None
    v = row.values
    for name in DATES:
        if v.get(name) is not None:
            try:
                v[name] = date.fromisoformat(v[name])
            except ValueError:
                row.errors.append((name, f"{v[name]!r} is not an ISO date (YYYY-MM-DD)"))
                v[name] = None
    for name in ("municipality", "school", "kind"):
        if name in v and v[name] is None:
            row.errors.append((name, "required"))
    if v.get("kind") is not None and v["kind"] not in KINDS:
        row.errors.append(("kind", f"{v['kind']!r} is not one of {', '.join(KINDS)}"))
    if v.get("lifecycle") is not None and v["lifecycle"] not in LIFECYCLES:
        row.errors.append(("lifecycle", f"{v['lifecycle']!r} is not one of {', '.join(LIFECYCLES)}"))
    mac_given = v.get("mac") is not None
    if mac_given:
        mac = normalize_mac(v["mac"])
        if mac is None:
            row.errors.append(("mac", f"{v['mac']!r} is not a MAC address (aa:bb:cc:dd:ee:ff)"))
        v["mac"] = mac
    if "serial" in v and "mac" in v and v["serial"] is None and not mac_given:
        row.errors.append(("serial", "a serial or a MAC is needed to tell the unit apart"))
    if v.get("purchase_date") and v["purchase_date"] > today:
        row.errors.append(("purchase_date", f"{v['purchase_date']} is in the future"))
    if v.get("install_date") and v.get("purchase_date") and v["install_date"] < v["purchase_date"]:
        row.errors.append(("install_date", f"{v['install_date']} is before the purchase ({v['purchase_date']})"))
    if v.get("warranty_end") and v.get("purchase_date") and v["warranty_end"] < v["purchase_date"]:
        row.errors.append(("warranty_end", f"{v['warranty_end']} is before the purchase ({v['purchase_date']})"))
    if v.get("lifecycle") in ("in_use", "reused") and "room" in v and v["room"] is None:
        row.errors.append(("room", f"a unit {v['lifecycle']} needs a room"))
    return row


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write(records: Iterable[Mapping[str, Any]]) -> str:
    """The CSV of `records` (mappings with at least the COLUMNS keys), header first, CRLF as csv writes it."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([cell(record.get(name)) for name in COLUMNS])
    return out.getvalue()
