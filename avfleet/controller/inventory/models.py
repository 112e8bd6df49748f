"""Inventory tables: the physical unit behind a device id, one record per unit seen under it.

The fleet ingest files every identity it sees here (service.observe_identity); the inventory issue
grows these records into the county's register (DESIGN.md "Inventory and reports").
"""

from __future__ import annotations

from datetime import datetime

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
