"""Inventory CSVs for the tests: good rows with å, ä and ö, and one row of each kind of bad row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from avfleet.inventory.csvfile import COLUMNS

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MUNICIPALITIES = ("Jönköping", "Värnamo", "Nässjö", "Gislaved", "Habo")


def good_row(n: int) -> dict[str, str]:
    return {"municipality": MUNICIPALITIES[n % len(MUNICIPALITIES)], "school": f"Åsens skola {n % 40}",
            "room": f"Sal {n % 30}", "kind": ("projector", "display", "document_camera")[n % 3],
            "manufacturer": "EPSON", "model": "EB-2250U", "serial": f"SN-{n:06d}",
            "mac": f"00:1b:2c:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}", "firmware": "",
            "install_date": "2024-08-15", "purchase_date": "2024-06-01", "supplier": "Atea Sverige AB",
            "warranty_end": "2029-06-01", "lifecycle": "in_use", "notes": "takmonterad, fjärrkontroll i lådan"}


def _set(**cells: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda row: {**row, **cells}


# (what is wrong, the field the error must name, how a good row becomes it); the duplicates refer
# to the row two lines above (DUP_OF), filled in by build().
BAD_KINDS: list[tuple[str, str, Callable[[dict[str, str]], dict[str, str]]]] = [
    ("no municipality", "municipality", _set(municipality="")),
    ("no school", "school", _set(school="  ")),
    ("no kind", "kind", _set(kind="")),
    ("unknown kind", "kind", _set(kind="beamer")),
    ("unknown lifecycle", "lifecycle", _set(lifecycle="trasig")),
    ("month 13", "install_date", _set(install_date="2024-13-01")),
    ("not ISO", "purchase_date", _set(purchase_date="01/06/2024")),
    ("30 February", "warranty_end", _set(warranty_end="2027-02-30")),
    ("bad MAC", "mac", _set(mac="00:1b:2c:zz:00:01")),
    ("neither serial nor MAC", "serial", _set(serial="", mac="")),
    ("warranty ends before purchase", "warranty_end", _set(warranty_end="2023-01-01")),
    ("installed before purchase", "install_date", _set(install_date="2024-01-01")),
    ("purchased in the future", "purchase_date", _set(purchase_date="2031-01-01", install_date="",
                                                      warranty_end="2035-01-01")),
    ("manufacturer too long", "manufacturer", _set(manufacturer="E" * 200)),
    ("notes too long", "notes", _set(notes="å" * 2001)),
    ("control character", "model", _set(model="EB\x07-2250U")),
    ("in use without a room", "room", _set(room="")),
    ("serial too long", "serial", _set(serial="S" * 129)),
    ("serial twice in the file", "serial", lambda row: {**row, "serial": "DUP-SERIAL"}),
    ("MAC twice in the file", "mac", lambda row: {**row, "mac": "02:00:00:00:00:99"}),
    ("a cell too many", "row", lambda row: {**row, "notes": row["notes"], "extra": "x"}),
    ("a cell too few", "row", lambda row: {k: v for k, v in row.items() if k != "notes"}),
]
assert len(BAD_KINDS) >= 20


@dataclass
class Built:
    text: str
    bad: dict[int, str] = field(default_factory=dict)  # line -> the field its error must name
    good_serials: list[str] = field(default_factory=list)


def build(rows: int, *, bad_every: int = 200) -> Built:
    """`rows` data rows; every `bad_every`-th is the next bad kind (round robin), the others good.

    Some good rows carry a note over two lines, so a row's line is not its index + 2.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    line = 2
    built = Built("")
    # The rows the duplicates repeat: a good row with that serial and one with that MAC come first.
    firsts = [{**good_row(10**6), "serial": "DUP-SERIAL"}, {**good_row(10**6 + 1), "mac": "02:00:00:00:00:99"}]
    kind = 0
    for n in range(rows):
        if n < len(firsts):
            row = firsts[n]
        elif n % bad_every == bad_every - 1:
            _, column, mutate = BAD_KINDS[kind % len(BAD_KINDS)]
            kind += 1
            row = mutate(good_row(n))
            built.bad[line] = column
        else:
            row = good_row(n)
            if n % 7 == 0:
                row["notes"] = "rad ett\nrad två"
        cells = [row.get(c, "") for c in COLUMNS if c in row] + ([row["extra"]] if "extra" in row else [])
        piece = io.StringIO(newline="")
        csv.writer(piece).writerow(cells)
        out.write(piece.getvalue())
        if line not in built.bad:
            built.good_serials.append(row["serial"])
        line += piece.getvalue().count("\n")
    built.text = out.getvalue()
    return built


def iso(d: date) -> str:
    return d.isoformat()
