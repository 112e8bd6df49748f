"""The normalized device status of DESIGN.md, shared by every poller and the MQTT contract.

Field names are part of the contract: `avfleet probe --json` prints exactly this object and the
agent publishes it on `dev/{device_id}/state`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Kind, Power and FaultLevel are shared with the device profiles, which sit below protocols and own
# them; re-exported here so every poller and consumer keeps importing them from the status.
from avfleet.profiles.vocabulary import FAULT_COMPONENTS, FaultLevel, Kind, Power


class Protocol(StrEnum):
    pjlink = "pjlink"
    snmp = "snmp"


class Availability(StrEnum):
    online = "online"
    unreachable = "unreachable"
    auth_failed = "auth_failed"
    error = "error"  # answered, but not understood




class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fan: FaultLevel = FaultLevel.unknown
    lamp: FaultLevel = FaultLevel.unknown
    temperature: FaultLevel = FaultLevel.unknown
    cover: FaultLevel = FaultLevel.unknown
    filter: FaultLevel = FaultLevel.unknown
    other: FaultLevel = FaultLevel.unknown

    def active(self) -> dict[str, FaultLevel]:
        """Components at warning or error."""
        return {
            name: level
            for name in FAULT_COMPONENTS
            if (level := getattr(self, name)) in (FaultLevel.warning, FaultLevel.error)
        }


class Lamp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: int = Field(ge=0)
    on: bool


class Outlet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    name: str | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    on: bool | None = None
    # The device this outlet feeds (the agent config's `feeds`): the controller counts the outlet's
    # watts as that device's measured draw (docs/energy.md). Contract addition, additive.
    feeds: str | None = None


class Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    name: str | None = None
    mac: str | None = None
    pjlink_class: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeviceStatus(BaseModel):
    """One poll's result, whatever the protocol."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    kind: Kind
    protocol: Protocol
    availability: Availability
    power: Power = Power.unknown
    faults: Faults = Field(default_factory=Faults)
    lamps: list[Lamp] = Field(default_factory=list)
    filter_hours: int | None = None
    input: str | None = None
    av_mute: bool | None = None
    power_w: float | None = None
    outlets: list[Outlet] = Field(default_factory=list)
    identity: Identity = Field(default_factory=Identity)
    observed_at: datetime = Field(default_factory=utc_now)
    detail: str | None = None

    def comparable(self) -> dict:
        """The status without its timestamp: two polls that compare equal here are 'no change'."""
        return self.model_dump(mode="json", exclude={"observed_at"})
