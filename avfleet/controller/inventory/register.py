"""The register's rules: edits with their history, reads with the moved flag, and placing what agents saw.

Every change of a unit goes through `apply()`, which writes one `inventory_history` row per changed
field (who, when, old, new as text). A unit is *moved* when the agent that reports it stands in
another place than the register says (computed on read from the agents' sites, so the ingest writes
nothing for it). Observations (`inventory_records`) are matched to units by serial, then MAC;
the open ones matched to none are the "to be placed" list.

Tenancy: every read and every lookup takes a `Scope` (auth/principal.py) whose clauses go on the
unit's own municipality (observations: on their agent's); a unit of another municipality is not
found (404), exactly like a missing one. Jobs and the CLI pass nothing and see the county.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.errors import Conflict, InvalidInput, NotFound
from avfleet.controller.fleet.models import Agent
from avfleet.controller.inventory.models import (
    InventoryChange,
    InventoryRecord,
    InventoryUnit,
    InventoryUnitBase,
    RepairCase,
    RepairCaseBase,
)
from avfleet.inventory import csvfile
from avfleet.profiles.library import ProfileLibrary

UNITS = InventoryUnit.__table__
HISTORY = InventoryChange.__table__
RECORDS = InventoryRecord.__table__
REPAIRS = RepairCase.__table__
AGENTS = Agent.__table__
UNIT_FIELDS = tuple(InventoryUnitBase.model_fields)
REPAIR_FIELDS = ("id", *RepairCaseBase.model_fields)


def text(value: Any) -> str | None:
    """A value as the history (and the CSV) writes it."""
    return None if value is None else csvfile.cell(value)


def apply(conn: Connection, unit: Mapping[str, Any], values: Mapping[str, Any], by: str, now: datetime) -> list[str]:
    """Write the `values` that differ from `unit` (a row mapping), one history row each; the changed fields."""
    changed = {k: v for k, v in values.items() if unit[k] != v}
    if not changed:
        return []
    conn.execute(UNITS.update().where(UNITS.c.id == unit["id"]).values(**changed, updated_at=now))
    conn.execute(HISTORY.insert(), [{"unit_id": unit["id"], "at": now, "by": by, "field": k,
                                     "old": text(unit[k]), "new": text(v)} for k, v in changed.items()])
    return list(changed)


def unit_row(conn: Connection, unit_id: int, *, for_update: bool = False, scope: Scope = COUNTY) -> dict[str, Any]:
    query = sa.select(UNITS).where(UNITS.c.id == unit_id, *scope.clauses(UNITS.c.municipality))
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no inventory unit {unit_id}")
    return dict(row._mapping)


def open_case_id(conn: Connection, unit_id: int) -> int | None:
    r = REPAIRS.c
    return conn.execute(sa.select(r.id).where(r.unit_id == unit_id, r.closed_at.is_(None))).scalar()


def edit(conn: Connection, unit_id: int, patch: Mapping[str, Any], by: str, now: datetime,
         scope: Scope = COUNTY) -> list[str]:
    """PATCH: the fields given, checked by the CSV's own rules (so an edit exports and imports back unchanged)."""
    unit = unit_row(conn, unit_id, for_update=True, scope=scope)
    unknown = set(patch) - set(csvfile.COLUMNS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]}: not an editable field")
    cells = {name: csvfile.cell(unit[name]) for name in csvfile.COLUMNS}
    cells.update({k: csvfile.cell(v) for k, v in patch.items()})
    row = csvfile.check(0, cells, now.date())
    if row.errors:
        field, problem = row.errors[0]
        raise InvalidInput(f"{field}: {problem}")
    values = {k: row.values[k] for k in patch}
    if not scope.allows(values.get("municipality", unit["municipality"])):
        # Moving a unit to another municipality is handing it away: not for a caller limited to its own.
        raise NotFound(f"no municipality {values['municipality']!r}")
    if "lifecycle" in values and values["lifecycle"] != unit["lifecycle"]:
        case = open_case_id(conn, unit_id)
        if case is not None:
            raise Conflict(f"lifecycle: unit {unit_id} has the open repair case {case}; close it instead")
    for key in ("serial", "mac"):
        if values.get(key) is not None and values[key] != unit[key]:
            other = conn.execute(sa.select(UNITS.c.id).where(UNITS.c[key] == values[key])).scalar()
            if other is not None:
                raise Conflict(f"{key}: {values[key]!r} belongs to unit {other}")
    changed = apply(conn, unit, values, by, now)
    if {"serial", "mac"} & set(changed):
        place_observations(conn, now)
    return changed


def _moved_expr() -> sa.ColumnElement[bool]:
    u, a = UNITS.c, AGENTS.c
    return sa.and_(a.municipality.is_not(None), sa.or_(
        a.municipality != u.municipality, a.school.is_distinct_from(u.school), a.room.is_distinct_from(u.room)))


def _select() -> sa.Select:
    a = AGENTS.c
    return (sa.select(UNITS, _moved_expr().label("moved"), a.municipality.label("seen_municipality"),
                      a.school.label("seen_school"), a.room.label("seen_room"))
            .select_from(UNITS.outerjoin(AGENTS, a.agent_id == UNITS.c.agent_id)))


def public(row: Any, scope: Scope = COUNTY) -> dict[str, Any]:
    m = row._mapping
    item = {k: m[k] for k in ("id", *UNIT_FIELDS)}
    item["moved"] = bool(m["moved"])
    # Where an agent saw it is shown only when that place is the caller's too (a unit of Habo seen
    # in Mullsjö is "moved" to a Habo technician, without naming Mullsjö's school).
    seen_here = scope.allows(m["seen_municipality"]) or m["seen_municipality"] is None
    item["seen_at"] = ({"municipality": m["seen_municipality"], "school": m["seen_school"], "room": m["seen_room"]}
                       if item["moved"] and seen_here else None)
    if not seen_here:
        item["agent_id"] = item["device_id"] = None  # the agent is another municipality's
    return item


def list_units(conn: Connection, *, filters: Mapping[str, Any], moved: bool | None, limit: int,
               offset: int, scope: Scope = COUNTY) -> tuple[list[dict[str, Any]], int]:
    """Units matching the filters (place, lifecycle, kind, `warranty_before`), by place then id."""
    u = UNITS.c
    where = [*scope.clauses(u.municipality)]
    for key, value in filters.items():
        if value is None:
            continue
        if key == "warranty_before":
            where.append(u.warranty_end < value)
        else:
            where.append(u[key] == value)
    if moved is not None:
        where.append(_moved_expr() if moved else sa.not_(_moved_expr()))
    base = _select().where(*where)
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(base.order_by(u.municipality, u.school, u.room.nulls_first(), u.id)
                        .limit(limit).offset(offset))
    return [public(r, scope) for r in rows], total


def detail(conn: Connection, unit_id: int, scope: Scope = COUNTY) -> dict[str, Any]:
    """One unit with its history (oldest first) and its repair cases."""
    row = conn.execute(_select().where(UNITS.c.id == unit_id, *scope.clauses(UNITS.c.municipality))).first()
    if row is None:
        raise NotFound(f"no inventory unit {unit_id}")
    h = HISTORY.c
    history = conn.execute(sa.select(h.at, h.by, h.field, h.old, h.new).where(h.unit_id == unit_id)
                           .order_by(h.id)).all()
    repairs = conn.execute(sa.select(*(REPAIRS.c[k] for k in REPAIR_FIELDS)).where(REPAIRS.c.unit_id == unit_id)
                           .order_by(REPAIRS.c.id)).all()
    return {**public(row, scope), "history": _masked(conn, [dict(r._mapping) for r in history], scope),
            "repairs": [dict(r._mapping) for r in repairs]}


def _masked(conn: Connection, history: list[dict[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    """A limited caller's view of a unit's history: an agent of another municipality that reported the
    unit is not named (neither as the author "agent:<id>" nor as the old or new agent id)."""
    if scope.county_wide:
        return history
    named = {h["by"][6:] for h in history if h["by"].startswith("agent:")}
    named |= {v for h in history if h["field"] == "agent_id" for v in (h["old"], h["new"]) if v}
    mine = set(conn.execute(sa.select(AGENTS.c.agent_id).where(AGENTS.c.agent_id.in_(sorted(named)),
                                                               *scope.clauses(AGENTS.c.municipality))).scalars())
    others = named - mine
    for h in history:
        if h["by"].startswith("agent:") and h["by"][6:] in others:
            h["by"] = "agent"
            if h["field"] == "device_id":
                h["old"] = h["new"] = None
        if h["field"] == "agent_id":
            h["old"], h["new"] = (None if v in others else v for v in (h["old"], h["new"]))
    return history


def match(conn: Connection, serial: str | None, mac: str | None) -> dict[str, Any] | None:
    """The unit with this serial, else the one with this MAC (the agents' identities are matched so)."""
    u = UNITS.c
    for column, value in ((u.serial, serial), (u.mac, csvfile.normalize_mac(mac) if mac else None)):
        if value:
            row = conn.execute(sa.select(UNITS).where(column == value)).first()
            if row is not None:
                return dict(row._mapping)
    return None


def follow_observation(conn: Connection, unit: Mapping[str, Any], *, agent_id: str, device_id: str,
                       firmware: str | None, manufacturer: str | None, model: str | None, serial: str | None,
                       mac: str | None, now: datetime) -> None:
    """What an agent saw of a matched unit goes into the register, with the agent as its author.

    Its device id and firmware always; manufacturer, model, serial and MAC only where the register
    has none (the register's word stands), and a serial or MAC only if no other unit has it.
    """
    values: dict[str, Any] = {"agent_id": agent_id, "device_id": device_id}
    if firmware:
        values["firmware"] = firmware
    seen = {"manufacturer": manufacturer, "model": model, "serial": serial,
            "mac": csvfile.normalize_mac(mac) if mac else None}
    for key, value in seen.items():
        if value and unit[key] is None:
            values[key] = value
    for key in ("serial", "mac"):
        if key in values and conn.execute(sa.select(UNITS.c.id).where(UNITS.c[key] == values[key])).first():
            del values[key]
    apply(conn, unit, values, f"agent:{agent_id}", now)


def unit_left(conn: Connection, unit_id: int, *, agent_id: str, device_id: str, now: datetime) -> None:
    """A unit swapped out of a device no longer stands behind it (unless the register already moved it)."""
    unit = unit_row(conn, unit_id)
    if (unit["agent_id"], unit["device_id"]) == (agent_id, device_id):
        apply(conn, unit, {"agent_id": None, "device_id": None}, f"agent:{agent_id}", now)


def place_observations(conn: Connection, now: datetime) -> int:
    """Match the open observations that have no unit yet (after an import or an edit); how many were placed."""
    i = RECORDS.c
    rows = conn.execute(sa.select(i.id, i.agent_id, i.device_id, i.serial, i.mac, i.firmware, i.manufacturer,
                                  i.model).where(i.closed_at.is_(None), i.unit_id.is_(None))).all()
    placed = 0
    for r in rows:
        unit = match(conn, r.serial, r.mac)
        if unit is None:
            continue
        conn.execute(RECORDS.update().where(i.id == r.id).values(unit_id=unit["id"]))
        follow_observation(conn, unit, agent_id=r.agent_id, device_id=r.device_id, firmware=r.firmware,
                           manufacturer=r.manufacturer, model=r.model, serial=r.serial, mac=r.mac, now=now)
        placed += 1
    return placed


def unplaced(conn: Connection, *, limit: int, offset: int, scope: Scope = COUNTY) -> tuple[list[dict[str, Any]], int]:
    """Units agents report that the register does not know (open observations with no unit): to be placed."""
    i, a = RECORDS.c, AGENTS.c
    where = (i.closed_at.is_(None), i.unit_id.is_(None), *scope.agent_clauses(i.agent_id))
    total = conn.execute(sa.select(sa.func.count()).select_from(RECORDS).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(i.id, i.agent_id, i.device_id, i.manufacturer, i.model, i.serial, i.mac, i.firmware,
                  i.first_seen, i.last_seen, a.municipality, a.school, a.room)
        .select_from(RECORDS.outerjoin(AGENTS, a.agent_id == i.agent_id)).where(*where)
        .order_by(i.agent_id, i.device_id, i.id).limit(limit).offset(offset))
    return [dict(r._mapping) for r in rows], total


def device_models(conn: Connection, library: ProfileLibrary | None, scope: Scope = COUNTY) -> list[dict[str, Any]]:
    """The device models in the register (kind, manufacturer, model) with their units, and the profile
    that describes each (lamp life, mappings): the model's facts stay in the profile, not in each unit."""
    u = UNITS.c
    in_use = sa.func.sum(sa.case((u.lifecycle.in_(("in_use", "reused")), 1), else_=0))
    rows = conn.execute(sa.select(u.kind, u.manufacturer, u.model, sa.func.count().label("units"),
                                  in_use.label("in_use")).where(*scope.clauses(u.municipality))
                        .group_by(u.kind, u.manufacturer, u.model)
                        .order_by(u.kind, u.manufacturer, u.model)).all()
    out = []
    for r in rows:
        profile = None
        if library is not None and r.kind == "projector" and (r.manufacturer or r.model):
            found = library.match_pjlink(r.manufacturer, r.model)
            # A generic fallback is no model profile: say none rather than pretend.
            if found is not None and not found.reason.startswith("no profile"):
                profile = found.profile.name
        out.append({"kind": r.kind, "manufacturer": r.manufacturer, "model": r.model, "units": r.units,
                    "in_use": int(r.in_use or 0), "profile": profile})
    return out
