"""What every device poller offers, and the one place that picks a poller for a device URL.

A poller never raises for device trouble in `poll()`: an unreachable, locked or confused device is
a status with the matching `availability`. `execute()` raises a CommandError subclass instead, so
the agent can answer a command with `failed` and the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

from avfleet.protocols.device_url import DeviceTarget, PJLinkTarget, SnmpTarget, parse_device_url
from avfleet.protocols.status import DeviceStatus, Kind


class CommandError(Exception):
    """A command the device did not carry out; the message is shown to the technician."""


class CommandUnsupported(CommandError):
    """The device or protocol cannot do this action at all (reject, do not retry)."""


class CommandRetryable(CommandError):
    """The device is busy now (warming up, cooling down); the same command may work later."""


class DevicePoller(Protocol):
    device_id: str

    async def poll(self) -> DeviceStatus: ...

    async def execute(self, action: str, args: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


def make_poller(
    device_id: str,
    url_or_target: str | DeviceTarget,
    *,
    profile: str | None = None,
    kind: Kind | None = None,
    **options: Any,
) -> DevicePoller:
    """Build the poller for a device URL (imports the protocol package only when needed)."""
    target = (
        parse_device_url(url_or_target, profile)
        if isinstance(url_or_target, str)
        else url_or_target
    )
    if isinstance(target, PJLinkTarget):
        from avfleet.protocols.pjlink.poller import PJLinkPoller

        return PJLinkPoller(device_id, target, kind=kind, **options)
    if isinstance(target, SnmpTarget):
        from avfleet.protocols.snmp.poller import SnmpPoller

        return SnmpPoller(device_id, target, kind=kind, **options)
    raise TypeError(f"no poller for {type(target).__name__}")
