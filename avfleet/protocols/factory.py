"""The one place that picks a poller for a device URL.

It sits above the protocol packages (they import only avfleet.protocols.errors and .poller, never
this module), so adding a protocol is one branch here and no import cycle.
"""

from __future__ import annotations

from typing import Any

from avfleet.protocols.device_url import DeviceTarget, PJLinkTarget, SnmpTarget, parse_device_url
from avfleet.protocols.poller import DevicePoller
from avfleet.protocols.status import Kind


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
