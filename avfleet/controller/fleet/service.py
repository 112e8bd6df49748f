"""The fleet rules applied to one committed batch of agent messages.

Rules (DESIGN.md): a message is processed once per (agent_id, seq); an older state (replayed or
late) never overwrites a newer current one but is filed in the history; the history holds
transitions, not repeats; a new serial on the same device closes its inventory record (swapped
unit) and opens another. Every statement is guarded so several controller processes may apply
batches to the same database at once (updates compare timestamps in their WHERE clause).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.commands.models import CommandRecord
from avfleet.controller.db import UTCDateTime
from avfleet.controller.fleet.models import (
    Agent,
    Device,
    DeviceEvent,
    DeviceTransition,
    InventoryRecord,
    ReceivedMessage,
)
from avfleet.controller.fleet.summary import StatusSummary, active_faults
from avfleet.protocols.mqtt.payloads import (
    AgentMessage,
    BirthMessage,
    CommandResult,
    Envelope,
    EventMessage,
    HealthMessage,
    StateMessage,
    StatusMessage,
)

AGENTS = Agent.__table__
DEVICES = Device.__table__
HISTORY = DeviceTransition.__table__
EVENTS = DeviceEvent.__table__
RECEIVED = ReceivedMessage.__table__
INVENTORY = InventoryRecord.__table__
COMMANDS = CommandRecord.__table__
FINAL_COMMAND_STATES = ("done", "failed", "expired", "rejected")
_ENVELOPE_FIELDS = frozenset(Envelope.model_fields)


@dataclass
class BatchOutcome:
    received: int = 0
    duplicates: int = 0
    transitions: int = 0
    stale_states: int = 0  # older than the current state: filed, not applied
    swapped_units: int = 0
    newest_ts: datetime | None = None
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class _DeviceRow:
    pk: int
    observed_at: datetime | None
    summary: StatusSummary | None
    serial: str | None
    model: str | None
    firmware: str | None
    updates: dict[str, Any] = field(default_factory=dict)


def _insert(table: sa.Table, conn: Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class FleetService:
    """Applies batches of validated agent messages inside the caller's transaction."""

    def apply(self, conn: Connection, messages: list[AgentMessage], now: datetime | None = None) -> BatchOutcome:
        now = now or datetime.now(UTC)
        outcome = BatchOutcome()
        fresh = self._dedup(conn, messages, now, outcome)
        if not fresh:
            return outcome
        outcome.newest_ts = max(m.ts for m in fresh)
        self._touch_agents(conn, fresh, now)
        by_type: dict[type, list[Any]] = defaultdict(list)
        for message in fresh:
            by_type[type(message)].append(message)
        if births := by_type.get(BirthMessage):
            self._births(conn, births, now)
        if statuses := by_type.get(StatusMessage):
            self._statuses(conn, statuses, now)
        if health := by_type.get(HealthMessage):
            self._health(conn, health)
        if states := by_type.get(StateMessage):
            self._states(conn, states, now, outcome)
        if events := by_type.get(EventMessage):
            self._events(conn, events, now)
        if results := by_type.get(CommandResult):
            self._command_results(conn, results, now)
        return outcome

    # -- dedup -------------------------------------------------------------------------------------------
    def _dedup(self, conn: Connection, messages: list[AgentMessage], now: datetime,
               outcome: BatchOutcome) -> list[AgentMessage]:
        unique: dict[tuple[str, int], AgentMessage] = {}
        for message in messages:
            unique.setdefault((message.agent_id, message.seq), message)
        rows = [
            {"agent_id": a, "seq": s, "kind": _kind(m), "received_at": now} for (a, s), m in unique.items()
        ]
        stmt = _insert(RECEIVED, conn).on_conflict_do_nothing().returning(RECEIVED.c.agent_id, RECEIVED.c.seq)
        inserted = {(a, s) for a, s in conn.execute(stmt, rows)}
        outcome.received = len(inserted)
        outcome.duplicates = len(messages) - len(inserted)
        fresh = [m for key, m in unique.items() if key in inserted]
        for row in rows:
            if (row["agent_id"], row["seq"]) in inserted:
                outcome.by_kind[row["kind"]] = outcome.by_kind.get(row["kind"], 0) + 1
        return fresh

    # -- agents ------------------------------------------------------------------------------------------
    def _touch_agents(self, conn: Connection, messages: list[AgentMessage], now: datetime) -> None:
        newest: dict[str, datetime] = {}
        for m in messages:
            if m.agent_id not in newest or m.ts > newest[m.agent_id]:
                newest[m.agent_id] = m.ts
        conn.execute(
            _insert(AGENTS, conn).on_conflict_do_nothing(),
            [{"agent_id": a, "state": "unknown", "first_seen": now, "changed_at": now, "last_seen": ts}
             for a, ts in sorted(newest.items())],
        )
        c = AGENTS.c
        conn.execute(
            AGENTS.update()
            .where(c.agent_id == sa.bindparam("a"), sa.or_(c.last_seen.is_(None), c.last_seen < sa.bindparam("ts")))
            .values(last_seen=sa.bindparam("ts")),
            [{"a": a, "ts": ts} for a, ts in sorted(newest.items())],  # one lock order for every process
        )

    def _births(self, conn: Connection, births: list[BirthMessage], now: datetime) -> None:
        c = AGENTS.c
        for birth in sorted(births, key=lambda b: b.ts):
            conn.execute(
                AGENTS.update()
                .where(c.agent_id == birth.agent_id, sa.or_(c.birth_ts.is_(None), c.birth_ts < birth.ts))
                .values(
                    version=birth.agent_version, host=birth.host, boot_id=birth.boot_id,
                    municipality=birth.site.municipality, school=birth.site.school, room=birth.site.room,
                    configured_devices=[d.model_dump(mode="json") for d in birth.devices],
                    birth_ts=birth.ts, changed_at=now,
                )
            )
            if birth.devices:
                conn.execute(
                    _insert(DEVICES, conn).on_conflict_do_nothing(),
                    [{"agent_id": birth.agent_id, "device_id": d.id, "kind": d.kind and d.kind.value,
                      "protocol": d.protocol.value, "availability": "unknown", "power": "unknown",
                      "active_faults": "", "changed_at": now} for d in birth.devices],
                )

    def _statuses(self, conn: Connection, statuses: list[StatusMessage], now: datetime) -> None:
        c = AGENTS.c
        newest: dict[str, StatusMessage] = {}
        for m in statuses:
            if m.agent_id not in newest or m.ts > newest[m.agent_id].ts:
                newest[m.agent_id] = m
        for m in newest.values():
            values: dict[str, Any] = {"state": m.state.value, "state_ts": m.ts, "changed_at": now}
            if m.boot_id:
                values["boot_id"] = m.boot_id
            conn.execute(
                AGENTS.update()
                .where(c.agent_id == m.agent_id, sa.or_(c.state_ts.is_(None), c.state_ts < m.ts))
                .values(**values)
            )

    def _health(self, conn: Connection, health: list[HealthMessage]) -> None:
        c = AGENTS.c
        newest: dict[str, HealthMessage] = {}
        for m in health:
            if m.agent_id not in newest or m.ts > newest[m.agent_id].ts:
                newest[m.agent_id] = m
        conn.execute(
            AGENTS.update()
            .where(c.agent_id == sa.bindparam("a"),
                   sa.or_(c.health_ts.is_(None), c.health_ts < sa.bindparam("ts")))
            .values(health=sa.bindparam("h"), health_ts=sa.bindparam("ts")),
            [{"a": m.agent_id, "ts": m.ts,
              "h": m.model_dump(mode="json", exclude=_ENVELOPE_FIELDS)} for m in newest.values()],
        )

    # -- devices -----------------------------------------------------------------------------------------
    def _device_rows(self, conn: Connection, keys: set[tuple[str, str]], now: datetime,
                     defaults: dict[tuple[str, str], dict[str, Any]], *, lock: bool = False,
                     ) -> dict[tuple[str, str], _DeviceRow]:
        c = DEVICES.c
        rows = self._select_devices(conn, sa.tuple_(c.agent_id, c.device_id), sorted(keys))
        missing = keys - rows.keys()
        if missing:
            conn.execute(
                _insert(DEVICES, conn).on_conflict_do_nothing(),
                [{"agent_id": a, "device_id": d, "availability": "unknown", "power": "unknown",
                  "active_faults": "", "changed_at": now, **defaults.get((a, d), {})} for a, d in sorted(missing)],
            )
            rows.update(self._select_devices(conn, sa.tuple_(c.agent_id, c.device_id), sorted(missing)))
        if lock and conn.dialect.name == "postgresql":
            # Serialize batches of several controller processes per device: row locks taken in id
            # order (so two batches never deadlock), and the rows re-read under the lock because
            # another process may have committed newer states meanwhile. SQLite needs none of
            # this: its writer holds the whole database (BEGIN IMMEDIATE).
            rows = self._select_devices(conn, c.id, sorted(r.pk for r in rows.values()), for_update=True)
        return rows

    def _select_devices(self, conn: Connection, key: Any, values: list[Any], *, for_update: bool = False,
                        ) -> dict[tuple[str, str], _DeviceRow]:
        c = DEVICES.c
        found: dict[tuple[str, str], _DeviceRow] = {}
        for start in range(0, len(values), 400):  # stay below bound-parameter limits
            query = sa.select(c.id, c.agent_id, c.device_id, c.observed_at, c.availability, c.power,
                              c.active_faults, c.input, c.serial, c.model, c.firmware).where(
                key.in_(values[start:start + 400]))
            if for_update:
                query = query.order_by(c.id).with_for_update()
            for r in conn.execute(query):
                summary = None if r.observed_at is None else StatusSummary(
                    r.availability, r.power, r.active_faults, r.input)
                found[(r.agent_id, r.device_id)] = _DeviceRow(
                    r.id, r.observed_at, summary, r.serial, r.model, r.firmware)
        return found

    def _states(self, conn: Connection, states: list[StateMessage], now: datetime, outcome: BatchOutcome) -> None:
        per_device: dict[tuple[str, str], list[StateMessage]] = defaultdict(list)
        for m in states:
            per_device[(m.agent_id, m.device_id)].append(m)
        defaults = {k: {"kind": ms[0].kind.value, "protocol": ms[0].protocol.value} for k, ms in per_device.items()}
        rows = self._device_rows(conn, set(per_device), now, defaults, lock=True)
        history: list[dict[str, Any]] = []
        current_updates: list[dict[str, Any]] = []
        for key, messages in per_device.items():
            row = rows[key]
            newest: StateMessage | None = None
            last_change: datetime | None = None
            for m in sorted(messages, key=lambda x: (x.observed_at, x.seq)):
                summary = StatusSummary.of(m)
                if row.observed_at is not None and m.observed_at <= row.observed_at:
                    outcome.stale_states += 1
                    outcome.transitions += self._file_late_state(conn, row.pk, m, summary, now)
                    continue
                if summary != row.summary:
                    history.append(_history_row(row.pk, m, summary, now))
                    last_change = m.observed_at
                row.summary, row.observed_at, newest = summary, m.observed_at, m
            if newest is None:
                continue
            outcome.swapped_units += self._inventory(conn, row, newest, now)
            current_updates.append(_current_row(row, newest, last_change, now))
        outcome.transitions += len(history)
        if history:
            conn.execute(HISTORY.insert(), history)
        if current_updates:
            c = DEVICES.c
            b = sa.bindparam
            conn.execute(
                DEVICES.update()
                .where(c.id == b("pk"), sa.or_(c.observed_at.is_(None), c.observed_at < b("observed_at")))
                .values(kind=b("kind"), protocol=b("protocol"), availability=b("availability"), power=b("power"),
                        active_faults=b("active_faults"), input=b("input"), power_w=b("power_w"),
                        status=b("status"), observed_at=b("observed_at"),
                        last_change=sa.func.coalesce(b("last_change", type_=UTCDateTime), c.last_change),
                        changed_at=sa.func.coalesce(b("changed_at_new", type_=UTCDateTime), c.changed_at)),
                current_updates,
            )

    def _file_late_state(self, conn: Connection, device_pk: int, m: StateMessage, summary: StatusSummary,
                         now: datetime) -> int:
        """File a state older than the current one where it belongs in time; returns transitions added.

        It is a transition when it differs from the row before it; the row after it stops being
        one when it now repeats this state. Late states arrive after an agent's outage (replayed)
        and, with a shared subscription, whenever another controller committed a newer one first.
        """
        h = HISTORY.c
        cols = (h.id, h.availability, h.power, h.active_faults, h.input, h.observed_at)
        prev = conn.execute(sa.select(*cols).where(h.device_pk == device_pk, h.observed_at <= m.observed_at)
                            .order_by(h.observed_at.desc(), h.id.desc()).limit(1)).first()
        if prev is not None and (prev.observed_at == m.observed_at or _summary(prev) == summary):
            return 0
        conn.execute(HISTORY.insert().values(**_history_row(device_pk, m, summary, now)))
        following = conn.execute(sa.select(*cols).where(h.device_pk == device_pk, h.observed_at > m.observed_at)
                                 .order_by(h.observed_at, h.id).limit(1)).first()
        if following is not None and _summary(following) == summary:
            conn.execute(HISTORY.delete().where(h.id == following.id))
            d = DEVICES.c
            conn.execute(DEVICES.update().where(d.id == device_pk, d.last_change == following.observed_at)
                         .values(last_change=m.observed_at))
            return 0
        return 1

    def _inventory(self, conn: Connection, row: _DeviceRow, m: StateMessage, now: datetime) -> int:
        ident = m.identity
        if ident.serial is None and ident.model is None:
            return 0
        if (ident.serial, ident.model, ident.firmware) == (row.serial, row.model, row.firmware):
            return 0
        i = INVENTORY.c
        open_record = conn.execute(
            sa.select(i.id, i.serial).where(i.device_pk == row.pk, i.closed_at.is_(None)).order_by(i.id.desc())
        ).first()
        fields = {"manufacturer": ident.manufacturer, "model": ident.model, "serial": ident.serial,
                  "firmware": ident.firmware, "mac": ident.mac, "last_seen": m.observed_at}
        swapped = 0
        if open_record is not None and open_record.serial and ident.serial and open_record.serial != ident.serial:
            conn.execute(INVENTORY.update().where(i.id == open_record.id)
                         .values(closed_at=m.observed_at, closed_reason="swapped"))
            open_record, swapped = None, 1
        if open_record is None:
            conn.execute(INVENTORY.insert().values(
                device_pk=row.pk, agent_id=m.agent_id, device_id=m.device_id, first_seen=m.observed_at, **fields))
        else:
            conn.execute(INVENTORY.update().where(i.id == open_record.id).values(**fields))
        row.serial, row.model, row.firmware = ident.serial, ident.model, ident.firmware
        row.updates.update(serial=ident.serial, model=ident.model, firmware=ident.firmware)
        conn.execute(DEVICES.update().where(DEVICES.c.id == row.pk).values(**row.updates))
        return swapped

    # -- events and command results ----------------------------------------------------------------------
    def _events(self, conn: Connection, events: list[EventMessage], now: datetime) -> None:
        keys = {(m.agent_id, m.device_id) for m in events}
        rows = self._device_rows(conn, keys, now, {})
        conn.execute(EVENTS.insert(), [
            {"device_pk": rows[(m.agent_id, m.device_id)].pk, "agent_id": m.agent_id, "device_id": m.device_id,
             "seq": m.seq, "replayed": m.replayed, "event": m.event.value, "component": m.component,
             "old": m.old, "new": m.new, "detail": m.detail, "observed_at": m.observed_at}
            for m in events
        ])

    def _command_results(self, conn: Connection, results: list[CommandResult], now: datetime) -> None:
        c = COMMANDS.c
        for m in results:
            conn.execute(
                COMMANDS.update()
                .where(c.command_id == m.command_id, c.agent_id == m.agent_id, c.status.not_in(FINAL_COMMAND_STATES))
                .values(status=m.status.value, detail=m.detail, result_at=m.ts)
            )


def _kind(message: AgentMessage) -> str:
    return type(message).__name__.removesuffix("Message").lower()[:16]


def _summary(row: Any) -> StatusSummary:
    return StatusSummary(row.availability, row.power, row.active_faults, row.input)


def _history_row(device_pk: int, m: StateMessage, summary: StatusSummary, now: datetime) -> dict[str, Any]:
    return {"device_pk": device_pk, "agent_id": m.agent_id, "device_id": m.device_id, "seq": m.seq,
            "replayed": m.replayed, "observed_at": m.observed_at, "received_at": now,
            "availability": summary.availability, "power": summary.power,
            "active_faults": summary.active_faults, "input": summary.input, "power_w": m.power_w}


def _current_row(row: _DeviceRow, m: StateMessage, last_change: datetime | None, now: datetime) -> dict[str, Any]:
    return {"pk": row.pk, "kind": m.kind.value, "protocol": m.protocol.value,
            "availability": m.availability.value, "power": m.power.value, "active_faults": active_faults(m),
            "input": m.input, "power_w": m.power_w,
            "status": m.model_dump(mode="json", exclude=_ENVELOPE_FIELDS),
            "observed_at": m.observed_at, "last_change": last_change,
            "changed_at_new": now if last_change is not None else None}
