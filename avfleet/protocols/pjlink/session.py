"""One asyncio PJLink connection to one projector.

Greeting, authentication (the digest rides on the first command only), one request at a time,
a deadline per step, and a bounded retry: when the projector has closed the connection (its ~30 s
idle close, or an EOF/RST on the next write or read) the session reconnects and repeats the
command, at most `retries` times. A reply that does not come in time is not retried: the caller
gets PJLinkNoReply, so a stalled device costs bounded time.

Answers are matched to questions: a line that is not the answer to the question just asked (a
Class 2 notification pushed on the control connection, a late answer to an earlier question, an
echo of the request) is never taken for it. Notifications go to `on_notification(host, message)`,
the same callback shape as the UDP endpoint's; the rest is counted in `stray_lines` and dropped,
and the session reads on for the real answer within the same timeout.

The per-answer timeout follows the device's measured answer times (`AnswerClock`), so a slow
projector is not cut off and a dead one is found quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import PJLINK_PORT, LineFramer, Notification, Reply
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkNoReply,
    PJLinkProtocolError,
    PJLinkTimeout,
    PJLinkUnreachable,
)

log = logging.getLogger(__name__)

SessionNotificationCallback = Callable[[str, Notification], "Awaitable[None] | None"]

_HEADER_RE = re.compile(rb"^%[12][A-Za-z0-9]{4}")
_NOTICE_COMMANDS = frozenset({"LKUP", "ERST", "POWR", "INPT"})


class AnswerClock:
    """The per-answer timeout from measured answer times: clamp(k × typical, floor, ceiling).

    `typical` is an exponentially weighted mean of answer latencies. Before the first measurement
    the timeout is the ceiling. A missed answer raises the estimate so the next timeout doubles
    (a device slower than we thought gets more time next round); answers pull it back down.
    Keep one clock per device, across polls.
    """

    __slots__ = ("alpha", "ceiling", "floor", "k", "typical")

    def __init__(self, ceiling: float = 5.0, floor: float = 1.0, *, k: float = 3.0, alpha: float = 0.3) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.k = k
        self.alpha = alpha
        self.typical: float | None = None

    def timeout(self) -> float:
        if self.typical is None:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.k * self.typical))

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.typical = seconds if self.typical is None else (1 - self.alpha) * self.typical + self.alpha * seconds

    def missed(self, waited: float) -> None:
        self.typical = max(self.typical or 0.0, 2 * waited / self.k)


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
        min_reply_timeout: float = 1.0,
        clock: AnswerClock | None = None,
        on_notification: SessionNotificationCallback | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout  # the ceiling of the per-answer timeout
        self.retries = max(0, retries)
        self.max_idle = max_idle  # reconnect rather than reuse a connection the projector may have dropped
        self.clock = clock or AnswerClock(reply_timeout, min_reply_timeout)
        self.on_notification = on_notification
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framer = LineFramer()
        self._lines: deque[bytes] = deque()
        self._token: str | None = None
        self._authenticated = False
        self._last_io = 0.0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Future] = set()
        self.connects = 0  # how many connections this session has opened (for tests and metrics)
        self.stray_lines = 0  # lines dropped because they answered no question asked (late, echo, stray)
        self.notifications = 0  # Class 2 notifications that arrived on the control connection

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
        timeout = self.clock.timeout()
        try:
            async with asyncio.timeout(timeout):
                line = await self._read_line()
        except TimeoutError:
            await self.close()
            raise PJLinkTimeout(f"no PJLink greeting within {timeout:.3g} s") from None
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
            # CancelledError is not swallowed: it may be the poll's deadline, which must still end the poll
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    async def request(self, command: str, param: str = "?", pjlink_class: int = 1) -> Reply:
        """Send one command and return its reply; ERRn comes back as a Reply with `.error` set.

        An answer that names this command but cannot be read raises PJLinkProtocolError; the
        connection stays usable then (the device answered, one line for one question)."""
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
        try:
            return codec.parse_value(reply.command, reply.value)
        except PJLinkProtocolError as exc:
            raise PJLinkProtocolError(f"{reply.command}: {exc.args[0]}", reply.raw) from None

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
        echoes = {line.rstrip(b"\r").upper()}
        if self._token is not None and not self._authenticated:
            digest = codec.auth_digest(self._token, self._password or "")
            line = codec.encode_request(command, param, pjlink_class, digest=digest)
            echoes.add(line.rstrip(b"\r").upper())
        timeout = self.clock.timeout()
        started = loop.time()
        try:
            self._writer.write(line)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
                answer = await self._await_answer(command.upper(), pjlink_class, echoes)
        except TimeoutError:
            pending = self._framer.pending
            await self.close()  # a late answer must not be read as the next one's
            self.clock.missed(timeout)
            what = f" (got {pending[:40]!r} and then nothing)" if pending else ""
            raise PJLinkNoReply(f"no reply to {command} within {timeout:.3g} s{what}") from None
        except OSError as exc:  # reset, broken pipe, host unreachable: the connection is gone
            raise _ConnectionLost() from exc
        except PJLinkAuthError:
            await self.close()
            raise
        except PJLinkProtocolError:
            await self.close()  # an oversize line leaves the stream out of step
            raise
        self._last_io = loop.time()
        self.clock.observe(self._last_io - started)
        self._authenticated = True  # anything but ERRA means the digest was accepted
        if isinstance(answer, PJLinkProtocolError):
            raise answer
        return answer

    async def _await_answer(self, command: str, pjlink_class: int, echoes: set[bytes]) -> Reply | PJLinkProtocolError:
        """Read lines until the answer to `command`; an unreadable answer is returned, not raised."""
        while True:
            line = await self._read_line()
            if codec.is_auth_error(line):
                raise PJLinkAuthError("wrong password (PJLINK ERRA)")
            if line.upper() in echoes:
                self.stray_lines += 1  # the device echoed our request
                continue
            try:
                reply = codec.parse_reply(line)
            except PJLinkProtocolError as exc:
                if _HEADER_RE.match(line) and line[2:6].upper().decode("ascii") != command:
                    self.stray_lines += 1  # a broken line about another question
                    continue
                # It names our command, or none at all: take it as our answer, unreadable. One
                # line per question keeps the stream in step; a stray real answer is dropped later.
                return PJLinkProtocolError(f"{command}: {exc.args[0]}", line)
            notice = self._notice(reply, line)
            if reply.command == command and (notice is None or reply.pjlink_class == pjlink_class):
                return reply
            if notice is not None:
                self._notify(notice)
                continue
            self.stray_lines += 1  # a late answer to an earlier question, or an answer nobody asked for
            log.debug("%s: dropped a line that does not answer %s: %r", self, command, line[:80])

    @staticmethod
    def _notice(reply: Reply, line: bytes) -> Notification | None:
        if reply.pjlink_class != 2 or reply.command not in _NOTICE_COMMANDS or reply.error is not None:
            return None
        try:
            message = codec.parse_datagram(line)
        except PJLinkProtocolError:
            return None
        return message if isinstance(message, codec.LinkUp | codec.PowerNotice | codec.ErrorNotice
                                     | codec.InputNotice) else None

    def _notify(self, notice: Notification) -> None:
        self.notifications += 1
        if self.on_notification is None:
            return
        try:
            result = self.on_notification(self.host, notice)
        except Exception:
            log.exception("PJLink notification callback failed")
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
