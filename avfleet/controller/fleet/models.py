"""Fleet tables: agents, devices and their current status, transitions, events, dedup.

(Inventory records of the physical units live in controller/inventory/models.py.)

The ingest writes these with SQLAlchemy Core (`Model.__table__`) for speed; the API reads them.
Each column is written once: the `...Base` classes hold the columns the API shows under their own
names, and fleet/schemas.py derives the API bodies from them. A column the API does not show goes
into the table class itself, never into a base (a base's columns are answered to every caller).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Site(SQLModel):
    """Where an agent stands (its birth message); a device is placed by its agent."""

    municipality: str | None = Field(default=None, max_length=128, index=True)
    school: str | None = Field(default=None, max_length=128, index=True)
    room: str | None = Field(default=None, max_length=128)


class AgentBase(Site):
    """Agent columns the API lists under their own names (schemas.AgentItem)."""

    state: str = Field(default="unknown", max_length=16, index=True,
                       description="online | offline | lost | unknown")
    last_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: str | None = Field(default=None, max_length=64)
    host: str | None = Field(default=None, max_length=255)
    health: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class AgentDetailBase(AgentBase):
    """Agent columns only one agent's detail shows (schemas.AgentDetail)."""

    boot_id: str | None = Field(default=None, max_length=64)
    configured_devices: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)


class Agent(AgentDetailBase, table=True):
    __tablename__ = "agents"

    agent_id: str = Field(primary_key=True, max_length=64)
    state_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)  # envelope ts of the state message
    # "epoch:seq" of the Last Will of the agent's current connection (from its online status).
    will_key: str | None = Field(default=None, max_length=64)
    birth_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)
    health_ts: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)  # wall clock of the last change (stream cursor)


class Reading(SQLModel):
    """What a device's current row and each of its transitions both keep of a state."""

    # Not indexed: rewritten on every transition, and a county's devices scan in milliseconds.
    availability: str = Field(default="unknown", max_length=16)
    power: str = Field(default="unknown", max_length=16)
    input: str | None = Field(default=None, max_length=32)
    power_w: float | None = None


class StoredFaults(SQLModel):
    """Faults as stored: filterable text; the API shows them as a list (`faults`)."""

    active_faults: str = Field(default="", max_length=128)  # "lamp,fan": components at warning or error


class DeviceBase(Reading):
    """Device columns the API lists under their own names (schemas.DeviceItem)."""

    kind: str | None = Field(default=None, max_length=16)
    protocol: str | None = Field(default=None, max_length=16)
    serial: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=128)
    firmware: str | None = Field(default=None, max_length=128)
    observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_change: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Device(DeviceBase, StoredFaults, table=True):
    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("agent_id", "device_id", name="uq_devices_agent_device"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(foreign_key="agents.agent_id", max_length=64, index=True)
    device_id: str = Field(max_length=64, index=True)
    # The last state message as received (envelope fields included; the API strips them).
    status: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    # The agent's (epoch, seq) of the current state: within one epoch seq orders states whatever the
    # agent's clock says (fleet/ordering.py); observed_at only decides across epochs.
    state_epoch: str | None = Field(default=None, max_length=32)
    state_seq: int | None = Field(default=None, sa_type=sa.BigInteger)
    changed_at: datetime = Field(sa_type=UTCDateTime, index=True)


class OfDevice(SQLModel):
    """The device a history or event row belongs to (device_pk for joins, the pair for readers)."""

    device_pk: int = Field(foreign_key="devices.id")
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)


class Delivered(SQLModel):
    """Where a row came from in the agent's stream."""

    seq: int = Field(sa_type=sa.BigInteger)
    replayed: bool = False


class TransitionBase(Reading, Delivered):
    """Transition columns the API shows under their own names (schemas.Transition)."""

    observed_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)


class DeviceTransition(TransitionBase, StoredFaults, OfDevice, table=True):
    """One row per change of availability, power, faults or input; repeats are not stored."""

    __tablename__ = "device_history"
    __table_args__ = (sa.Index("ix_device_history_device_observed", "device_pk", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)


class DeviceEventBase(Delivered):
    """Event columns the API shows as stored (schemas.DeviceEventItem)."""

    event: str = Field(max_length=32)
    component: str | None = Field(default=None, max_length=64)
    old: Any = Field(default=None, sa_type=sa.JSON)
    new: Any = Field(default=None, sa_type=sa.JSON)
    detail: str | None = Field(default=None, max_length=512)
    observed_at: datetime = Field(sa_type=UTCDateTime)


class DeviceEvent(DeviceEventBase, OfDevice, table=True):
    __tablename__ = "device_events"
    __table_args__ = (sa.Index("ix_device_events_device_observed", "device_pk", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)


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
