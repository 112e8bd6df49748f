"""Inventory tables: the county's register of units, its history and repair cases, and the agents' observations.

`inventory` is the register (one row per physical unit, the contract's fields); `inventory_records`
are what agents saw under each device id (service.observe_identity, filed by the fleet ingest), each
matched to a register unit by serial, then MAC (`unit_id`), or left to be placed.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime


class InventoryRecordBase(SQLModel):
    """The fields the API shows as stored (written once: the table and schemas.InventoryItem)."""

    manufacturer: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=128)
    serial: str | None = Field(default=None, max_length=128, index=True)
    firmware: str | None = Field(default=None, max_length=128)
    mac: str | None = Field(default=None, max_length=32)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_reason: str | None = Field(default=None, max_length=32)  # "swapped" when a new serial took its place


class InventoryRecord(InventoryRecordBase, table=True):
    """The physical unit behind a device id; a new serial closes the record (swapped) and opens another."""

    __tablename__ = "inventory_records"
    __table_args__ = (sa.Index("ix_inventory_device_open", "device_pk", "closed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    device_pk: int = Field(foreign_key="devices.id")
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    # The register's unit this observation was matched to (serial first, then MAC); NULL: to be placed.
    unit_id: int | None = Field(default=None, index=True)


class InventoryUnitBase(SQLModel):
    """The register's contract fields (DESIGN.md "Inventory and reports"), shared with schemas.InventoryUnitItem."""

    municipality: str = Field(max_length=128, index=True)
    school: str = Field(max_length=128, index=True)
    room: str | None = Field(default=None, max_length=128)
    kind: str = Field(max_length=32, index=True)
    manufacturer: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=128)
    serial: str | None = Field(default=None, max_length=128, unique=True)
    mac: str | None = Field(default=None, max_length=32, unique=True)
    firmware: str | None = Field(default=None, max_length=128)
    install_date: date | None = None
    purchase_date: date | None = None
    supplier: str | None = Field(default=None, max_length=128)
    warranty_end: date | None = Field(default=None, index=True)
    lifecycle: str = Field(default="in_use", max_length=16, index=True)
    agent_id: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=2000)
    retired_on: date | None = None
    reused_on: date | None = None
    recycled_on: date | None = None


class InventoryUnit(InventoryUnitBase, table=True):
    """One physical unit of the register: named `inventory` (tickets/context.py reads its warranty_end)."""

    __tablename__ = "inventory"
    __table_args__ = (sa.Index("ix_inventory_agent_device", "agent_id", "device_id"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class InventoryChange(SQLModel, table=True):
    """The history of a unit: one row per changed field, who and when ("agent:<id>" for what agents saw)."""

    __tablename__ = "inventory_history"
    __table_args__ = (sa.Index("ix_inventory_history_unit", "unit_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="inventory.id")
    at: datetime = Field(sa_type=UTCDateTime)
    by: str = Field(max_length=128)
    field: str = Field(max_length=32)
    old: str | None = Field(default=None, max_length=2000)
    new: str | None = Field(default=None, max_length=2000)


class RepairCaseBase(SQLModel):
    """A unit handed in for repair: the API shows these columns under their own names."""

    unit_id: int = Field(foreign_key="inventory.id", index=True)
    ticket_id: int | None = Field(default=None, index=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    opened_by: str = Field(max_length=128)
    under_warranty: bool = False
    supplier: str | None = Field(default=None, max_length=128)
    supplier_case: str | None = Field(default=None, max_length=128)
    cost_estimate_sek: int | None = None
    decision: str | None = Field(default=None, max_length=16)  # repair | replace | scrap
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=16)  # returned | replaced | scrapped
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=128)
    notes: str | None = Field(default=None, max_length=2000)


class RepairCase(RepairCaseBase, table=True):
    __tablename__ = "repair_cases"

    id: int | None = Field(default=None, primary_key=True)
    previous_lifecycle: str = Field(max_length=16)  # where a returned unit goes back to
