"""API bodies of the inventory domain, derived from the tables' base classes (fields written once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from avfleet.controller.inventory.models import InventoryRecordBase, InventoryUnitBase, RepairCaseBase


class InventoryItem(InventoryRecordBase):
    """One physical unit seen under a device id (in a device's detail); closed = swapped out."""


class Place(BaseModel):
    municipality: str | None
    school: str | None
    room: str | None


class InventoryUnitItem(InventoryUnitBase):
    """A unit of the register; `moved`: the agent reporting it stands elsewhere (`seen_at`)."""

    id: int
    moved: bool = False
    seen_at: Place | None = None


class HistoryEntry(BaseModel):
    at: datetime
    by: str
    field: str
    old: str | None = None
    new: str | None = None


class RepairCasePublic(RepairCaseBase):
    id: int


class InventoryUnitDetail(InventoryUnitItem):
    history: list[HistoryEntry] = Field(default_factory=list)
    repairs: list[RepairCasePublic] = Field(default_factory=list)


class InventoryList(BaseModel):
    items: list[InventoryUnitItem]
    total: int


class UnplacedItem(BaseModel):
    """An open observation no register unit matches (by serial, then MAC), with where its agent stands."""

    id: int
    agent_id: str
    device_id: str
    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    mac: str | None = None
    firmware: str | None = None
    first_seen: datetime
    last_seen: datetime
    municipality: str | None = None
    school: str | None = None
    room: str | None = None


class UnplacedList(BaseModel):
    items: list[UnplacedItem]
    total: int


class InventoryPatch(BaseModel):
    """Fields to change (the CSV's columns); checked by the import's rules. null clears a field."""

    model_config = ConfigDict(extra="forbid")

    municipality: str | None = Field(default=None, max_length=128)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)
    kind: str | None = Field(default=None, max_length=32)
    manufacturer: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, max_length=128)
    serial: str | None = Field(default=None, max_length=128)
    mac: str | None = Field(default=None, max_length=32)
    firmware: str | None = Field(default=None, max_length=128)
    install_date: date | None = None
    purchase_date: date | None = None
    supplier: str | None = Field(default=None, max_length=128)
    warranty_end: date | None = None
    lifecycle: Literal["in_use", "spare", "reused", "retired", "recycled", "in_repair"] | None = None
    notes: str | None = Field(default=None, max_length=2000)


class RowFate(BaseModel):
    line: int
    fate: Literal["created", "updated", "unchanged", "error"]
    unit_id: int | None = None
    fields: list[str] = Field(default_factory=list, description="changed fields (updated)")
    errors: list[dict[str, str]] = Field(default_factory=list, description="[{field, problem}] (error)")


class ImportReport(BaseModel):
    written: bool
    counts: dict[str, int]
    rows: list[RowFate]


class RepairOpen(BaseModel):
    """Open a repair case for a unit, or for the unit behind a fault ticket (`ticket_id`): one of the two."""

    model_config = ConfigDict(extra="forbid")

    unit_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    ticket_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    under_warranty: bool | None = Field(default=None, description="default: warranty_end on or after today")
    supplier: str | None = Field(default=None, max_length=128)
    supplier_case: str | None = Field(default=None, max_length=128)
    cost_estimate_sek: int | None = Field(default=None, ge=0, le=10_000_000)
    notes: str | None = Field(default=None, max_length=2000)


class RepairUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    under_warranty: bool | None = None
    supplier: str | None = Field(default=None, max_length=128)
    supplier_case: str | None = Field(default=None, max_length=128)
    cost_estimate_sek: int | None = Field(default=None, ge=0, le=10_000_000)
    decision: Literal["repair", "replace", "scrap"] | None = None
    notes: str | None = Field(default=None, max_length=2000)


class RepairClose(BaseModel):
    """returned: the unit goes back to where it was; replaced: the supplier kept it (it is retired)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["returned", "replaced"]


class RepairList(BaseModel):
    items: list[RepairCasePublic]
    total: int


class LifecycleStep(BaseModel):
    """retire / recycle: the date (default today); reuse: the new place too."""

    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    municipality: str | None = Field(default=None, max_length=128)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)


class DeviceModel(BaseModel):
    """A device model in the register: its units, and the profile that holds the model's facts."""

    kind: str
    manufacturer: str | None = None
    model: str | None = None
    units: int
    in_use: int = Field(description="units in_use or reused")
    profile: str | None = Field(default=None, description="the matching device profile, none if only a generic one")


class DeviceModelList(BaseModel):
    items: list[DeviceModel]
    total: int
