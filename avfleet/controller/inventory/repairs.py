"""Repairs and the life cycle: a unit handed in, its case with the supplier, and retirement, reuse, recycling.

Opening a case moves the unit to `in_repair` (remembering where it was); closing it as `returned`
puts it back there, as `replaced` retires it (the supplier kept it). Out of service a unit is
`retired` (the reuse pool), then `reused` in another place or `recycled`; each step has its date.
Every lifecycle change is in the unit's history like any other edit.

Tenancy: a case belongs to its unit's municipality; every function takes the caller's `Scope`, and
a case, unit or ticket of another municipality is not found (404).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.errors import Conflict, InvalidInput, NotFound
from avfleet.controller.inventory import register
from avfleet.controller.inventory.register import REPAIR_FIELDS, REPAIRS, UNITS
from avfleet.controller.tickets.models import Ticket

TICKETS = Ticket.__table__
# Where each step may start from.
RETIRE_FROM = ("in_use", "spare", "reused")
REUSE_FROM = ("retired", "spare")
RECYCLE_FROM = ("retired",)


def _in_scope(scope: Scope) -> list[Any]:
    """WHERE clauses keeping the repair cases of the scope's units."""
    if scope.county_wide:
        return []
    return [REPAIRS.c.unit_id.in_(sa.select(UNITS.c.id).where(*scope.clauses(UNITS.c.municipality)))]


def _case(conn: Connection, case_id: int, *, for_update: bool = False, scope: Scope = COUNTY) -> dict[str, Any]:
    query = sa.select(REPAIRS).where(REPAIRS.c.id == case_id, *_in_scope(scope))
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no repair case {case_id}")
    return dict(row._mapping)


def public_case(case: Mapping[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in REPAIR_FIELDS}


def unit_of_ticket(conn: Connection, ticket_id: int, scope: Scope = COUNTY) -> int:
    """The register's unit behind a ticket's device (agent id and device id)."""
    t = TICKETS.c
    ticket = conn.execute(sa.select(t.agent_id, t.device_id)
                          .where(t.id == ticket_id, *scope.agent_clauses(t.agent_id))).first()
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    u = UNITS.c
    unit_id = conn.execute(sa.select(u.id).where(u.agent_id == ticket.agent_id, u.device_id == ticket.device_id)
                           .order_by(u.id).limit(1)).scalar()
    if unit_id is None:
        raise Conflict(f"ticket {ticket_id}: no inventory unit stands behind {ticket.agent_id}/{ticket.device_id}")
    return unit_id


def open_case(conn: Connection, *, unit_id: int | None, ticket_id: int | None, by: str, now: datetime,
              details: Mapping[str, Any], scope: Scope = COUNTY) -> dict[str, Any]:
    """A unit handed in: its case opens and the unit goes to in_repair."""
    if (unit_id is None) == (ticket_id is None):
        raise InvalidInput("unit_id: give a unit_id or a ticket_id (one of the two)")
    if unit_id is None:
        unit_id = unit_of_ticket(conn, ticket_id, scope)  # type: ignore[arg-type]
    unit = register.unit_row(conn, unit_id, for_update=True, scope=scope)
    existing = register.open_case_id(conn, unit_id)
    if existing is not None:
        raise Conflict(f"unit {unit_id} already has the open repair case {existing}")
    if unit["lifecycle"] in ("retired", "recycled"):
        raise Conflict(f"unit {unit_id} is {unit['lifecycle']}: it cannot be handed in for repair")
    warranty = details.get("under_warranty")
    if warranty is None:
        warranty = unit["warranty_end"] is not None and unit["warranty_end"] >= now.date()
    values = {"unit_id": unit_id, "ticket_id": ticket_id, "opened_at": now, "opened_by": by,
              "under_warranty": warranty, "supplier": details.get("supplier") or unit["supplier"],
              "supplier_case": details.get("supplier_case"), "cost_estimate_sek": details.get("cost_estimate_sek"),
              "notes": details.get("notes"), "previous_lifecycle": unit["lifecycle"]}
    case_id = conn.execute(REPAIRS.insert().values(**values)).inserted_primary_key[0]
    register.apply(conn, unit, {"lifecycle": "in_repair"}, by, now)
    return public_case(_case(conn, case_id))


def update_case(conn: Connection, case_id: int, changes: Mapping[str, Any], by: str, now: datetime,
                scope: Scope = COUNTY) -> dict[str, Any]:
    """The supplier's answer: their case number, the cost estimate, the decision (while the case is open)."""
    case = _case(conn, case_id, for_update=True, scope=scope)
    if case["closed_at"] is not None:
        raise Conflict(f"repair case {case_id} is closed")
    values = dict(changes)
    if "decision" in values and values["decision"] != case["decision"]:
        values["decided_at"] = now
    if values:
        conn.execute(REPAIRS.update().where(REPAIRS.c.id == case_id).values(**values))
    return public_case(_case(conn, case_id))


def close_case(conn: Connection, case_id: int, outcome: str, by: str, now: datetime,
               scope: Scope = COUNTY) -> dict[str, Any]:
    """returned: the unit goes back to where it was; replaced: it is retired (the supplier kept it)."""
    case = _case(conn, case_id, for_update=True, scope=scope)
    if case["closed_at"] is not None:
        raise Conflict(f"repair case {case_id} is closed")
    conn.execute(REPAIRS.update().where(REPAIRS.c.id == case_id)
                 .values(outcome=outcome, closed_at=now, closed_by=by))
    unit = register.unit_row(conn, case["unit_id"], for_update=True)
    if outcome == "returned":
        register.apply(conn, unit, {"lifecycle": case["previous_lifecycle"]}, by, now)
    else:
        register.apply(conn, unit, {"lifecycle": "retired", "retired_on": now.date()}, by, now)
    return public_case(_case(conn, case_id))


def list_cases(conn: Connection, *, unit_id: int | None, open_only: bool | None, limit: int,
               offset: int, scope: Scope = COUNTY) -> tuple[list[dict[str, Any]], int]:
    r = REPAIRS.c
    where = _in_scope(scope)
    if unit_id is not None:
        where.append(r.unit_id == unit_id)
    if open_only is not None:
        where.append(r.closed_at.is_(None) if open_only else r.closed_at.is_not(None))
    total = conn.execute(sa.select(sa.func.count()).select_from(REPAIRS).where(*where)).scalar_one()
    rows = conn.execute(sa.select(REPAIRS).where(*where).order_by(r.id.desc()).limit(limit).offset(offset))
    return [public_case(row._mapping) for row in rows], total


def get_case(conn: Connection, case_id: int, scope: Scope = COUNTY) -> dict[str, Any]:
    return public_case(_case(conn, case_id, scope=scope))


def _step(conn: Connection, unit_id: int, allowed: tuple[str, ...], to: str, values: Mapping[str, Any], by: str,
          now: datetime, scope: Scope = COUNTY) -> dict[str, Any]:
    unit = register.unit_row(conn, unit_id, for_update=True, scope=scope)
    if unit["lifecycle"] not in allowed:
        raise Conflict(f"unit {unit_id} is {unit['lifecycle']}: {to} only from {' or '.join(allowed)}")
    register.apply(conn, unit, {"lifecycle": to, **values}, by, now)
    return register.detail(conn, unit_id, scope)


def retire(conn: Connection, unit_id: int, on: date | None, by: str, now: datetime,
           scope: Scope = COUNTY) -> dict[str, Any]:
    """Out of service, into the reuse pool; the unit no longer stands behind a device id."""
    return _step(conn, unit_id, RETIRE_FROM, "retired",
                 {"retired_on": on or now.date(), "agent_id": None, "device_id": None}, by, now, scope)


def reuse(conn: Connection, unit_id: int, place: Mapping[str, Any], on: date | None, by: str,
          now: datetime, scope: Scope = COUNTY) -> dict[str, Any]:
    """From the reuse pool to another school (or room): its new place and the date."""
    if not place.get("municipality") or not place.get("school") or not place.get("room"):
        raise InvalidInput("municipality, school, room: a reused unit needs its new place")
    register.unit_row(conn, unit_id, scope=scope)  # another municipality's unit: 404 before the place
    if not scope.allows(place["municipality"]):
        raise NotFound(f"no municipality {place['municipality']!r}")
    return _step(conn, unit_id, REUSE_FROM, "reused",
                 {"municipality": place["municipality"], "school": place["school"], "room": place["room"],
                  "reused_on": on or now.date()}, by, now, scope)


def recycle(conn: Connection, unit_id: int, on: date | None, by: str, now: datetime,
            scope: Scope = COUNTY) -> dict[str, Any]:
    """The end: handed to recycling (only from the reuse pool)."""
    return _step(conn, unit_id, RECYCLE_FROM, "recycled", {"recycled_on": on or now.date()}, by, now, scope)
