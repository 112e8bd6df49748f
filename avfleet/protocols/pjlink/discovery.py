"""Class 2 UDP: search (SRCH out, ACKN with the MAC back) and status notifications (LKUP, POWR, ERST, INPT).

One socket serves both, because devices disagree on where answers and notifications go (the
search's source port, or UDP 4352 of the controller): bind it to 4352 in production and send SRCH
from it. Notifications are hints that trigger a poll, never state: the callback gets the source IP,
which the caller maps to a device.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import PJLINK_PORT, Notification, SearchAck
from avfleet.protocols.pjlink.errors import PJLinkProtocolError

log = logging.getLogger(__name__)

NotificationCallback = Callable[[str, Notification], "Awaitable[None] | None"]

SEARCH_WINDOW_S = 30.0  # the spec's window; answers may arrive anywhere in it


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    ip: str
    mac: str


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: PJLinkUdpEndpoint) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._owner._received(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("PJLink UDP socket error: %s", exc)


class PJLinkUdpEndpoint:
    """A UDP socket for PJLink search and notifications. `await open()`, then `search()`; `close()` at the end."""

    def __init__(self, on_notification: NotificationCallback | None = None) -> None:
        self.on_notification = on_notification
        self._transport: asyncio.DatagramTransport | None = None
        self._answers: dict[tuple[str, str], SearchAnswer] | None = None
        self._got_answer = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._search_lock = asyncio.Lock()
        self.bad_datagrams = 0

    async def open(
        self, host: str = "0.0.0.0", port: int = PJLINK_PORT, *, broadcast: bool = True
    ) -> PJLinkUdpEndpoint:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        return self

    @property
    def local_address(self) -> tuple[str, int]:
        if self._transport is None:
            raise RuntimeError("the UDP endpoint is not open")
        return self._transport.get_extra_info("sockname")[:2]

    async def __aenter__(self) -> PJLinkUdpEndpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def search(
        self,
        targets: Iterable[tuple[str, int]] = (("255.255.255.255", PJLINK_PORT),),
        *,
        deadline: float = SEARCH_WINDOW_S,
        expected: int | None = None,
    ) -> list[SearchAnswer]:
        """Send `%2SRCH` to each target and collect distinct (ip, mac) answers until `deadline` seconds
        have passed, or sooner once `expected` answers are in."""
        if self._transport is None:
            raise RuntimeError("the UDP endpoint is not open")
        loop = asyncio.get_running_loop()
        async with self._search_lock:
            self._answers = {}
            self._got_answer.clear()
            try:
                for target in targets:
                    self._transport.sendto(codec.encode_search(), target)
                end = loop.time() + deadline
                while expected is None or len(self._answers) < expected:
                    left = end - loop.time()
                    if left <= 0:
                        break
                    try:
                        async with asyncio.timeout(left):
                            await self._got_answer.wait()
                    except TimeoutError:
                        break
                    self._got_answer.clear()
                return list(self._answers.values())
            finally:
                self._answers = None

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        ip = addr[0]
        try:
            message = codec.parse_datagram(data)
        except PJLinkProtocolError as exc:
            self.bad_datagrams += 1
            log.debug("unreadable PJLink datagram from %s: %s", ip, exc)
            return
        if isinstance(message, SearchAck):
            if self._answers is not None:
                self._answers.setdefault((ip, message.mac), SearchAnswer(ip, message.mac))
                self._got_answer.set()
            return
        if isinstance(message, codec.SearchRequest) or self.on_notification is None:
            return
        try:
            result = self.on_notification(ip, message)
        except Exception:
            log.exception("PJLink notification callback failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def search(
    targets: Iterable[tuple[str, int]] = (("255.255.255.255", PJLINK_PORT),),
    *,
    deadline: float = SEARCH_WINDOW_S,
    expected: int | None = None,
    bind: tuple[str, int] = ("0.0.0.0", 0),
) -> list[SearchAnswer]:
    """One-off search from a fresh socket (the agent should keep one endpoint on 4352 instead)."""
    endpoint = await PJLinkUdpEndpoint().open(*bind)
    try:
        return await endpoint.search(targets, deadline=deadline, expected=expected)
    finally:
        endpoint.close()
