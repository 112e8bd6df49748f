"""CSV import and export of the register (the file's format and row checks are avfleet/inventory/csvfile.py).

A row updates the unit with its serial, else the one with its MAC, else creates one. Every row gets
its fate (created, updated, unchanged, error with line and field); nothing is written unless every
row is good or `partial` is asked (then exactly the good rows), and nothing at all on a dry run.
An empty `lifecycle` or `firmware` keeps the unit's (firmware is what agents report); any other
empty cell clears its field, so an exported file imported again changes nothing.

Tenancy: a caller limited to municipalities imports rows of its own municipalities only, and only
into its own units; a row naming another municipality, or whose serial or MAC is a unit of another
municipality, is an error row (saying no more than that: the serial is the caller's own word).
The export covers the caller's municipalities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.errors import Conflict
from avfleet.controller.inventory import register
from avfleet.controller.inventory.register import HISTORY, REPAIRS, UNITS
from avfleet.inventory import csvfile

KEEP_WHEN_EMPTY = ("lifecycle", "firmware")


@dataclass
class Fate:
    line: int
    fate: str
    unit_id: int | None = None
    fields: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        if self.fate == "error":
            return "\n".join(f"line {self.line}: error: {e['field']}: {e['problem']}" for e in self.errors)
        extra = f" ({', '.join(self.fields)})" if self.fields else ""
        unit = f" unit {self.unit_id}" if self.unit_id else ""
        return f"line {self.line}: {self.fate}{unit}{extra}"


def import_csv(conn: Connection, text: str, *, by: str, now: datetime, partial: bool = False,
               dry_run: bool = False, scope: Scope = COUNTY) -> dict[str, Any]:
    """Judge every row, then write (or not); answers ImportReport's shape. Raises csvfile.CsvFileError."""
    rows = csvfile.parse(text, now.date())
    units = {r.id: dict(r._mapping) for r in conn.execute(sa.select(UNITS))}
    by_serial = {u["serial"]: u for u in units.values() if u["serial"]}
    by_mac = {u["mac"]: u for u in units.values() if u["mac"]}
    in_repair = {r.unit_id: r.id for r in conn.execute(
        sa.select(REPAIRS.c.unit_id, REPAIRS.c.id).where(REPAIRS.c.closed_at.is_(None)))}
    claimed: dict[int, int] = {}
    fates = [_outside(row, scope, by_serial, by_mac) or _judge(row, by_serial, by_mac, in_repair, claimed)
             for row in rows]
    counts = {k: sum(1 for f in fates if f.fate == k) for k in ("created", "updated", "unchanged", "error")}
    written = not dry_run and (partial or counts["error"] == 0)
    if written:
        try:
            _write(conn, fates, units, by, now)
        except sa.exc.IntegrityError:
            # Another writer gave a unit one of these serials or MACs since they were read: the caller's
            # transaction rolls back whole, and the same file imported again judges against it.
            raise Conflict("another change wrote one of these serials or MACs meanwhile; import again") from None
        register.place_observations(conn, now)
    return {"written": written, "counts": counts, "rows": fates}


def _outside(row: csvfile.Row, scope: Scope, by_serial: dict, by_mac: dict) -> Fate | None:
    """The error fate of a good row outside the caller's municipalities; None for a row of its own."""
    if scope.county_wide or row.errors:
        return None
    v = row.values
    if not scope.allows(v["municipality"]):
        return Fate(row.line, "error", errors=[{"field": "municipality",
                                                "problem": "not one of your municipalities"}])
    for key, known in (("serial", by_serial), ("mac", by_mac)):
        unit = known.get(v[key]) if v[key] else None
        if unit is not None and not scope.allows(unit["municipality"]):
            return Fate(row.line, "error", errors=[{"field": key,
                                                    "problem": "belongs to a unit outside your municipalities"}])
    return None


def _judge(row: csvfile.Row, by_serial: dict, by_mac: dict, in_repair: dict[int, int],
           claimed: dict[int, int]) -> Fate:
    fate = Fate(row.line, "error", errors=[{"field": f, "problem": p} for f, p in row.errors])
    if row.errors:
        return fate
    v = row.values
    s, m = by_serial.get(v["serial"]) if v["serial"] else None, by_mac.get(v["mac"]) if v["mac"] else None
    if s is not None and m is not None and s["id"] != m["id"]:
        fate.errors.append({"field": "mac", "problem": f"{v['mac']} belongs to unit {m['id']} "
                                                       f"(serial {m['serial'] or '-'}), not to {v['serial']}"})
        return fate
    unit = s or m
    if unit is not None and s is None and unit["serial"] and v["serial"]:
        fate.errors.append({"field": "mac", "problem": f"{v['mac']} belongs to unit {unit['id']} whose serial "
                                                       f"is {unit['serial']}, not {v['serial']}"})
        return fate
    if unit is None:
        fate.fate, fate.values = "created", {**v, "lifecycle": v["lifecycle"] or "in_use"}
        return fate
    first = claimed.setdefault(unit["id"], row.line)
    if first != row.line:
        fate.errors.append({"field": "serial" if s else "mac", "problem": f"line {first} is the same unit"})
        return fate
    values = {k: x for k, x in v.items() if not (x is None and k in KEEP_WHEN_EMPTY)}
    changed = [k for k, x in values.items() if unit[k] != x]
    if "lifecycle" in changed and unit["id"] in in_repair:
        fate.errors.append({"field": "lifecycle", "problem": f"unit {unit['id']} has the open repair case "
                                                             f"{in_repair[unit['id']]}; close it instead"})
        return fate
    fate.unit_id = unit["id"]
    fate.fate, fate.fields, fate.values = ("updated" if changed else "unchanged"), changed, values
    return fate


def _write(conn: Connection, fates: list[Fate], units: dict[int, dict], by: str, now: datetime) -> None:
    new = [f for f in fates if f.fate == "created"]
    if new:
        # A plain executemany (psycopg pipelines it); INSERT .. RETURNING of thousands of rows costs seconds
        # in query conversion. Every row has a serial or a MAC, both unique: that finds the new ids.
        conn.execute(UNITS.insert(), [{**f.values, "created_at": now, "updated_at": now} for f in new])
        u = UNITS.c
        fresh = conn.execute(sa.select(u.id, u.serial, u.mac).where(u.created_at == now)).all()
        ids = {("serial", r.serial) if r.serial else ("mac", r.mac): r.id for r in fresh}
        for f in new:
            f.unit_id = ids[("serial", f.values["serial"]) if f.values["serial"] else ("mac", f.values["mac"])]
        conn.execute(HISTORY.insert(), [{"unit_id": f.unit_id, "at": now, "by": by, "field": "created",
                                         "old": None, "new": "import"} for f in new])
    for f in fates:
        if f.fate == "updated":
            register.apply(conn, units[f.unit_id], {k: f.values[k] for k in f.fields}, by, now)


def public_fate(f: Fate) -> dict[str, Any]:
    return {"line": f.line, "fate": f.fate, "unit_id": f.unit_id, "fields": f.fields, "errors": f.errors}


def export_csv(conn: Connection, municipality: str | None = None, scope: Scope = COUNTY) -> str:
    """The register (or one municipality's part) as the inventory CSV, by place then id."""
    u = UNITS.c
    query = (sa.select(UNITS).where(*scope.clauses(u.municipality))
             .order_by(u.municipality, u.school, u.room.nulls_first(), u.id))
    if municipality is not None:
        query = query.where(u.municipality == municipality)
    return csvfile.write(dict(r._mapping) for r in conn.execute(query))
