"""Fleet tables: agents, devices and their current status, transitions, events, dedup.

(Inventory records of the physical units live in controller/inventory/models.py.)

The ingest writes these with SQLAlchemy Core (`Model.__table__`) for speed; the API reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    agent_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(default="unknown", max_length=16, index=True)  # online | offline | lost | unknown
    state_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)  # envelope ts of the state message
    last_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: str | None = Field(default=None, max_length=64)
    host: str | None = Field(default=None, max_length=255)
    boot_id: str | None = Field(default=None, max_length=64)
    municipality: str | None = Field(default=None, max_length=128, index=True)
    school: str | None = Field(default=None, max_length=128, index=True)
    room: str | None = Field(default=None, max_length=128)
    birth_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)
    configured_devices: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    health: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    health_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)  # wall clock of the last change (stream cursor)


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("agent_id", "device_id", name="uq_devices_agent_device"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agents.agent_id", max_length=64, index=True)
    device_id: str = Field(max_length=64, index=True)
    kind: str | None = Field(default=None, max_length=16)
    protocol: str | None = Field(default=None, max_length=16)
    # Not indexed: rewritten on every transition, and a county's devices scan in milliseconds.
    availability: str = Field(default="unknown", max_length=16)
    power: str = Field(default="unknown", max_length=16)
    active_faults: str = Field(default="", max_length=128)  # "lamp,fan": components at warning or error
    input: str | None = Field(default=None, max_length=32)
    power_w: float | None = None
    serial: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=128)
    firmware: str | None = Field(default=None, max_length=128)
    # The last state message as received (envelope fields included; the API strips them).
    status: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The agent's (epoch, seq) of the current state: within one epoch seq orders states whatever the
    # agent's clock says (fleet/ordering.py); observed_at only decides across epochs.
    state_epoch: str | None = Field(default=None, max_length=32)
    state_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    last_change: datetime | None = Field(default=None, sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)


class DeviceTransition(SQLModel, table=True):
    """One row per change of availability, power, faults or input; repeats are not stored."""

    __tablename__ = "device_history"
    __table_args__ = (sa.Index("ix_device_history_device_observed", "device_pk", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    device_pk: int = Field(foreign_key="devices.id")
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    seq: int = Field(sa_type=sa.BigInteger)
    replayed: bool = False
    observed_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    availability: str = Field(max_length=16)
    power: str = Field(max_length=16)
    active_faults: str = Field(default="", max_length=128)
    input: str | None = Field(default=None, max_length=32)
    power_w: float | None = None


class DeviceEvent(SQLModel, table=True):
    __tablename__ = "device_events"
    __table_args__ = (sa.Index("ix_device_events_device_observed", "device_pk", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    device_pk: int = Field(foreign_key="devices.id")
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    seq: int = Field(sa_type=sa.BigInteger)
    replayed: bool = False
    event: str = Field(max_length=32)
    component: str | None = Field(default=None, max_length=64)
    old: Any = Field(default=None, sa_type=sa.JSON)
    new: Any = Field(default=None, sa_type=sa.JSON)
    detail: str | None = Field(default=None, max_length=512)
    observed_at: datetime = Field(sa_type=UTCDateTime)


class ReceivedMessage(SQLModel, table=True):
    """Dedup: an (agent_id, epoch, seq) is processed once; rows older than the retention are pruned.

    `epoch` is the agent outbox's id ("0" for agents that send none): a reinstalled agent counts
    seq from 1 again in a new epoch, which must not look like a run of duplicates.
    """

    __tablename__ = "received_messages"

    agent_id: str = Field(primary_key=True, max_length=64)
    epoch: str = Field(default="0", primary_key=True, max_length=32)
    seq: int = Field(primary_key=True, sa_type=sa.BigInteger)
    kind: str = Field(max_length=16)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
