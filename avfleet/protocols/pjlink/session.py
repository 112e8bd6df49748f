"""One asyncio PJLink connection to one projector.

Greeting, authentication (the digest rides on the first command only), one request at a time,
a deadline per step, and a bounded retry: when the projector has closed the connection (its ~30 s
idle close, or an EOF/RST on the next write or read) the session reconnects and repeats the
command, at most `retries` times. A reply that does not come in time is not retried: the caller
gets PJLinkTimeout after `reply_timeout`, so a stalled device costs bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import PJLINK_PORT, LineFramer, Reply
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkProtocolError,
    PJLinkTimeout,
    PJLinkUnreachable,
)


class _ConnectionLost(Exception):
    """EOF or reset on an open connection: worth one reconnect."""


class PJLinkSession:
    """A PJLink client connection; use `async with` or call `close()`."""

    def __init__(
        self,
        host: str,
        port: int = PJLINK_PORT,
        password: str | None = None,
        *,
        connect_timeout: float = 3.0,
        reply_timeout: float = 5.0,
        retries: int = 1,
        max_idle: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.retries = max(0, retries)
        self.max_idle = max_idle  # reconnect rather than reuse a connection the projector may have dropped
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framer = LineFramer()
        self._lines: deque[bytes] = deque()
        self._token: str | None = None
        self._authenticated = False
        self._last_io = 0.0
        self._lock = asyncio.Lock()
        self.connects = 0  # how many connections this session has opened (for tests and metrics)

    def __repr__(self) -> str:
        auth = ", password=***" if self._password else ""
        return f"PJLinkSession({self.host}:{self.port}{auth})"

    async def __aenter__(self) -> PJLinkSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Open the connection and read the greeting; raises PJLinkUnreachable/Timeout/AuthError/ProtocolError."""
        await self.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=4096)
        except TimeoutError:
            where = f"{self.host}:{self.port}"
            raise PJLinkTimeout(f"no TCP connection to {where} within {self.connect_timeout:g} s") from None
        except OSError as exc:
            reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or repr(exc))
            raise PJLinkUnreachable(f"cannot connect to {self.host}:{self.port}: {reason}") from None
        self.connects += 1
        self._framer = LineFramer()
        self._lines.clear()
        self._authenticated = False
        try:
            async with asyncio.timeout(self.reply_timeout):
                line = await self._read_line()
        except TimeoutError:
            await self.close()
            raise PJLinkTimeout(f"no PJLink greeting within {self.reply_timeout:g} s") from None
        except _ConnectionLost:
            await self.close()
            raise PJLinkUnreachable("the projector closed the connection before greeting") from None
        except PJLinkProtocolError:
            await self.close()
            raise
        try:
            greeting = codec.parse_greeting(line)
        except (PJLinkAuthError, PJLinkProtocolError):
            await self.close()
            raise
        if greeting.auth_required and self._password is None:
            await self.close()
            raise PJLinkAuthError("the projector requires a password and none is configured")
        self._token = greeting.token
        self._last_io = loop.time()

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def request(self, command: str, param: str = "?", pjlink_class: int = 1) -> Reply:
        """Send one command and return its reply; ERRn comes back as a Reply with `.error` set."""
        line = codec.encode_request(command, param, pjlink_class)  # validate before any I/O
        async with self._lock:
            attempt = 0
            while True:
                try:
                    return await self._exchange(command, param, pjlink_class, line)
                except _ConnectionLost:
                    await self.close()
                    if attempt >= self.retries:
                        raise PJLinkUnreachable(f"the projector closed the connection during {command}") from None
                    attempt += 1

    async def query(self, command: str, pjlink_class: int = 1, param: str = "?") -> object:
        """A query's typed value (see codec.parse_value); ERRn raises the matching PJLinkDeviceError."""
        reply = await self.request(command, param, pjlink_class)
        reply.raise_for_error()
        return codec.parse_value(reply.command, reply.value)

    async def set(self, command: str, param: str, pjlink_class: int = 1) -> None:
        """A set command that must be answered OK; ERRn raises the matching PJLinkDeviceError."""
        reply = await self.request(command, param, pjlink_class)
        reply.raise_for_error()
        codec.parse_ok(reply.value)

    async def _exchange(self, command: str, param: str, pjlink_class: int, line: bytes) -> Reply:
        loop = asyncio.get_running_loop()
        if self.connected and loop.time() - self._last_io > self.max_idle:
            await self.close()
        if not self.connected:
            await self.connect()
        if self._writer is None:
            raise _ConnectionLost()
        if self._token is not None and not self._authenticated:
            digest = codec.auth_digest(self._token, self._password or "")
            line = codec.encode_request(command, param, pjlink_class, digest=digest)
        try:
            self._writer.write(line)
            async with asyncio.timeout(self.reply_timeout):
                await self._writer.drain()
                reply_line = await self._read_line()
        except TimeoutError:
            pending = self._framer.pending
            await self.close()
            what = f" (got {pending[:40]!r} and then nothing)" if pending else ""
            raise PJLinkTimeout(f"no reply to {command} within {self.reply_timeout:g} s{what}") from None
        except OSError as exc:  # reset, broken pipe, host unreachable: the connection is gone
            raise _ConnectionLost() from exc
        except PJLinkProtocolError:
            await self.close()  # an oversize line leaves the stream out of step
            raise
        self._last_io = loop.time()
        try:
            reply = codec.parse_reply(reply_line)
        except PJLinkAuthError:
            await self.close()
            raise
        if reply.command != command.upper():
            await self.close()  # out of step with the device; start afresh next time
            raise PJLinkProtocolError(f"reply to {reply.command} where {command.upper()} was asked", reply_line)
        self._authenticated = True
        return reply

    async def _read_line(self) -> bytes:
        while not self._lines:
            if self._reader is None:
                raise _ConnectionLost()
            try:
                data = await self._reader.read(4096)
            except (ConnectionError, OSError) as exc:
                raise _ConnectionLost() from exc
            if not data:
                raise _ConnectionLost()
            self._lines.extend(self._framer.feed(data))
        return self._lines.popleft()
