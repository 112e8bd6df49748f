"""What counts as a transition of a device: the fields whose change goes into the history."""

from __future__ import annotations

from dataclasses import dataclass

from avfleet.protocols.status import FAULT_COMPONENTS, DeviceStatus, FaultLevel

_ACTIVE = (FaultLevel.warning, FaultLevel.error)


@dataclass(frozen=True, slots=True)
class StatusSummary:
    availability: str
    power: str
    active_faults: str
    input: str | None

    @classmethod
    def of(cls, status: DeviceStatus) -> StatusSummary:
        # `_value_` is the member's plain attribute; `.value` goes through a slower descriptor.
        return cls(status.availability._value_, status.power._value_, active_faults(status), status.input)


def active_faults(status: DeviceStatus) -> str:
    """Components at warning or error, in contract order, as "lamp,fan"-style text (filterable in SQL)."""
    faults = status.faults
    return ",".join([name for name in FAULT_COMPONENTS if getattr(faults, name) in _ACTIVE])
