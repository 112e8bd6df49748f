"""Read side of the fleet: filtered, paginated lists and details for the API and the stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.fleet.models import Agent, Device, DeviceEvent, DeviceTransition
from avfleet.controller.inventory import service as inventory
from avfleet.protocols.mqtt.payloads import Envelope
from avfleet.protocols.status import FAULT_COMPONENTS

AGENTS = Agent.__table__
DEVICES = Device.__table__
HISTORY = DeviceTransition.__table__
EVENTS = DeviceEvent.__table__


class NotFound(LookupError):
    """No such resource."""


class Ambiguous(LookupError):
    """The id names more than one resource; the caller must say which (e.g. with agent_id)."""


class BadFilter(ValueError):
    """A filter value that cannot match anything by construction."""


@dataclass(frozen=True)
class Filters:
    municipality: str | None = None
    school: str | None = None
    room: str | None = None
    state: str | None = None
    fault: str | None = None
    agent_id: str | None = None
    kind: str | None = None


def _site_filters(f: Filters) -> list[Any]:
    a = AGENTS.c
    clauses = []
    if f.municipality is not None:
        clauses.append(a.municipality == f.municipality)
    if f.school is not None:
        clauses.append(a.school == f.school)
    if f.room is not None:
        clauses.append(a.room == f.room)
    return clauses


def _device_select() -> sa.Select:
    d, a = DEVICES.c, AGENTS.c
    return sa.select(
        d.id, d.agent_id, d.device_id, d.kind, d.protocol, d.availability, d.power, d.active_faults, d.input,
        d.power_w, d.model, d.serial, d.firmware, d.observed_at, d.last_change, d.changed_at,
        a.municipality, a.school, a.room, a.state.label("agent_state"),
    ).select_from(DEVICES.join(AGENTS, d.agent_id == a.agent_id))


def _device_item(r: Any) -> dict[str, Any]:
    return {
        "id": r.device_id, "agent_id": r.agent_id, "kind": r.kind, "protocol": r.protocol,
        "municipality": r.municipality, "school": r.school, "room": r.room,
        "availability": r.availability, "power": r.power,
        "faults": [f for f in r.active_faults.split(",") if f], "input": r.input, "power_w": r.power_w,
        "model": r.model, "serial": r.serial, "firmware": r.firmware,
        "observed_at": r.observed_at, "last_change": r.last_change, "agent_state": r.agent_state,
    }


def list_devices(conn: Connection, f: Filters, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    d = DEVICES.c
    clauses = _site_filters(f)
    if f.agent_id is not None:
        clauses.append(d.agent_id == f.agent_id)
    if f.kind is not None:
        clauses.append(d.kind == f.kind)
    if f.state is not None:
        clauses.append(sa.or_(d.availability == f.state, d.power == f.state))
    if f.fault is not None:
        if f.fault == "any":
            clauses.append(d.active_faults != "")
        elif f.fault == "none":
            clauses.append(d.active_faults == "")
        elif f.fault in FAULT_COMPONENTS:
            clauses.append((sa.literal(",") + d.active_faults + sa.literal(",")).like(f"%,{f.fault},%"))
        else:
            raise BadFilter(f"fault must be one of {', '.join(FAULT_COMPONENTS)}, any or none; not {f.fault!r}")
    base = _device_select().where(*clauses)
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(base.order_by(d.agent_id, d.device_id).limit(limit).offset(offset))
    return [_device_item(r) for r in rows], total


def find_device(conn: Connection, device_id: str, agent_id: str | None) -> Any:
    d = DEVICES.c
    query = _device_select().add_columns(d.status).where(d.device_id == device_id)
    if agent_id is not None:
        query = query.where(d.agent_id == agent_id)
    rows = conn.execute(query.limit(2)).all()
    if not rows:
        raise NotFound(f"no device {device_id!r}" + (f" on agent {agent_id!r}" if agent_id else ""))
    if len(rows) > 1:
        raise Ambiguous(f"device id {device_id!r} exists on several agents; add ?agent_id=")
    return rows[0]


def device_detail(conn: Connection, device_id: str, agent_id: str | None, history_limit: int) -> dict[str, Any]:
    row = find_device(conn, device_id, agent_id)
    item = _device_item(row)
    item["status"] = None if row.status is None else {
        k: v for k, v in row.status.items() if k not in Envelope.model_fields}
    item["history"], item["history_total"] = device_history(conn, row.id, None, None, history_limit, 0)
    e = EVENTS.c
    item["events"] = [
        {"event": r.event, "component": r.component, "old": r.old, "new": r.new, "detail": r.detail,
         "observed_at": r.observed_at, "replayed": r.replayed, "seq": r.seq}
        for r in conn.execute(sa.select(EVENTS).where(e.device_pk == row.id)
                              .order_by(e.observed_at.desc()).limit(50))
    ]
    item["inventory"] = inventory.records_of_device(conn, row.id)
    return item


def device_history(conn: Connection, device_pk: int, since: datetime | None, until: datetime | None,
                   limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    h = HISTORY.c
    clauses = [h.device_pk == device_pk]
    if since is not None:
        clauses.append(h.observed_at >= since)
    if until is not None:
        clauses.append(h.observed_at < until)
    total = conn.execute(sa.select(sa.func.count()).select_from(HISTORY).where(*clauses)).scalar_one()
    rows = conn.execute(sa.select(HISTORY).where(*clauses).order_by(h.observed_at.desc(), h.id.desc())
                        .limit(limit).offset(offset))
    return [
        {"observed_at": r.observed_at, "availability": r.availability, "power": r.power,
         "faults": [x for x in r.active_faults.split(",") if x], "input": r.input, "power_w": r.power_w,
         "replayed": r.replayed, "seq": r.seq, "received_at": r.received_at}
        for r in rows
    ], total


def _agent_item(r: Any) -> dict[str, Any]:
    return {
        "id": r.agent_id, "state": r.state, "last_seen": r.last_seen, "version": r.version, "host": r.host,
        "municipality": r.municipality, "school": r.school, "room": r.room, "health": r.health,
        "devices": r.device_count,
    }


def _agent_select() -> sa.Select:
    d = DEVICES.c
    counts = sa.select(d.agent_id, sa.func.count().label("n")).group_by(d.agent_id).subquery()
    return sa.select(AGENTS, sa.func.coalesce(counts.c.n, 0).label("device_count")).select_from(
        AGENTS.outerjoin(counts, counts.c.agent_id == AGENTS.c.agent_id))


def list_agents(conn: Connection, f: Filters, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    a = AGENTS.c
    clauses = _site_filters(f)
    if f.state is not None:
        clauses.append(a.state == f.state)
    if f.fault is not None:
        raise BadFilter("agents have no faults; filter devices by fault instead")
    base = _agent_select().where(*clauses)
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(base.order_by(a.agent_id).limit(limit).offset(offset))
    return [_agent_item(r) for r in rows], total


def agent_detail(conn: Connection, agent_id: str) -> dict[str, Any]:
    row = conn.execute(_agent_select().where(AGENTS.c.agent_id == agent_id)).first()
    if row is None:
        raise NotFound(f"no agent {agent_id!r}")
    item = _agent_item(row)
    item["configured_devices"] = row.configured_devices
    item["boot_id"] = row.boot_id
    return item


def changes_since(conn: Connection, cursor: datetime, limit: int = 500) -> tuple[list[dict], list[dict]]:
    """Devices and agents whose `changed_at` is at or after `cursor` (the live stream polls this)."""
    d, a = DEVICES.c, AGENTS.c
    devices = [_device_item(r) for r in conn.execute(
        _device_select().where(d.changed_at >= cursor).order_by(d.changed_at).limit(limit))]
    agents = [_agent_item(r) for r in conn.execute(
        _agent_select().where(a.changed_at >= cursor).order_by(a.changed_at).limit(limit))]
    return devices, agents


def agent_counts(conn: Connection) -> tuple[int, int]:
    a = AGENTS.c
    online = conn.execute(sa.select(sa.func.count()).select_from(AGENTS).where(a.state == "online")).scalar_one()
    total = conn.execute(sa.select(sa.func.count()).select_from(AGENTS)).scalar_one()
    return online, total
