"""The words a profile and a device status share: device kind, power state, fault level.

A leaf module (it imports nothing of ours): profiles sit below protocols in the layer order, so the
normalized status (avfleet.protocols.status) takes these enums from here, and a profile's `kind` or
an `enum` mapping to a power state is checked against the very values a poller reports.
"""

from __future__ import annotations

from enum import StrEnum

# The fault components of a device status, in PJLink ERST order; a profile maps each of them.
FAULT_COMPONENTS = ("fan", "lamp", "temperature", "cover", "filter", "other")


class Kind(StrEnum):
    projector = "projector"
    display = "display"
    pdu = "pdu"
    other = "other"


class Power(StrEnum):
    on = "on"
    standby = "standby"
    warming = "warming"
    cooling = "cooling"
    unknown = "unknown"


class FaultLevel(StrEnum):
    ok = "ok"
    warning = "warning"
    error = "error"
    unknown = "unknown"
