"""What every device poller offers.

A poller never raises for device trouble in `poll()`: an unreachable, locked or confused device is
a status with the matching `availability`. `execute()` raises a CommandError subclass instead
(avfleet.protocols.errors), so the agent can answer a command with `failed` and the reason.
`make_poller()` (avfleet.protocols.factory) is the one place that picks a poller for a device URL.
"""

from __future__ import annotations

from typing import Any, Protocol

from avfleet.protocols.status import DeviceStatus


class DevicePoller(Protocol):
    device_id: str

    async def poll(self) -> DeviceStatus: ...

    async def execute(self, action: str, args: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...
