"""An emulated PJLink projector speaking real bytes on TCP (and, for Class 2, UDP).

Built on asyncio protocols rather than streams so that hundreds run in one process: each
connection is a small object, timers are loop callbacks, and lamp hours are computed on read from
the time spent on instead of being ticked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter, deque
from typing import Any

from avfleet.emulator.pjlink_config import BEHAVIOUR_FAULTS, ProjectorConfig
from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import ERST_COMPONENTS, ErrorLevel, ErrorStatus, PowerState
from avfleet.protocols.pjlink.errors import PJLinkProtocolError

log = logging.getLogger(__name__)

ERR1, ERR2, ERR3, ERR4 = "ERR1", "ERR2", "ERR3", "ERR4"
_QUERY_ONLY = frozenset({"ERST", "LAMP", "INST", "NAME", "INF1", "INF2", "INFO", "CLSS", "SNUM", "SVER",
                         "IRES", "RRES", "FILT", "RLMP", "RFIL"})
_CLASS2_ONLY = codec.CLASS2_COMMANDS - {"INPT", "INST"}
_INPUT_TYPE_NAMES = {"1": "RGB", "2": "VIDEO", "3": "HDMI", "4": "USB", "5": "LAN", "6": "INTERNAL"}
# `out_of_spec` answers: well-formed lines with values the spec does not allow; text answers get a
# parameter longer than the 128 bytes allowed
_OUT_OF_SPEC = {"POWR": "7", "ERST": "003a00", "LAMP": "123456 1", "FILT": "123456", "INPT": "71", "AVMT": "41",
                "CLSS": "9", "INST": "7Z 31", "IRES": "wide", "RRES": "wide", "FREZ": "2"}
_GARBAGE = b"#?! \x7fgarbage\r"


class ProjectorEmulator:
    """One emulated projector. `await start()`, then connect to `.port` (TCP) / `.udp_port` (UDP, Class 2)."""

    def __init__(
        self,
        config: ProjectorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        udp_port: int | None = None,
        udp: bool | None = None,
        seed: int | None = None,
        **overrides: Any,
    ) -> None:
        base = config or ProjectorConfig()
        self.config = ProjectorConfig.model_validate({**base.model_dump(), **overrides}) if overrides else base
        self.host = host
        self._want_port = port
        self._want_udp = (self.config.pjlink_class == 2) if udp is None else udp
        self._want_udp_port = udp_port if udp_port is not None else 0
        self.port: int = 0
        self.udp_port: int | None = None
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rng = random.Random(seed)
        self._connections: set[_Connection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.connections_accepted = 0
        self.commands_received = 0
        self.commands: Counter[str] = Counter()  # "%2SNUM" -> times asked; shows which questions a client asks
        self.auth_failures = 0
        self._locked_until = 0.0
        self._reset_state()

    def __repr__(self) -> str:
        auth = " password=***" if self.config.password else ""
        cls = self.config.pjlink_class
        return f"<ProjectorEmulator {self.host}:{self.port} class={cls}{auth} power={self.power.name}>"

    # ------------------------------------------------------------ life cycle

    def _reset_state(self) -> None:
        c = self.config
        self.power = PowerState.on if c.power == "on" else PowerState.standby
        self.input = c.first_input()
        self.video_muted = False
        self.audio_muted = False
        self.frozen = False
        f = c.faults
        self._erst = {name: getattr(f, name) for name in ERST_COMPONENTS}
        self.lamp_failure = False
        self.slow_replies: float | None = f.slow_replies
        self.silent = f.silent
        self.stall_mid_reply = f.stall_mid_reply
        self._lamp_hours = c.lamp_hours
        self._filter_hours = c.filter_hours
        self._on_since: float | None = None
        if f.lamp_failure:
            self.inject_fault("lamp_failure")

    async def start(self) -> ProjectorEmulator:
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self.power == PowerState.on and self._on_since is None:
            self._on_since = loop.time()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self._want_port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._want_port = self.port  # a later set_network(True) comes back on the same port
        if self._want_udp:
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpResponder(self), local_addr=(self.host, self._want_udp_port)
                )
            except OSError:
                await self.stop()  # no half-started projector holding its TCP port
                raise
            self._udp = transport
            self.udp_port = transport.get_extra_info("sockname")[1]
            self._want_udp_port = self.udp_port
        if self.config.notify_host:
            self.send_linkup()
        return self

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._accumulate_hours()
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    async def __aenter__(self) -> ProjectorEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, *, with_password: bool = True) -> str:
        """The device URL for this projector (pjlink://[:PASSWORD@]HOST:PORT)."""
        pw = self.config.password
        auth = f":{pw}@" if pw and with_password else ""
        return f"pjlink://{auth}{self.host}:{self.port}"

    async def set_network(self, up: bool) -> None:
        """Network on/off (eco standby without network): off closes the listener and every connection."""
        if not up and self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.abort()
            await self._server.wait_closed()
            self._server = None
        elif up and self._server is None:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(lambda: _Connection(self), self.host, self._want_port)

    # ------------------------------------------------------------ state inspection and setters

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    @property
    def errors(self) -> ErrorStatus:
        return ErrorStatus(*(ErrorLevel(self._erst[n]) for n in ERST_COMPONENTS))

    @property
    def lamp_hours(self) -> int:
        return int(self._lamp_hours + self._running_hours())

    @property
    def filter_hours(self) -> int:
        return int(self._filter_hours + self._running_hours())

    @property
    def lamp_on(self) -> bool:
        return self.power == PowerState.on and not self.lamp_failure

    def set_power(self, state: PowerState | str | int) -> None:
        """Put the projector in a power state at once, without the warm-up/cool-down walk."""
        self._cancel_timer()
        self._set_power(_power(state))

    def press_power(self, on: bool) -> str:
        """What `POWR 1`/`POWR 0` does: walk through warm-up or cool-down. Returns the PJLink answer."""
        if on:
            if self.lamp_failure:
                return ERR4
            if self.power == PowerState.cooling:
                return ERR3
            if self.power == PowerState.standby:
                self._set_power(PowerState.warming)
                self._schedule(self.config.warmup_s, PowerState.on)
            return "OK"
        if self.power == PowerState.warming:
            return ERR3
        if self.power == PowerState.on:
            self._set_power(PowerState.cooling)
            self._schedule(self.config.cooldown_s, PowerState.standby)
        return "OK"

    def set_input(self, code: str) -> None:
        code = code.upper()
        if code not in self.config.inputs:
            raise ValueError(f"input {code} is not one of {self.config.inputs}")
        self.input = code
        self._notify(codec.InputNotice(code))

    def set_av_mute(self, video: bool, audio: bool) -> None:
        self.video_muted, self.audio_muted = video, audio

    def set_error(self, component: str, level: int) -> None:
        """Set one ERST digit (fan, lamp, temperature, cover, filter, other) to 0, 1 or 2."""
        if component not in ERST_COMPONENTS:
            raise ValueError(f"unknown ERST component {component!r}; known: {', '.join(ERST_COMPONENTS)}")
        if level not in (0, 1, 2):
            raise ValueError("ERST level must be 0, 1 or 2")
        if self._erst[component] != level:
            self._erst[component] = level
            self._notify(codec.ErrorNotice(self.errors))

    def inject_fault(self, fault: str, value: Any = True) -> None:
        """Inject a fault: an ERST component (value = level, default 2), `lamp_failure`,
        `slow_replies` (value = seconds), `silent` or `stall_mid_reply`."""
        if fault in ERST_COMPONENTS:
            self.set_error(fault, 2 if value is True else int(value))
        elif fault == "lamp_failure":
            self.lamp_failure = bool(value)
            if value:
                self._accumulate_hours()
                self._cancel_timer()
                if self.power != PowerState.standby:
                    self._set_power(PowerState.standby)
            self.set_error("lamp", 2 if value else 0)
        elif fault == "slow_replies":
            self.slow_replies = None if value is False else float(value)
        elif fault == "silent":
            self.silent = bool(value)
        elif fault == "stall_mid_reply":
            self.stall_mid_reply = bool(value)
        else:
            known = ", ".join((*ERST_COMPONENTS, *BEHAVIOUR_FAULTS))
            raise ValueError(f"unknown fault {fault!r}; known: {known}")

    def clear_fault(self, fault: str) -> None:
        self.inject_fault(fault, 0 if fault in ERST_COMPONENTS else False)

    def register_notify(self, host: str, port: int) -> None:
        """Send status notifications (LKUP, POWR, ERST, INPT datagrams) to host:port from now on."""
        self.config = self.config.model_copy(update={"notify_host": host, "notify_port": port})

    def send_linkup(self) -> None:
        self._notify(codec.LinkUp(self.config.mac))

    # ------------------------------------------------------------ internals: power and hours

    def _running_hours(self) -> float:
        if self._on_since is None or self._loop is None:
            return 0.0
        return (self._loop.time() - self._on_since) * self.config.hours_per_second

    def _accumulate_hours(self) -> None:
        extra = self._running_hours()
        self._lamp_hours += extra
        self._filter_hours += extra
        self._on_since = self._loop.time() if self._on_since is not None and self._loop else None

    def _set_power(self, state: PowerState) -> None:
        if state == self.power:
            return
        self._accumulate_hours()
        self.power = state
        if state == PowerState.on and self._loop is not None:
            self._on_since = self._loop.time()
        elif state != PowerState.on:
            self._on_since = None
        if state != PowerState.on:
            self.frozen = False
        self._notify(codec.PowerNotice(state))

    def _schedule(self, delay: float, state: PowerState) -> None:
        self._cancel_timer()
        if self._loop is None or delay <= 0:
            self._set_power(state)
            return
        self._timer = self._loop.call_later(delay, self._finish_transition, state)

    def _finish_transition(self, state: PowerState) -> None:
        self._timer = None
        self._set_power(state)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _notify(self, message: codec.Notification) -> None:
        host, port = self.config.notify_host, self.config.notify_port
        if not host or not port or self._loop is None:
            return
        data = codec.encode_datagram(message)
        if self._udp is not None:
            self._udp.sendto(data, (host, port))
        else:
            self._loop.create_task(_send_datagram(data, host, port))

    # ------------------------------------------------------------ internals: commands

    def reply_delay(self) -> float:
        if self.slow_replies is not None:
            return self.slow_replies
        d = self.config.reply_delay_s
        if isinstance(d, tuple):
            return self._rng.uniform(*d)
        return float(d)

    def check_auth(self, token: str | None, digest: str | None, authenticated: bool) -> bool:
        """Whether a request may be served; counts failures and applies the lockout."""
        password = self.config.password
        if password is None or token is None:
            return True
        if authenticated and digest is None:
            return True
        loop_time = self._loop.time() if self._loop else 0.0
        locked = loop_time < self._locked_until
        if not locked and digest is not None and digest == codec.auth_digest(token, password):
            return True
        self.auth_failures += 1
        after = self.config.lockout_after
        if after is not None and not locked and self.auth_failures >= after:
            self._locked_until = loop_time + self.config.lockout_s
            self.auth_failures = 0
        return False

    @property
    def locked_out(self) -> bool:
        return self._loop is not None and self._loop.time() < self._locked_until

    def answer(self, req: codec.Request) -> str:
        """The reply value for one parsed request (an ERRn code or the value)."""
        c = self.config
        cmd, param = req.command, req.param.strip()
        self.commands_received += 1
        self.commands[f"%{req.pjlink_class}{cmd}"] += 1
        if req.pjlink_class == 2 and c.pjlink_class == 1:
            return ERR1
        if req.pjlink_class == 1 and cmd in _CLASS2_ONLY:
            return ERR1
        if self._lacks(cmd):
            return ERR1  # an absent capability answers ERR1 whatever the power state
        is_query = param.startswith("?")
        if cmd in _QUERY_ONLY and not is_query and cmd != "INNM":
            return ERR2
        if is_query and cmd in c.busy_when_not_on and self.power != PowerState.on:
            return ERR3
        handler = getattr(self, f"_cmd_{cmd.lower()}", None)
        if handler is None:
            return ERR1
        return handler(req, param, is_query)

    def _lacks(self, cmd: str) -> bool:
        c = self.config
        return (
            (cmd == "LAMP" and c.lamp_count == 0)
            or (cmd == "FILT" and not c.has_filter)
            or (cmd in ("SVOL", "MVOL") and not c.has_speaker)
        )

    def _cmd_powr(self, req: codec.Request, param: str, q: bool) -> str:
        if q:
            return str(int(self.power))
        if param not in ("0", "1"):
            return ERR2
        return self.press_power(param == "1")

    def _cmd_inpt(self, req: codec.Request, param: str, q: bool) -> str:
        if q:
            return self.input
        code = param.upper()
        if code not in self.config.inputs:
            return ERR2
        if req.pjlink_class == 1 and (code[0] == "6" or not code[1].isdigit()):
            return ERR2
        if self.power != PowerState.on:
            return ERR3
        self.set_input(code)
        return "OK"

    def _cmd_avmt(self, req: codec.Request, param: str, q: bool) -> str:
        if q:
            v, a = self.video_muted, self.audio_muted
            if v and a:
                return "31"
            if v:
                return "11"
            if a:
                return "21"
            return "30"
        if len(param) != 2 or param[0] not in "123" or param[1] not in "01":
            return ERR2
        if param[0] != "3" and self.config.avmt_both_only:
            return ERR2
        if self.power != PowerState.on:
            return ERR3
        muted = param[1] == "1"
        if param[0] in "13":
            self.video_muted = muted
        if param[0] in "23":
            self.audio_muted = muted
        return "OK"

    def _cmd_erst(self, req: codec.Request, param: str, q: bool) -> str:
        return self.errors.encode()

    def _cmd_lamp(self, req: codec.Request, param: str, q: bool) -> str:
        n = self.config.lamp_count
        if n == 0:
            return ERR1
        if "LAMP" in self.config.busy_when_not_on and self.power != PowerState.on:
            return ERR3
        hours = min(self.lamp_hours, 99999)
        state = "1" if self.lamp_on else "0"
        return " ".join(f"{hours} {state}" for _ in range(n))

    def _cmd_inst(self, req: codec.Request, param: str, q: bool) -> str:
        codes = self.config.inputs
        if req.pjlink_class == 1:
            codes = [x for x in codes if x[0] != "6" and x[1].isdigit()]
        return " ".join(codes)

    def _cmd_name(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.name

    def _cmd_inf1(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.manufacturer

    def _cmd_inf2(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.model

    def _cmd_info(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.info

    def _cmd_clss(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.clss_text or str(self.config.pjlink_class)

    def _cmd_snum(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.serial

    def _cmd_sver(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.firmware

    def _cmd_innm(self, req: codec.Request, param: str, q: bool) -> str:
        code = param[1:].strip().upper() if q else ""
        if code not in self.config.inputs:
            return ERR2
        default = f"{_INPUT_TYPE_NAMES.get(code[0], 'INPUT')}{code[1]}"
        return self.config.input_names.get(code, default)

    def _cmd_ires(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.signal_resolution if self.power == PowerState.on else "-"

    def _cmd_rres(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.native_resolution

    def _cmd_filt(self, req: codec.Request, param: str, q: bool) -> str:
        if not self.config.has_filter:
            return ERR1
        return str(min(self.filter_hours, 99999))

    def _cmd_rlmp(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.replacement_lamps if self.config.lamp_count else ""

    def _cmd_rfil(self, req: codec.Request, param: str, q: bool) -> str:
        return self.config.replacement_filters if self.config.has_filter else ""

    def _volume(self, param: str, q: bool) -> str:
        if not self.config.has_speaker:
            return ERR1
        if q or param not in ("0", "1"):
            return ERR2
        return "OK"

    def _cmd_svol(self, req: codec.Request, param: str, q: bool) -> str:
        return self._volume(param, q)

    def _cmd_mvol(self, req: codec.Request, param: str, q: bool) -> str:
        return self._volume(param, q)

    def _cmd_frez(self, req: codec.Request, param: str, q: bool) -> str:
        if q:
            return "1" if self.frozen else "0"
        if param not in ("0", "1"):
            return ERR2
        if self.power != PowerState.on:
            return ERR3
        self.frozen = param == "1"
        return "OK"

    def spoil(self, req: codec.Request, reply: bytes) -> bytes | None:
        """The answer to a query as the `bad_answers` option has it; None for no answer at all."""
        bad = self.config.bad_answers
        mode = (bad.get(req.command) or bad.get("*")) if bad else None
        if mode is None or not req.is_query:
            return reply
        if mode == "none":
            return None
        if mode == "garbage":
            return _GARBAGE
        if mode == "truncated":
            return reply[:6] + b"\r"  # cut right after the command: `%1POWR`
        if mode == "non_ascii":
            return reply[:-1] + b"\xe9\r"  # a Latin-1 byte where UTF-8 (or ASCII) belongs
        value = _OUT_OF_SPEC.get(req.command, "X" * (codec.MAX_PARAM + 12))
        return codec.encode_reply(req.command, value, req.pjlink_class)

    def stray_before(self, req: codec.Request, last: codec.Request | None, line: bytes) -> list[bytes]:
        """Lines answering nothing asked, sent before the answer to `req` (the `stray_lines` option)."""
        strays = self.config.stray_lines
        kinds = [*strays.get(req.command, ()), *strays.get("*", ())] if strays else []
        out = []
        for kind in kinds:
            if kind == "echo":
                out.append(line + b"\r")
            elif kind == "late":
                out.append(self._late_answer(req, last))
            else:
                notice: codec.Notification = {
                    "notify_lkup": lambda: codec.LinkUp(self.config.mac),
                    "notify_erst": lambda: codec.ErrorNotice(self.errors),
                    "notify_powr": lambda: codec.PowerNotice(self.power),
                    "notify_inpt": lambda: codec.InputNotice(self.input),
                }[kind]()
                out.append(codec.encode_datagram(notice))
        return out

    def _late_answer(self, req: codec.Request, last: codec.Request | None) -> bytes:
        """The answer to the previous question once more, as a unit that answers late does."""
        if last is None or last.command == req.command or not hasattr(self, f"_cmd_{last.command.lower()}"):
            last = codec.Request(1, "ERST" if req.command == "POWR" else "POWR", "?")
        value = getattr(self, f"_cmd_{last.command.lower()}")(last, "?", True)  # not counted as a command
        return codec.encode_reply(last.command, value, last.pjlink_class, lowercase=self.config.lowercase_replies)

    def encode_line(self, data: bytes) -> bytes:
        """Apply the line-ending deviations to one line that ends in CR."""
        c = self.config
        if c.crlf:
            data = data[:-1] + b"\r\n"
        if c.blank_lines:
            data = b"\r" + data
        if c.nul_padding:
            data += b"\0" * c.nul_padding
        return data


def _power(state: PowerState | str | int) -> PowerState:
    if isinstance(state, PowerState):
        return state
    if isinstance(state, int):
        return PowerState(state)
    names = {"standby": 0, "off": 0, "on": 1, "cooling": 2, "warming": 3}
    if state not in names:
        raise ValueError(f"unknown power state {state!r}; use one of {', '.join(names)}")
    return PowerState(names[state])


async def _send_datagram(data: bytes, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(host, port))
    try:
        transport.sendto(data)
    finally:
        transport.close()


class _Connection(asyncio.Protocol):
    """One controller's TCP session with the emulated projector; one command at a time, in order."""

    __slots__ = ("_authenticated", "_busy", "_emu", "_framer", "_idle", "_last", "_queue", "_stalled", "_token",
                 "_transport")

    def __init__(self, emu: ProjectorEmulator) -> None:
        self._emu = emu
        self._transport: asyncio.Transport | None = None
        self._framer = codec.LineFramer()
        self._queue: deque[bytes] = deque()
        self._busy = False
        self._token: str | None = None
        self._authenticated = False
        self._idle: asyncio.TimerHandle | None = None
        self._stalled = False
        self._last: codec.Request | None = None  # the previous request, for `late` stray lines

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        emu = self._emu
        self._transport = transport  # type: ignore[assignment]
        if emu.config.single_session and emu._connections:
            transport.close()
            return
        emu._connections.add(self)
        emu.connections_accepted += 1
        if emu.silent:
            return
        if emu.config.password is not None:
            self._token = codec.new_token()
        greeting = codec.encode_greeting(self._token, mixed_case=emu.config.mixed_case_greeting)
        self._write(emu.encode_line(greeting))
        self._touch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._emu._connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()
        self._transport = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._emu.silent or self._stalled:
            return
        try:
            lines = self._framer.feed(data)
        except PJLinkProtocolError:
            self._close()
            return
        self._queue.extend(lines)
        self._touch()
        self._next()

    def _touch(self) -> None:
        idle = self._emu.config.idle_close_s
        if idle is None or self._transport is None:
            return
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(idle, self._close)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _next(self) -> None:
        while self._queue and not self._busy and self._transport is not None:
            line = self._queue.popleft()
            reply, close_after = self._handle(line)
            if reply is None:
                continue
            delay = self._emu.reply_delay()
            if delay > 0:
                self._busy = True
                asyncio.get_running_loop().call_later(delay, self._send_later, reply, close_after)
                return
            self._send(reply, close_after)

    def _send_later(self, reply: bytes, close_after: bool) -> None:
        self._busy = False
        self._send(reply, close_after)
        self._next()

    def _send(self, reply: bytes, close_after: bool) -> None:
        emu = self._emu
        if emu.silent:
            return
        if emu.stall_mid_reply:
            self._write(reply[: max(1, len(reply) // 2)])
            self._stalled = True
            self._queue.clear()
            if self._idle is not None:
                self._idle.cancel()  # a hung unit does not close either
            return
        self._write(emu.encode_line(reply))
        if close_after:
            self._close()

    def _handle(self, line: bytes) -> tuple[bytes | None, bool]:
        emu = self._emu
        try:
            req = codec.parse_request(line)
        except PJLinkProtocolError:
            if self._token is not None and not self._authenticated:
                emu.check_auth(self._token, None, False)
                return b"PJLINK ERRA\r", True
            if len(line) >= 6 and line[:1] == b"%" and line[1:2] in (b"1", b"2"):
                return codec.encode_reply(line[2:6].decode("ascii", "replace"), ERR1, int(line[1:2])), False
            return None, False
        if self._token is not None:
            if not emu.check_auth(self._token, req.digest, self._authenticated):
                return b"PJLINK ERRA\r", True
            self._authenticated = True
        value = emu.answer(req)
        reply = codec.encode_reply(req.command, value, req.pjlink_class, lowercase=emu.config.lowercase_replies)
        strays = emu.stray_before(req, self._last, line)
        self._last = req
        if strays:  # at once, ahead of the (possibly delayed) real answer
            self._write(b"".join(emu.encode_line(stray) for stray in strays))
        return emu.spoil(req, reply), False


class _UdpResponder(asyncio.DatagramProtocol):
    """Answers `%2SRCH` with `%2ACKN=<mac>` to the sender; everything else is ignored."""

    def __init__(self, emu: ProjectorEmulator) -> None:
        self._emu = emu
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = codec.parse_datagram(data)
        except PJLinkProtocolError:
            return
        if isinstance(message, codec.SearchRequest) and self._transport is not None and not self._emu.silent:
            self._transport.sendto(codec.encode_datagram(codec.SearchAck(self._emu.config.mac)), addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("emulator UDP error: %s", exc)
