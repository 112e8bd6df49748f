"""Finding things on the agent's LAN: projectors (PJLink Class 2 search, mDNS) and the broker (mDNS).

- `discover(...)`: one round of PJLink `%2SRCH` (through avfleet.protocols.pjlink.discovery) and
  mDNS browsing for `_pjlink._tcp` and a few related service types; `avfleet discover` prints it.
- `find_broker(...)`: the first `_mqtt._tcp` (or `_secure-mqtt._tcp`) service announced by mDNS,
  used when the config says `broker.discover: true`.
- `NotificationListener`: keeps the PJLink UDP endpoint open on port 4352 so Class 2 status
  notifications (LKUP, POWR, ERST, INPT) reach the agent; each one pokes the coordinator(s) of the
  sending address for an immediate poll. Notifications are hints, never state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from avfleet.protocols.pjlink.codec import PJLINK_PORT

log = logging.getLogger("avfleet.agent.discovery")

PROJECTOR_SERVICE_TYPES = (
    "_pjlink._tcp.local.",
    "_pjlink._udp.local.",
    "_crestron-cip._tcp.local.",  # many networked projectors and displays announce one of these
    "_amx._tcp.local.",
)
BROKER_SERVICE_TYPES = ("_mqtt._tcp.local.", "_secure-mqtt._tcp.local.")


@dataclass(frozen=True)
class Found:
    source: str  # "pjlink-search" or "mdns"
    host: str
    port: int | None = None
    mac: str | None = None
    name: str | None = None
    service: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def url(self) -> str | None:
        if self.source == "pjlink-search" or (self.service or "").startswith("_pjlink"):
            port = f":{self.port}" if self.port and self.port != PJLINK_PORT else ""
            return f"pjlink://{self.host}{port}"
        return None


async def pjlink_search(
    targets: Iterable[tuple[str, int]] = (("255.255.255.255", PJLINK_PORT),),
    *,
    timeout: float = 5.0,
    bind: tuple[str, int] = ("0.0.0.0", 0),
) -> list[Found]:
    from avfleet.protocols.pjlink.discovery import search

    answers = await search(targets, deadline=timeout, bind=bind)
    return [Found("pjlink-search", a.ip, PJLINK_PORT, mac=a.mac) for a in answers]


async def mdns_browse(
    service_types: Iterable[str],
    *,
    timeout: float = 5.0,
    interfaces: list[str] | None = None,
    stop_after_first: bool = False,
) -> list[Found]:
    """Browse mDNS for the service types; resolve each announced instance to address and port."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    kwargs = {"interfaces": interfaces} if interfaces else {}
    azc = AsyncZeroconf(ip_version=IPVersion.V4Only, **kwargs)
    names: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_change(zeroconf, service_type: str, name: str, state_change) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.put_nowait((service_type, name))

    browser = AsyncServiceBrowser(azc.zeroconf, list(service_types), handlers=[on_change])
    found: dict[tuple[str, int | None], Found] = {}
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    try:
        while (left := end - loop.time()) > 0:
            try:
                async with asyncio.timeout(left):
                    service_type, name = await names.get()
            except TimeoutError:
                break
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(azc.zeroconf, 3000):
                continue
            props = {
                (k.decode(errors="replace") if isinstance(k, bytes) else str(k)):
                (v.decode(errors="replace") if isinstance(v, bytes) else str(v or ""))
                for k, v in (info.properties or {}).items()
            }
            for address in info.parsed_addresses():
                item = Found("mdns", address, info.port, name=name.removesuffix("." + service_type),
                             service=service_type.removesuffix(".local."), properties=props)
                found.setdefault((address, info.port), item)
            if stop_after_first and found:
                break
    finally:
        await browser.async_cancel()
        await azc.async_close()
    return list(found.values())


async def discover(
    *,
    timeout: float = 5.0,
    pjlink: bool = True,
    mdns: bool = True,
    search_targets: Iterable[tuple[str, int]] = (("255.255.255.255", PJLINK_PORT),),
    bind: tuple[str, int] = ("0.0.0.0", 0),
    interfaces: list[str] | None = None,
) -> list[Found]:
    """PJLink search and mDNS browsing side by side; one entry per (source, host, port)."""
    jobs = []
    if pjlink:
        jobs.append(pjlink_search(search_targets, timeout=timeout, bind=bind))
    if mdns:
        jobs.append(mdns_browse(PROJECTOR_SERVICE_TYPES, timeout=timeout, interfaces=interfaces))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    out: list[Found] = []
    for result in results:
        if isinstance(result, BaseException):
            log.warning("discovery failed: %s", result)
            continue
        out.extend(result)
    return out


async def find_broker(*, timeout: float = 5.0, interfaces: list[str] | None = None) -> tuple[str, int, bool] | None:
    """(host, port, tls) of the first MQTT broker announced by mDNS, or None."""
    found = await mdns_browse(BROKER_SERVICE_TYPES, timeout=timeout, stop_after_first=True, interfaces=interfaces)
    for item in found:
        return item.host, item.port or 1883, (item.service or "").startswith("_secure-mqtt")
    return None


class NotificationListener:
    """PJLink Class 2 notifications → `on_device(device_id, detail)` for every device at the sender's address."""

    def __init__(self, devices_by_host: dict[str, list[str]], on_device: Callable[[str, str], None]) -> None:
        self.devices_by_host = devices_by_host
        self.on_device = on_device
        self.received = 0
        self._endpoint = None

    async def open(self, host: str = "0.0.0.0", port: int = PJLINK_PORT) -> NotificationListener:
        from avfleet.protocols.pjlink.discovery import PJLinkUdpEndpoint

        self._endpoint = await PJLinkUdpEndpoint(on_notification=self._notified).open(host, port)
        return self

    @property
    def port(self) -> int:
        if self._endpoint is None:
            raise RuntimeError("listener is not open")
        return self._endpoint.local_address[1]

    def _notified(self, ip: str, notification: object) -> None:
        self.received += 1
        # Several devices share an address only with emulators on one host; each of them is polled.
        for device_id in self.devices_by_host.get(ip, ()):
            self.on_device(device_id, describe_notification(notification))

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None


def describe_notification(notification: object) -> str:
    """One line naming a PJLink notification and its values, for logs and events."""
    name = type(notification).__name__.removesuffix("Notice")
    fields = getattr(notification, "__dict__", None) or {
        k: getattr(notification, k) for k in getattr(notification, "__slots__", ()) if hasattr(notification, k)
    }
    values = ", ".join(f"{k}={getattr(v, 'name', v)}" for k, v in fields.items())
    return f"PJLink {name}" + (f" ({values})" if values else "")
