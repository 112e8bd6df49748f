"""PJLink readings turned into the normalized DeviceStatus, and the four PJLink commands.

One connection per poll cycle, closed afterwards: projectors serve one session at a time and drop
idle ones after ~30 s, so holding a connection between polls only blocks other room controllers.
ERR3 (standby, busy) and ERR1 (capability absent) are states of a reading; only ERST digits and
ERR4 say something is broken.

One unreadable answer costs one reading: the codec stays strict, and the poller turns its typed
error into an unknown field with the raw bytes in `detail`; the device answered, so it is online.
Questions go in order of value (power and errors, lamps and filter, manufacturer and model while
unknown, input and mute, the rest) under one deadline per poll; when it passes, what was read
stands and the rest is unknown.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.errors import CommandError, CommandRetryable, CommandUnsupported
from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import ErrorStatus, LampReading, PowerState
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkDeviceError,
    PJLinkError,
    PJLinkNoReply,
    PJLinkParameterError,
    PJLinkProjectorFailure,
    PJLinkProtocolError,
    PJLinkTimeout,
    PJLinkUnavailable,
    PJLinkUndefinedCommand,
    PJLinkUnreachable,
)
from avfleet.protocols.pjlink.session import AnswerClock, PJLinkSession, SessionNotificationCallback
from avfleet.protocols.status import (
    Availability,
    DeviceStatus,
    FaultLevel,
    Faults,
    Identity,
    Kind,
    Lamp,
    Power,
    Protocol,
)

POWER_MAP = {
    PowerState.standby: Power.standby,
    PowerState.on: Power.on,
    PowerState.cooling: Power.cooling,
    PowerState.warming: Power.warming,
}
_LEVELS = {0: FaultLevel.ok, 1: FaultLevel.warning, 2: FaultLevel.error}
ACTIONS = ("power_on", "power_off", "set_input", "av_mute")
IDENTITY_QUESTIONS = ("CLSS", "INF1", "INF2", "INFO", "NAME", "SNUM", "SVER")
_CLASS2_IDENTITY = frozenset({"SNUM", "SVER"})
_MISSES_BEFORE_GIVING_UP = 2  # answers missed in a row: the device has hung, stop asking


def faults_from_erst(status: ErrorStatus) -> Faults:
    return Faults(**{name: _LEVELS[int(getattr(status, name))] for name in codec.ERST_COMPONENTS})


class _StopPoll(Exception):
    """The connection is gone or the device stopped answering: keep what was read."""


@dataclass
class _Run:
    """One poll's readings, filled answer by answer so that a deadline keeps what was read."""

    deadline_at: float
    out: dict[str, Any] = field(default_factory=dict)
    answered: int = 0  # answers understood: a value or an ERRn
    unreadable: list[tuple[str, PJLinkProtocolError]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    missed_in_row: int = 0
    first_miss: PJLinkNoReply | None = None
    asking: str | None = None
    failure: PJLinkError | None = None  # what ended the poll early


class PJLinkPoller:
    """Polls one PJLink projector; implements avfleet.protocols.poller.DevicePoller."""

    def __init__(
        self,
        device_id: str,
        target: PJLinkTarget,
        *,
        kind: Kind | None = None,
        connect_timeout: float = 3.0,
        reply_timeout: float = 5.0,
        min_reply_timeout: float = 1.0,
        retries: int = 1,
        poll_deadline: float = 30.0,
        mac: str | None = None,
        identity_interval: float = 3600.0,
        on_notification: SessionNotificationCallback | None = None,
    ) -> None:
        self.device_id = device_id
        self.target = target
        self.kind = kind or Kind.projector
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout  # the most any one answer may take
        self.retries = retries
        self.poll_deadline = poll_deadline  # the whole poll, however slowly the device dribbles its replies
        self.mac = mac  # from discovery (ACKN/LKUP); PJLink itself never tells it over TCP
        # The per-answer timeout follows this device's answer times, across polls (bounded below and above).
        self.clock = AnswerClock(reply_timeout, min_reply_timeout)
        # Class 2 notifications pushed on the control connection: (host, Notification), as the UDP endpoint's.
        self.on_notification = on_notification
        self._lock = asyncio.Lock()  # one session per projector: a command waits for a running poll
        self._lampless = False  # LAMP answered ERR1 once: laser/LED, stop asking
        self._no_filter = False
        self._last_lamps: list[Lamp] = []
        self._last_filter: int | None = None
        self.pjlink_class: int | None = None
        # Identity (CLSS/INF1/INF2/INFO/NAME/SNUM/SVER) is re-read after this long, and after any failed
        # poll, so a swapped unit is seen as soon as it answers; fragile units dislike needless questions.
        # A question that got no readable answer stays due; the last reading stands meanwhile.
        self.identity_interval = identity_interval
        self._ident: dict[str, str | None] = {}
        self._ident_due: set[str] = set(IDENTITY_QUESTIONS)
        self._identity_read_at = 0.0
        self.last_raw: bytes | None = None  # raw bytes of the last unreadable answer, for the record
        self.stray_lines = 0  # lines on the control connection that answered nothing asked (all polls)
        self.notifications = 0  # Class 2 notifications seen on the control connection (all polls)

    def __repr__(self) -> str:
        return f"PJLinkPoller({self.device_id!r}, {self.target.redacted()})"

    def _session(self, *, learned: bool = True) -> PJLinkSession:
        """A session; `learned=False` waits the full reply_timeout for every answer (commands: a unit
        may take longer to accept POWR 1 than to answer a query, and a cut-off command is ambiguous)."""
        t = self.target
        self.clock.ceiling = self.reply_timeout
        return PJLinkSession(
            t.host,
            t.port,
            t.password,
            connect_timeout=self.connect_timeout,
            reply_timeout=self.reply_timeout,
            retries=self.retries,
            clock=self.clock if learned else AnswerClock(self.reply_timeout),
            on_notification=self.on_notification,
        )

    def _status(self, availability: Availability, **fields: Any) -> DeviceStatus:
        return DeviceStatus(
            device_id=self.device_id, kind=self.kind, protocol=Protocol.pjlink, availability=availability, **fields
        )

    async def poll(self) -> DeviceStatus:
        """A status; never raises for device trouble (it shows up as availability and detail)."""
        async with self._lock:
            session = self._session()
            run = _Run(deadline_at=time.monotonic() + self.poll_deadline)
            cut = False
            try:
                async with asyncio.timeout(self.poll_deadline):
                    await self._read(session, run)
            except TimeoutError:
                cut = True
            except _StopPoll:
                pass
            except PJLinkAuthError as exc:
                return self._failed(Availability.auth_failed, str(exc))
            finally:
                await session.close()
                self.stray_lines += session.stray_lines
                self.notifications += session.notifications
            return self._finish(run, cut)

    def _finish(self, run: _Run, cut: bool) -> DeviceStatus:
        if run.answered == 0:
            if run.unreadable:
                return self._failed(Availability.error, f"unreadable answer: {run.unreadable[0][1]}")
            if cut:
                return self._failed(Availability.unreachable, f"no complete answer within {self.poll_deadline:g} s")
            failure = run.first_miss or run.failure
            if isinstance(failure, PJLinkTimeout) or failure is None:
                return self._failed(Availability.unreachable, str(failure or "no answer"))
            return self._failed(Availability.unreachable, f"{failure} (powered off, or network off in standby?)")
        notes = [f"{command} unreadable: {exc.raw[:60]!r}" for command, exc in run.unreadable]
        if run.missed:
            notes.append(f"no reply to {', '.join(run.missed)}")
        if cut:
            notes.append(f"poll deadline {self.poll_deadline:g} s passed at {run.asking}; the rest is unknown")
        elif isinstance(run.failure, PJLinkNoReply):
            notes.append(f"stopped asking at {run.asking} after {_MISSES_BEFORE_GIVING_UP} missed answers in a row")
        elif run.failure is not None:
            notes.append(f"stopped at {run.asking}: {run.failure}")
        out = dict(run.out)
        out.setdefault("lamps", list(self._last_lamps))
        out["identity"] = self._identity()
        detail = "; ".join(notes)[:500] or None
        return self._status(Availability.online, detail=detail, **out)

    def _failed(self, availability: Availability, detail: str) -> DeviceStatus:
        self._ident_due = set(IDENTITY_QUESTIONS)  # whoever answers next may be another unit
        identity = Identity(mac=self.mac, pjlink_class=str(self.pjlink_class) if self.pjlink_class else None)
        return self._status(availability, detail=detail[:500], identity=identity)

    def _identity(self) -> Identity:
        k = self._ident
        return Identity(
            manufacturer=k.get("INF1"),
            model=k.get("INF2"),
            serial=k.get("SNUM"),
            firmware=k.get("SVER") or k.get("INFO"),
            name=k.get("NAME"),
            mac=self.mac,
            pjlink_class=str(self.pjlink_class) if self.pjlink_class else None,
        )

    async def _ask(self, session: PJLinkSession, run: _Run, command: str, pjlink_class: int = 1) -> Any:
        """A typed value, the PJLinkDeviceError the device answered with (returned, not raised), or
        None when the answer could not be read or did not come. Raises _StopPoll when asking on is futile."""
        if time.monotonic() >= run.deadline_at:
            raise TimeoutError  # the poll's deadline, should a cancellation have been swallowed
        run.asking = command
        try:
            value = await session.query(command, pjlink_class)
        except PJLinkDeviceError as exc:
            value = exc
        except PJLinkNoReply as exc:
            run.missed.append(command)
            run.first_miss = run.first_miss or exc
            run.missed_in_row += 1
            if run.missed_in_row >= _MISSES_BEFORE_GIVING_UP:
                run.failure = exc
                raise _StopPoll from None
            return None
        except PJLinkProtocolError as exc:
            self.last_raw = exc.raw
            run.unreadable.append((command, exc))
            run.missed_in_row = 0
            if not session.connected:  # a garbage greeting or an oversize line: the stream is not PJLink
                run.failure = exc
                raise _StopPoll from None
            return None
        except PJLinkUnreachable as exc:  # no connection (refused, reset, no greeting): nothing more to ask
            run.failure = exc
            raise _StopPoll from None
        run.answered += 1
        run.missed_in_row = 0
        return value

    async def _read(self, session: PJLinkSession, run: _Run) -> None:
        if not self._ident_due and time.monotonic() - self._identity_read_at >= self.identity_interval:
            self._ident_due = set(IDENTITY_QUESTIONS)
        due = self._ident_due
        out = run.out

        power = await self._ask(session, run, "POWR")
        out["power"] = POWER_MAP[power] if isinstance(power, PowerState) else Power.unknown
        erst = await self._ask(session, run, "ERST")
        if isinstance(erst, ErrorStatus):
            out["faults"] = faults_from_erst(erst)
        elif isinstance(erst, PJLinkProjectorFailure) or isinstance(power, PJLinkProjectorFailure):
            out["faults"] = Faults(other=FaultLevel.error)

        out["lamps"] = await self._read_lamps(session, run)
        if "CLSS" in due or self.pjlink_class is None:
            await self._read_class(session, run)
        clss = self.pjlink_class or 1
        if clss == 2:
            out["filter_hours"] = await self._read_filter(session, run)
        early = [c for c in ("INF1", "INF2") if c in due and self._ident.get(c) is None]
        for command in early:  # they decide the profile: early while unknown
            await self._read_text(session, run, command)
        if power == PowerState.on:
            value = await self._ask(session, run, "INPT", clss)
            out["input"] = value if isinstance(value, str) else None
            mute = await self._ask(session, run, "AVMT")
            out["av_mute"] = mute.video if isinstance(mute, codec.AvMute) else None
        for command in ("INF1", "INF2", "INFO", "NAME", "SNUM", "SVER"):
            if command not in due or command in early:  # one try per poll
                continue
            if command in _CLASS2_IDENTITY and self.pjlink_class != 2:
                if self.pjlink_class == 1:
                    due.discard(command)  # a Class 1 unit has no serial to ask for
                continue
            await self._read_text(session, run, command)
        if not due:
            self._identity_read_at = time.monotonic()

    async def _read_class(self, session: PJLinkSession, run: _Run) -> None:
        value = await self._ask(session, run, "CLSS")
        if isinstance(value, int):
            self.pjlink_class = value
        elif isinstance(value, PJLinkDeviceError):
            self.pjlink_class = self.pjlink_class or 1  # CLSS refused: assume Class 1, the safe subset
        else:
            return  # unreadable or no answer: ask again next poll; Class 1 questions meanwhile
        if self.pjlink_class == 1:
            for command in _CLASS2_IDENTITY:  # a Class 1 unit (maybe a replacement) has no SNUM/SVER
                self._ident.pop(command, None)
        self._ident_due.discard("CLSS")

    async def _read_text(self, session: PJLinkSession, run: _Run, command: str) -> None:
        value = await self._ask(session, run, command, 2 if command in _CLASS2_IDENTITY else 1)
        if isinstance(value, str):
            self._ident[command] = value or None
        elif isinstance(value, PJLinkDeviceError):
            self._ident[command] = None
        else:
            return  # unreadable or no answer: the last reading stands and the question stays due
        self._ident_due.discard(command)

    async def _read_lamps(self, session: PJLinkSession, run: _Run) -> list[Lamp]:
        if self._lampless:
            return []
        value = await self._ask(session, run, "LAMP")
        if isinstance(value, PJLinkUndefinedCommand):
            self._lampless = True
            return []
        if isinstance(value, list):
            self._last_lamps = [Lamp(hours=lamp.hours, on=lamp.on) for lamp in value if isinstance(lamp, LampReading)]
        # ERR3 in standby, an unreadable answer, no answer: the list cannot say "unknown", so the
        # last reading stands (lamp hours do not change while nobody can read them)
        return list(self._last_lamps)

    async def _read_filter(self, session: PJLinkSession, run: _Run) -> int | None:
        if self._no_filter:
            return None
        value = await self._ask(session, run, "FILT", 2)
        if isinstance(value, PJLinkUndefinedCommand):
            self._no_filter = True
            return None
        if isinstance(value, int):
            self._last_filter = value
        elif value is None:
            return None  # unreadable or no answer: unknown
        return self._last_filter  # ERR3: the last reading stands


    # ------------------------------------------------------------ commands

    async def execute(self, action: str, args: dict[str, Any]) -> None:
        """power_on, power_off, set_input {"input": "31"}, av_mute {"on": bool}.

        Raises CommandRetryable (ERR3: warming up, cooling down, standby), CommandUnsupported
        (ERR1/ERR2, or an action PJLink does not have) or CommandError.
        """
        command, param, pjlink_class = self._command_for(action, args or {})
        async with self._lock:
            session = self._session(learned=False)
            try:
                async with asyncio.timeout(self.poll_deadline):
                    await session.set(command, param, pjlink_class)
            except PJLinkUnavailable:
                raise CommandRetryable(
                    f"{action}: the projector is busy (ERR3: warming up, cooling down or in standby); try later"
                ) from None
            except (PJLinkUndefinedCommand, PJLinkParameterError) as exc:
                raise CommandUnsupported(f"{action}: the projector refused {command} {param} ({exc.code})") from None
            except PJLinkProjectorFailure:
                raise CommandError(f"{action}: the projector reports a hardware failure (ERR4)") from None
            except PJLinkAuthError as exc:
                raise CommandError(f"{action}: authentication failed: {exc}") from None
            except (PJLinkUnreachable, TimeoutError) as exc:
                raise CommandError(f"{action}: projector unreachable: {exc or 'deadline passed'}") from None
            except PJLinkProtocolError as exc:
                raise CommandError(f"{action}: unreadable answer: {exc}") from None
            finally:
                await session.close()

    def _command_for(self, action: str, args: dict[str, Any]) -> tuple[str, str, int]:
        if action == "power_on":
            return "POWR", "1", 1
        if action == "power_off":
            return "POWR", "0", 1
        if action == "set_input":
            code = args.get("input")
            if not isinstance(code, str):
                raise CommandError('set_input needs {"input": CODE}, a PJLink input code such as "31"')
            try:
                code = codec.parse_input(code, 2)
            except PJLinkProtocolError:
                raise CommandError(
                    f"set_input: {code!r} is not a PJLink input code (type 1-6 then 1-9 or A-Z, e.g. 31)"
                ) from None
            needs_class2 = code[0] == "6" or not code[1].isdigit()
            return "INPT", code, 2 if needs_class2 else 1
        if action == "av_mute":
            on = args.get("on")
            if not isinstance(on, bool):
                raise CommandError('av_mute needs {"on": true|false}')
            channel = {"video": "1", "audio": "2", "both": "3"}.get(args.get("channel", "both"))
            if channel is None:
                raise CommandError('av_mute "channel" must be "video", "audio" or "both"')
            return "AVMT", channel + ("1" if on else "0"), 1
        raise CommandUnsupported(f"PJLink has no action {action!r}; supported: {', '.join(ACTIONS)}")

    async def close(self) -> None:
        """Nothing stays open between polls; kept for the DevicePoller protocol."""
        return None
