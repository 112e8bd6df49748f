"""PJLink readings turned into the normalized DeviceStatus, and the four PJLink commands.

One connection per poll cycle, closed afterwards: projectors serve one session at a time and drop
idle ones after ~30 s, so holding a connection between polls only blocks other room controllers.
ERR3 (standby, busy) and ERR1 (capability absent) are states of a reading; only ERST digits and
ERR4 say something is broken.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.errors import CommandError, CommandRetryable, CommandUnsupported
from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import ErrorStatus, LampReading, PowerState
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkDeviceError,
    PJLinkParameterError,
    PJLinkProjectorFailure,
    PJLinkProtocolError,
    PJLinkTimeout,
    PJLinkUnavailable,
    PJLinkUndefinedCommand,
    PJLinkUnreachable,
)
from avfleet.protocols.pjlink.session import PJLinkSession
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


def faults_from_erst(status: ErrorStatus) -> Faults:
    return Faults(**{name: _LEVELS[int(getattr(status, name))] for name in codec.ERST_COMPONENTS})


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
        retries: int = 1,
        poll_deadline: float = 30.0,
        mac: str | None = None,
        identity_interval: float = 3600.0,
    ) -> None:
        self.device_id = device_id
        self.target = target
        self.kind = kind or Kind.projector
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.poll_deadline = poll_deadline  # the whole poll, however slowly the device dribbles its replies
        self.mac = mac  # from discovery (ACKN/LKUP); PJLink itself never tells it over TCP
        self._lock = asyncio.Lock()  # one session per projector: a command waits for a running poll
        self._lampless = False  # LAMP answered ERR1 once: laser/LED, stop asking
        self._no_filter = False
        self._last_lamps: list[Lamp] = []
        self._last_filter: int | None = None
        self.pjlink_class: int | None = None
        # Identity (INF1/INF2/INFO/NAME/CLSS/SNUM/SVER) is re-read after this long, and after any failed
        # poll, so a swapped unit is seen as soon as it answers; fragile units dislike needless questions.
        self.identity_interval = identity_interval
        self._identity: Identity | None = None
        self._identity_read_at = 0.0
        self.last_raw: bytes | None = None  # raw bytes of the last protocol violation, for the record

    def __repr__(self) -> str:
        return f"PJLinkPoller({self.device_id!r}, {self.target.redacted()})"

    def _session(self) -> PJLinkSession:
        t = self.target
        return PJLinkSession(
            t.host,
            t.port,
            t.password,
            connect_timeout=self.connect_timeout,
            reply_timeout=self.reply_timeout,
            retries=self.retries,
        )

    def _status(self, availability: Availability, **fields: Any) -> DeviceStatus:
        return DeviceStatus(
            device_id=self.device_id, kind=self.kind, protocol=Protocol.pjlink, availability=availability, **fields
        )

    async def poll(self) -> DeviceStatus:
        """A full status; never raises for device trouble (it shows up as availability and detail)."""
        async with self._lock:
            session = self._session()
            reading: dict[str, Any] = {}
            try:
                async with asyncio.timeout(self.poll_deadline):
                    await self._read(session, reading)
            except TimeoutError:
                return self._failed(Availability.unreachable, f"no complete answer within {self.poll_deadline:g} s")
            except PJLinkAuthError as exc:
                return self._failed(Availability.auth_failed, str(exc))
            except PJLinkTimeout as exc:
                return self._failed(Availability.unreachable, str(exc))
            except PJLinkUnreachable as exc:
                return self._failed(Availability.unreachable, f"{exc} (powered off, or network off in standby?)")
            except PJLinkProtocolError as exc:
                self.last_raw = exc.raw
                return self._failed(Availability.error, f"unreadable answer: {exc}")
            finally:
                await session.close()
            return self._status(Availability.online, **reading)

    def _failed(self, availability: Availability, detail: str) -> DeviceStatus:
        self._identity = None
        identity = Identity(mac=self.mac, pjlink_class=str(self.pjlink_class) if self.pjlink_class else None)
        return self._status(availability, detail=detail[:500], identity=identity)

    async def _ask(self, session: PJLinkSession, command: str, pjlink_class: int = 1, param: str = "?") -> Any:
        """A typed value, or the PJLinkDeviceError the device answered with (returned, not raised)."""
        try:
            return await session.query(command, pjlink_class, param)
        except PJLinkDeviceError as exc:
            return exc

    async def _read(self, session: PJLinkSession, out: dict[str, Any]) -> None:
        power = await self._ask(session, "POWR")
        erst = await self._ask(session, "ERST")
        identity = self._identity
        if identity is None or time.monotonic() - self._identity_read_at >= self.identity_interval:
            identity = await self._read_identity(session)
        clss = self.pjlink_class or 1

        out["power"] = POWER_MAP[power] if isinstance(power, PowerState) else Power.unknown
        if isinstance(erst, ErrorStatus):
            out["faults"] = faults_from_erst(erst)
        elif isinstance(erst, PJLinkProjectorFailure) or isinstance(power, PJLinkProjectorFailure):
            out["faults"] = Faults(other=FaultLevel.error)
        else:
            out["faults"] = Faults()

        out["lamps"] = await self._read_lamps(session)
        if power == PowerState.on:
            value = await self._ask(session, "INPT", clss)
            out["input"] = value if isinstance(value, str) else None
            mute = await self._ask(session, "AVMT")
            out["av_mute"] = mute.video if isinstance(mute, codec.AvMute) else None
        if clss == 2:
            out["filter_hours"] = await self._read_filter(session)
        out["identity"] = identity.model_copy(update={"mac": self.mac})

    async def _read_identity(self, session: PJLinkSession) -> Identity:
        clss = await self._ask_class(session)
        texts = {}
        for command in ("INF1", "INF2", "INFO", "NAME"):
            value = await self._ask(session, command)
            texts[command] = value if isinstance(value, str) and value else None
        serial = firmware = None
        if clss == 2:
            value = await self._ask(session, "SNUM", 2)
            serial = value if isinstance(value, str) and value else None
            value = await self._ask(session, "SVER", 2)
            firmware = value if isinstance(value, str) and value else None
        self._identity = Identity(
            manufacturer=texts["INF1"],
            model=texts["INF2"],
            serial=serial,
            firmware=firmware or texts["INFO"],
            name=texts["NAME"],
            mac=self.mac,
            pjlink_class=str(clss),
        )
        self._identity_read_at = time.monotonic()
        return self._identity

    async def _ask_class(self, session: PJLinkSession) -> int:
        try:
            value = await self._ask(session, "CLSS")
        except PJLinkProtocolError:
            value = 1  # CLSS that cannot be read: assume Class 1, the safe subset
        self.pjlink_class = value if isinstance(value, int) else 1
        return self.pjlink_class

    async def _read_lamps(self, session: PJLinkSession) -> list[Lamp]:
        if self._lampless:
            return []
        value = await self._ask(session, "LAMP")
        if isinstance(value, PJLinkUndefinedCommand):
            self._lampless = True
            return []
        if isinstance(value, list):
            self._last_lamps = [Lamp(hours=lamp.hours, on=lamp.on) for lamp in value if isinstance(lamp, LampReading)]
        # ERR3 in standby and other refusals: the hours have not changed since we last read them
        return list(self._last_lamps)

    async def _read_filter(self, session: PJLinkSession) -> int | None:
        if self._no_filter:
            return None
        value = await self._ask(session, "FILT", 2)
        if isinstance(value, PJLinkUndefinedCommand):
            self._no_filter = True
            return None
        if isinstance(value, int):
            self._last_filter = value
        return self._last_filter

    # ------------------------------------------------------------ commands

    async def execute(self, action: str, args: dict[str, Any]) -> None:
        """power_on, power_off, set_input {"input": "31"}, av_mute {"on": bool}.

        Raises CommandRetryable (ERR3: warming up, cooling down, standby), CommandUnsupported
        (ERR1/ERR2, or an action PJLink does not have) or CommandError.
        """
        command, param, pjlink_class = self._command_for(action, args or {})
        async with self._lock:
            session = self._session()
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
