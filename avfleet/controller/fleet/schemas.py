"""API bodies of the fleet domain, derived from the tables' base classes in models.py.

A column the API shows under its own name is declared once, in a `...Base` class that the table and
the body below share; only what the API shapes differently is declared here (`id` for the device or
agent id, `faults` as a list, the agent's place beside a device, counts and nested lists).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, SQLModel

from avfleet.controller.fleet.models import (
    AgentBase,
    AgentDetailBase,
    DeviceBase,
    DeviceEventBase,
    Site,
    TransitionBase,
)
from avfleet.controller.inventory.schemas import InventoryItem


class FaultList(SQLModel):
    faults: list[str] = Field(description="Components at warning or error, in contract order")


class DeviceItem(DeviceBase, Site, FaultList):
    id: str = Field(description="The device id chosen in the agent config")
    agent_id: str
    agent_state: str = Field(description="The state of the device's agent: online | offline | lost | unknown")


class Transition(TransitionBase, FaultList):
    pass


class DeviceEventItem(DeviceEventBase):
    pass


class DeviceDetail(DeviceItem):
    status: dict[str, Any] | None = Field(description="The last normalized device status (DESIGN.md)")
    history: list[Transition] = Field(description="Newest transitions first")
    history_total: int
    events: list[DeviceEventItem]
    inventory: list[InventoryItem] = Field(description="Physical units seen under this id; closed = swapped")


class AgentItem(AgentBase):
    id: str = Field(description="The agent id chosen in its config")
    devices: int = Field(description="Devices known under this agent")


class AgentDetail(AgentItem, AgentDetailBase):
    pass


# The device and transition columns the API shows as they are: the read queries select exactly these.
DEVICE_COLUMNS = tuple(DeviceBase.model_fields)
SITE_COLUMNS = tuple(Site.model_fields)
TRANSITION_COLUMNS = tuple(TransitionBase.model_fields)
EVENT_COLUMNS = tuple(DeviceEventBase.model_fields)
AGENT_COLUMNS = tuple(AgentBase.model_fields)
AGENT_DETAIL_COLUMNS = tuple(n for n in AgentDetailBase.model_fields if n not in AgentBase.model_fields)
