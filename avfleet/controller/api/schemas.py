"""Response and request bodies of the API, for validation and the OpenAPI description."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from avfleet.protocols.mqtt.payloads import Action

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class DeviceItem(BaseModel):
    id: str
    agent_id: str
    kind: str | None
    protocol: str | None
    municipality: str | None
    school: str | None
    room: str | None
    availability: str
    power: str
    faults: list[str]
    input: str | None
    power_w: float | None
    model: str | None
    serial: str | None
    firmware: str | None
    observed_at: datetime | None
    last_change: datetime | None
    agent_state: str


class Transition(BaseModel):
    observed_at: datetime
    availability: str
    power: str
    faults: list[str]
    input: str | None
    power_w: float | None
    replayed: bool
    seq: int
    received_at: datetime


class DeviceEventItem(BaseModel):
    event: str
    component: str | None
    old: Any
    new: Any
    detail: str | None
    observed_at: datetime
    replayed: bool
    seq: int


class InventoryItem(BaseModel):
    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    mac: str | None
    first_seen: datetime
    last_seen: datetime
    closed_at: datetime | None
    closed_reason: str | None


class DeviceDetail(DeviceItem):
    status: dict[str, Any] | None = Field(description="The last normalized device status (DESIGN.md)")
    history: list[Transition] = Field(description="Newest transitions first")
    history_total: int
    events: list[DeviceEventItem]
    inventory: list[InventoryItem] = Field(description="Physical units seen under this id; closed = swapped")


class AgentItem(BaseModel):
    id: str
    state: str
    last_seen: datetime | None
    version: str | None
    host: str | None
    municipality: str | None
    school: str | None
    room: str | None
    health: dict[str, Any] | None
    devices: int


class AgentDetail(AgentItem):
    configured_devices: list[dict[str, Any]] | None
    boot_id: str | None


class CommandRequest(BaseModel):
    action: Action
    device_id: str | None = Field(default=None, description="Target device; omit only for refresh")
    agent_id: str | None = Field(default=None, description="Needed when the device id exists on several agents, "
                                 "or for refresh of a whole agent")
    args: dict[str, Any] = Field(default_factory=dict, description='set_input: {"input": "31"}; av_mute: {"on": true}')
    ttl_s: int | None = Field(default=None, ge=1, le=7 * 24 * 3600,
                              description="Seconds before the command expires (default from settings)")


class CommandItem(BaseModel):
    id: str
    agent_id: str
    device_id: str | None
    action: str
    args: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    status: str = Field(description="pending | sent | done | failed | expired | rejected")
    detail: str | None
    result_at: datetime | None


class LoginRequest(BaseModel):
    username: str
    password: str


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"


class Health(BaseModel):
    status: str
    database: str
    broker: str
