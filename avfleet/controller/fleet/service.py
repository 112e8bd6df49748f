"""The fleet rules applied to one committed batch of agent messages.

Rules (DESIGN.md): a message is processed once per (agent_id, epoch, seq); an older state (replayed
or late, by seq within the agent's epoch: fleet/ordering.py) never overwrites a newer
current one but is filed in the history; the history holds
transitions, not repeats; a changed identity goes to the inventory domain (a new serial on the
same device is a swapped unit). Command results are handed back in the outcome for the commands
domain to file: this service writes only the fleet's tables. Every statement is guarded so
several controller processes may apply batches to the same database at once (updates compare
timestamps in their WHERE clause).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.fleet import ordering
from avfleet.controller.fleet.driver_sql import DriverSQL
from avfleet.controller.fleet.models import (
    Agent,
    Device,
    DeviceEvent,
    DeviceTransition,
    ReceivedMessage,
)
from avfleet.controller.fleet.summary import StatusSummary
from avfleet.controller.inventory import service as inventory
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
    # Fresh (deduplicated) results for the commands domain, filed by the caller in the same transaction.
    command_results: list[CommandResult] = field(default_factory=list)
    # For the tickets domain's rules, applied by the caller in the same transaction: each device's state
    # that became current (and whether its availability or faults changed), agents now online, swapped units.
    current_states: list[tuple[str, str, StateMessage, bool]] = field(default_factory=list)
    agents_online: set[str] = field(default_factory=set)
    swaps: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)


@dataclass
class _DeviceRow:
    pk: int
    observed_at: datetime | None
    summary: StatusSummary | None
    serial: str | None
    model: str | None
    firmware: str | None
    epoch: str | None = None  # the agent's (epoch, seq) of the current state (fleet/ordering.py)
    seq: int | None = None
    updates: dict[str, Any] = field(default_factory=dict)


def _insert(table: sa.Table, conn: Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


class FleetService:
    """Applies batches of validated agent messages inside the caller's transaction."""

    def __init__(self) -> None:
        self._payloads: dict[int, bytes] = {}
        # (agent_id, device_id) -> devices.id. Ids never change once assigned, so this cache is safe
        # with any number of controller processes; the rows themselves are always read fresh.
        self._device_pks: dict[tuple[str, str], int] = {}

    def apply(self, conn: Connection, messages: list[AgentMessage], now: datetime | None = None,
              payloads: dict[int, bytes] | None = None) -> BatchOutcome:
        """Apply `messages` in the caller's transaction. `payloads` maps id(message) to its received
        JSON, stored as the device's status as it is (saves re-serializing every state)."""
        now = now or datetime.now(UTC)
        self._payloads = payloads or {}
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
            outcome.agents_online = {m.agent_id for m in statuses if m.state.value == "online"}
        if health := by_type.get(HealthMessage):
            self._health(conn, health)
        if states := by_type.get(StateMessage):
            self._states(conn, states, now, outcome)
        if events := by_type.get(EventMessage):
            self._events(conn, events, now)
        outcome.command_results = by_type.get(CommandResult, [])
        return outcome

    # -- dedup -------------------------------------------------------------------------------------------
    def _dedup(self, conn: Connection, messages: list[AgentMessage], now: datetime,
               outcome: BatchOutcome) -> list[AgentMessage]:
        # (agent_id, epoch, seq): a reinstalled agent counts seq from 1 again, in a new epoch.
        unique: dict[tuple[str, str, int], AgentMessage] = {}
        for message in messages:
            unique.setdefault((message.agent_id, message.epoch, message.seq), message)
        sql = DriverSQL(conn)
        received_at = sql.time(now)
        params: list[Any] = []
        for (agent_id, epoch, seq), m in unique.items():
            params += (agent_id, epoch, seq, _kind(m), received_at)
        one = f"({sql.marks(5)})"
        inserted = set(map(tuple, sql.execute(
            f"INSERT INTO received_messages (agent_id, epoch, seq, kind, received_at) VALUES "
            f"{', '.join([one] * len(unique))} ON CONFLICT DO NOTHING RETURNING agent_id, epoch, seq",
            params).all()))
        outcome.received = len(inserted)
        outcome.duplicates = len(messages) - len(inserted)
        fresh = [m for key, m in unique.items() if key in inserted]
        for m in fresh:
            kind = _kind(m)
            outcome.by_kind[kind] = outcome.by_kind.get(kind, 0) + 1
        return fresh

    # -- agents ------------------------------------------------------------------------------------------
    def _touch_agents(self, conn: Connection, messages: list[AgentMessage], now: datetime) -> None:
        newest: dict[str, datetime] = {}
        for m in messages:
            if m.agent_id not in newest or m.ts > newest[m.agent_id]:
                newest[m.agent_id] = m.ts
        sql = DriverSQL(conn)
        m = sql.mark
        stamp = sql.time(now)
        sql.executemany(
            f"INSERT INTO agents (agent_id, state, first_seen, changed_at) VALUES ({sql.marks(4)}) "
            "ON CONFLICT DO NOTHING",
            [(a, "unknown", stamp, stamp) for a in sorted(newest)],
        )
        sql.executemany(
            f"UPDATE agents SET last_seen = {m} WHERE agent_id = {m} AND (last_seen IS NULL OR last_seen < {m})",
            [(sql.time(ts), a, sql.time(ts)) for a, ts in sorted(newest.items())],  # one lock order for all
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
            if m.state.value == "online":
                values["will_key"] = None if m.will_seq is None else f"{m.epoch}:{m.will_seq}"
            conn.execute(
                AGENTS.update()
                .where(c.agent_id == m.agent_id, sa.or_(c.state_ts.is_(None), c.state_ts < m.ts))
                .values(**values)
            )
        for m in statuses:
            if m.state.value == "lost":
                # The Will of the current connection: its ts is the connect time, older than the online
                # status it follows, so it is matched by its seq (one-shot) instead of ordered by time.
                conn.execute(AGENTS.update().where(c.agent_id == m.agent_id, c.will_key == f"{m.epoch}:{m.seq}")
                             .values(state="lost", will_key=None, changed_at=now))

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
                     defaults: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], _DeviceRow]:
        """The current rows of `keys`, created when missing.

        On PostgreSQL the rows come locked (FOR UPDATE, in id order so two batches never deadlock),
        which serializes several controller processes per device; they are read under the lock
        because another process may have committed newer states meanwhile. On SQLite the writer
        already holds the whole database (BEGIN IMMEDIATE).
        """
        known = self._device_pks
        unknown = sorted(k for k in keys if k not in known)
        if unknown:
            found = self._select_devices(conn, unknown)
            missing = set(unknown) - found.keys()
            if missing:
                conn.execute(
                    _insert(DEVICES, conn).on_conflict_do_nothing(),
                    [{"agent_id": a, "device_id": d, "availability": "unknown", "power": "unknown",
                      "active_faults": "", "changed_at": now, **defaults.get((a, d), {})}
                     for a, d in sorted(missing)],
                )
                found.update(self._select_devices(conn, sorted(missing)))
            for key, row in found.items():
                known[key] = row.pk
        return self._select_devices(conn, sorted(known[k] for k in keys), by_pk=True)

    _DEVICE_COLUMNS = "id, agent_id, device_id, observed_at, availability, power, active_faults, input, serial, " \
                      "model, firmware, state_epoch, state_seq"

    def _select_devices(self, conn: Connection, keys: list[Any], *, by_pk: bool = False,
                        ) -> dict[tuple[str, str], _DeviceRow]:
        sql = DriverSQL(conn)
        found: dict[tuple[str, str], _DeviceRow] = {}
        for start in range(0, len(keys), 400):  # stay below bound-parameter limits
            chunk = keys[start:start + 400]
            if by_pk:
                query = (f"SELECT {self._DEVICE_COLUMNS} FROM devices WHERE id IN ({sql.marks(len(chunk))}) "
                         "ORDER BY id" + ("" if sql.sqlite else " FOR UPDATE"))
                params: list[Any] = chunk
            else:
                query = (f"SELECT {self._DEVICE_COLUMNS} FROM devices "
                         f"WHERE {sql.row_in('agent_id, device_id', len(chunk), 2)}")
                params = [v for key in chunk for v in key]
            for (pk, agent_id, device_id, observed, availability, power, faults, inp, serial, model, fw, epoch,
                 seq) in sql.execute(query, params).all():
                observed_at = sql.read_time(observed)
                summary = None if observed_at is None else StatusSummary(availability, power, faults, inp)
                found[(agent_id, device_id)] = _DeviceRow(pk, observed_at, summary, serial, model, fw, epoch, seq)
        return found

    def _states(self, conn: Connection, states: list[StateMessage], now: datetime, outcome: BatchOutcome) -> None:
        per_device: dict[tuple[str, str], list[StateMessage]] = defaultdict(list)
        for m in states:
            per_device[(m.agent_id, m.device_id)].append(m)
        defaults = {k: {"kind": ms[0].kind.value, "protocol": ms[0].protocol.value} for k, ms in per_device.items()}
        rows = self._device_rows(conn, set(per_device), now, defaults)
        history: list[dict[str, Any]] = []
        current_updates: list[dict[str, Any]] = []
        for key, messages in per_device.items():
            row = rows[key]
            before = row.summary
            newest: StateMessage | None = None
            last_change: datetime | None = None
            for m in ordering.in_order(messages):
                summary = StatusSummary.of(m)
                if not ordering.is_newer(m, row.epoch, row.seq, row.observed_at):
                    outcome.stale_states += 1
                    outcome.transitions += self._file_late_state(conn, row.pk, m, summary, now)
                    continue
                if summary != row.summary:
                    history.append(_history_row(row.pk, m, summary, now))
                    last_change = m.observed_at
                row.summary, row.observed_at, row.epoch, row.seq, newest = summary, m.observed_at, m.epoch, m.seq, m
            if newest is None:
                continue
            old_serial = row.serial
            if self._inventory(conn, row, newest, now):
                outcome.swapped_units += 1
                outcome.swaps.append((newest.agent_id, newest.device_id, old_serial, newest.identity.serial))
            # For the ticket rules, a change is one of availability or faults (power and input raise nothing).
            faults_changed = before is None or (before.availability, before.active_faults) != (
                row.summary.availability, row.summary.active_faults)
            outcome.current_states.append((newest.agent_id, newest.device_id, newest, faults_changed))
            raw = self._payloads.get(id(newest))
            status_json = raw.decode() if raw is not None else newest.model_dump_json(exclude=_ENVELOPE_FIELDS)
            current_updates.append(_current_row(row, newest, last_change, now, status_json))
        outcome.transitions += len(history)
        sql = DriverSQL(conn)
        m = sql.mark
        sql.executemany(
            f"INSERT INTO device_history (device_pk, agent_id, device_id, seq, replayed, observed_at, received_at, "
            f"availability, power, active_faults, input, power_w) VALUES ({sql.marks(12)})",
            [_history_tuple(sql, h) for h in history],
        )
        # A repeat (no transition) only refreshes the status; a transition rewrites the summary columns.
        changed = [u for u in current_updates if u["last_change"] is not None]
        repeats = [u for u in current_updates if u["last_change"] is None]
        guard = f"WHERE id = {m} AND {ordering.newer_guard(m)}"
        sql.executemany(
            f"UPDATE devices SET kind = {m}, protocol = {m}, availability = {m}, power = {m}, active_faults = {m}, "
            f"input = {m}, power_w = {m}, status = {sql.json_mark()}, observed_at = {m}, last_change = {m}, "
            f"changed_at = {m}, state_epoch = {m}, state_seq = {m} {guard}",
            [(u["kind"], u["protocol"], u["availability"], u["power"], u["active_faults"], u["input"], u["power_w"],
              u["status"], (t := sql.time(u["observed_at"])), sql.time(u["last_change"]),
              sql.time(u["changed_at_new"]), u["epoch"], u["seq"], u["pk"],
              *ordering.guard_params(u["epoch"], u["seq"], u["replayed"], t)) for u in changed],
        )
        sql.executemany(
            f"UPDATE devices SET power_w = {m}, status = {sql.json_mark()}, observed_at = {m}, state_epoch = {m}, "
            f"state_seq = {m} {guard}",
            [(u["power_w"], u["status"], (t := sql.time(u["observed_at"])), u["epoch"], u["seq"], u["pk"],
              *ordering.guard_params(u["epoch"], u["seq"], u["replayed"], t)) for u in repeats],
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
        swapped = inventory.observe_identity(conn, device_pk=row.pk, agent_id=m.agent_id, device_id=m.device_id,
                                             identity=ident, observed_at=m.observed_at)
        row.serial, row.model, row.firmware = ident.serial, ident.model, ident.firmware
        row.updates.update(serial=ident.serial, model=ident.model, firmware=ident.firmware)
        conn.execute(DEVICES.update().where(DEVICES.c.id == row.pk).values(**row.updates))
        return int(swapped)

    # -- events ------------------------------------------------------------------------------------------
    def _events(self, conn: Connection, events: list[EventMessage], now: datetime) -> None:
        keys = {(m.agent_id, m.device_id) for m in events}
        rows = self._device_rows(conn, keys, now, {})
        conn.execute(EVENTS.insert(), [
            {"device_pk": rows[(m.agent_id, m.device_id)].pk, "agent_id": m.agent_id, "device_id": m.device_id,
             "seq": m.seq, "replayed": m.replayed, "event": m.event.value, "component": m.component,
             "old": m.old, "new": m.new, "detail": m.detail, "observed_at": m.observed_at}
            for m in events
        ])


_KINDS = {StatusMessage: "status", BirthMessage: "birth", StateMessage: "state", EventMessage: "event",
          HealthMessage: "health", CommandResult: "cmd_result"}


def _kind(message: AgentMessage) -> str:
    return _KINDS[type(message)]


def _summary(row: Any) -> StatusSummary:
    return StatusSummary(row.availability, row.power, row.active_faults, row.input)


def _history_tuple(sql: DriverSQL, h: dict[str, Any]) -> tuple[Any, ...]:
    return (h["device_pk"], h["agent_id"], h["device_id"], h["seq"], h["replayed"], sql.time(h["observed_at"]),
            sql.time(h["received_at"]), h["availability"], h["power"], h["active_faults"], h["input"], h["power_w"])


def _history_row(device_pk: int, m: StateMessage, summary: StatusSummary, now: datetime) -> dict[str, Any]:
    return {"device_pk": device_pk, "agent_id": m.agent_id, "device_id": m.device_id, "seq": m.seq,
            "replayed": m.replayed, "observed_at": m.observed_at, "received_at": now,
            "availability": summary.availability, "power": summary.power,
            "active_faults": summary.active_faults, "input": summary.input, "power_w": m.power_w}


def _current_row(row: _DeviceRow, m: StateMessage, last_change: datetime | None, now: datetime,
                 status_json: str) -> dict[str, Any]:
    return {"pk": row.pk, "kind": m.kind._value_, "protocol": m.protocol._value_,
            "availability": row.summary.availability, "power": row.summary.power,
            "active_faults": row.summary.active_faults,
            "input": m.input, "power_w": m.power_w,
            "status": status_json,
            "observed_at": m.observed_at, "last_change": last_change, "epoch": m.epoch, "seq": m.seq,
            "replayed": m.replayed,
            "changed_at_new": now if last_change is not None else None}
