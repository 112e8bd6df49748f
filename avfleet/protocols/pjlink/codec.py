"""PJLink wire format as pure functions: bytes in, typed values out, no I/O.

Liberal in what it reads (the real-device deviations of the reference: lowercase echoes, mixed-case
greetings, `Class 1` for CLSS, NUL padding, CRLF, blank lines), strict in what it writes. Anything
it cannot make sense of raises `PJLinkProtocolError` carrying the raw bytes, never another exception.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum

from avfleet.profiles.vocabulary import FAULT_COMPONENTS
from avfleet.protocols.pjlink.errors import DEVICE_ERRORS, ErrorCode, PJLinkAuthError, PJLinkProtocolError

PJLINK_PORT = 4352
MAX_LINE = 512  # reader cap: far above the 136-byte frame, small enough that garbage cannot grow a buffer
MAX_PARAM = 128

_COMMAND_RE = re.compile(rb"^[A-Za-z0-9]{4}$")
_TOKEN_RE = re.compile(r"^[0-9A-Fa-f]{8}$")
_DIGEST_RE = re.compile(rb"^[0-9a-fA-F]{32}")
_MAC_RE = re.compile(r"^([0-9A-Fa-f]{2})([:-]?)([0-9A-Fa-f]{2})(\2[0-9A-Fa-f]{2}){4}$")
_INPUT_RE = re.compile(r"^[1-6][1-9A-Z]$")
_RES_RE = re.compile(r"^(\d{1,5})\s*[xX]\s*(\d{1,5})$")


class PowerState(IntEnum):
    standby = 0
    on = 1
    cooling = 2
    warming = 3


class ErrorLevel(IntEnum):
    ok = 0
    warning = 1
    error = 2


ERST_COMPONENTS = FAULT_COMPONENTS  # ERST's six digits, in the order of the normalized faults

CLASS1_COMMANDS = frozenset({"POWR", "INPT", "AVMT", "ERST", "LAMP", "INST", "NAME", "INF1", "INF2", "INFO", "CLSS"})
CLASS2_COMMANDS = frozenset(
    {"INPT", "INST", "SNUM", "SVER", "INNM", "IRES", "RRES", "FILT", "RLMP", "RFIL", "SVOL", "MVOL", "FREZ"}
)


# ---------------------------------------------------------------- framing


class LineFramer:
    """Cuts a byte stream into PJLink lines.

    Drops NUL and LF anywhere (NUL padding, CRLF), splits on CR, strips spaces, skips empty lines,
    and refuses a line that grows past `max_line` bytes without a CR.
    """

    __slots__ = ("_buf", "max_line")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()

    @property
    def pending(self) -> bytes:
        """Bytes of a line that has begun but not ended (what a device sent before it stalled)."""
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if b"\0" in data or b"\n" in data:
            data = data.replace(b"\0", b"").replace(b"\n", b"")
        self._buf += data
        if b"\r" not in self._buf:
            self._check_overflow()
            return []
        *lines, rest = bytes(self._buf).split(b"\r")
        self._buf = bytearray(rest)
        out = []
        for line in lines:
            if len(line) > self.max_line:
                raise PJLinkProtocolError(f"line longer than {self.max_line} bytes", line[:self.max_line])
            line = line.strip(b" \t")
            if line:
                out.append(line)
        self._check_overflow()
        return out

    def _check_overflow(self) -> None:
        if len(self._buf) > self.max_line:
            raw = bytes(self._buf[: self.max_line])
            self._buf.clear()
            raise PJLinkProtocolError(f"line longer than {self.max_line} bytes without a CR", raw)


# ---------------------------------------------------------------- greeting and authentication


@dataclass(frozen=True, slots=True)
class Greeting:
    """`PJLINK 0` (no auth) or `PJLINK 1 <token>` (auth with that random token)."""

    token: str | None

    @property
    def auth_required(self) -> bool:
        return self.token is not None


def parse_greeting(line: bytes) -> Greeting:
    """Parse the first line a projector sends. `PJLINK ERRA` here raises PJLinkAuthError."""
    text = line.decode("ascii", errors="replace").strip()
    parts = text.split()
    if not parts or parts[0].upper() != "PJLINK":
        raise PJLinkProtocolError("greeting does not start with PJLINK", line)
    if len(parts) == 2 and parts[1].upper() == "ERRA":
        raise PJLinkAuthError("the projector refused authentication (PJLINK ERRA)")
    if len(parts) == 2 and parts[1] == "0":
        return Greeting(None)
    if len(parts) == 3 and parts[1] == "1":
        token = parts[2]
        if not _TOKEN_RE.match(token):
            raise PJLinkProtocolError("authentication token is not 8 hex characters", line)
        return Greeting(token)
    raise PJLinkProtocolError("greeting is neither 'PJLINK 0' nor 'PJLINK 1 <token>'", line)


def encode_greeting(token: str | None = None, *, mixed_case: bool = False) -> bytes:
    word = "PJLink" if mixed_case else "PJLINK"
    if token is None:
        return f"{word} 0\r".encode()
    if not _TOKEN_RE.match(token):
        raise ValueError("token must be 8 hex characters")
    return f"{word} 1 {token}\r".encode()


def new_token() -> str:
    return secrets.token_hex(4)


def auth_digest(token: str, password: str) -> str:
    """md5(token + password) as 32 lowercase hex characters (no separator, despite the spec's typo)."""
    if not _TOKEN_RE.match(token):
        raise PJLinkProtocolError("authentication token is not 8 hex characters", token.encode(errors="replace"))
    return hashlib.md5((token + password).encode("utf-8"), usedforsecurity=False).hexdigest()


def is_auth_error(line: bytes) -> bool:
    """`PJLINK ERRA`, in whatever case."""
    return line.strip().upper().replace(b"  ", b" ") == b"PJLINK ERRA"


# ---------------------------------------------------------------- requests (controller -> projector)


@dataclass(frozen=True, slots=True)
class Request:
    pjlink_class: int
    command: str
    param: str
    digest: str | None = None

    @property
    def is_query(self) -> bool:
        return self.param.startswith("?")


def encode_request(command: str, param: str = "?", pjlink_class: int = 1, *, digest: str | None = None) -> bytes:
    """A request line, strictly per spec: `[digest]%<class><CMD> <param>\\r`."""
    if not _COMMAND_RE.match(command.encode("ascii", errors="replace")):
        raise ValueError(f"PJLink command must be 4 letters or digits, got {command!r}")
    if pjlink_class not in (1, 2):
        raise ValueError(f"PJLink class must be 1 or 2, got {pjlink_class!r}")
    raw_param = param.encode("utf-8")
    if len(raw_param) > MAX_PARAM:
        raise ValueError(f"PJLink parameter is longer than {MAX_PARAM} bytes")
    if any(c in raw_param for c in b"\r\n\0"):
        raise ValueError("PJLink parameter must not contain CR, LF or NUL")
    prefix = b""
    if digest is not None:
        if not re.fullmatch(r"[0-9a-f]{32}", digest):
            raise ValueError("digest must be 32 lowercase hex characters")
        prefix = digest.encode("ascii")
    return prefix + b"%" + str(pjlink_class).encode() + command.upper().encode("ascii") + b" " + raw_param + b"\r"


def encode_query(command: str, pjlink_class: int = 1) -> bytes:
    return encode_request(command, "?", pjlink_class)


def parse_request(line: bytes) -> Request:
    """Parse a request line as a projector reads it (used by the emulator). The digest, if any, is split off."""
    digest = None
    m = _DIGEST_RE.match(line)
    if m and len(line) > 32 and line[32:33] == b"%":
        digest = line[:32].decode("ascii").lower()
        line = line[32:]
    if len(line) < 6 or line[0:1] != b"%":
        raise PJLinkProtocolError("request does not start with %<class><command>", line)
    cls_byte = line[1:2]
    if cls_byte not in (b"1", b"2"):
        raise PJLinkProtocolError("request class is not 1 or 2", line)
    command = line[2:6]
    if not _COMMAND_RE.match(command):
        raise PJLinkProtocolError("request command is not 4 letters or digits", line)
    rest = line[6:]
    if rest and rest[0:1] != b" ":
        raise PJLinkProtocolError("request separator is not a space", line)
    param = rest[1:].decode("utf-8", errors="replace")
    return Request(int(cls_byte), command.decode("ascii").upper(), param, digest)


# ---------------------------------------------------------------- replies (projector -> controller)


@dataclass(frozen=True, slots=True)
class Reply:
    pjlink_class: int
    command: str  # upper case, whatever the device sent
    value: str  # the parameter, case kept; empty for an ERRn reply
    error: ErrorCode | None = None
    raw: bytes = b""

    def raise_for_error(self) -> Reply:
        if self.error is not None:
            raise DEVICE_ERRORS[self.error.value](self.command)
        return self


def parse_reply(line: bytes) -> Reply:
    """Parse one reply line. `PJLINK ERRA` raises PJLinkAuthError; anything malformed PJLinkProtocolError."""
    if is_auth_error(line):
        raise PJLinkAuthError("wrong password (PJLINK ERRA)")
    if len(line) > MAX_LINE:
        raise PJLinkProtocolError(f"reply longer than {MAX_LINE} bytes", line[:MAX_LINE])
    if len(line) < 7 or line[0:1] != b"%":
        raise PJLinkProtocolError("reply does not start with %<class><command>=", line)
    cls_byte = line[1:2]
    if cls_byte not in (b"1", b"2"):
        raise PJLinkProtocolError("reply class is not 1 or 2", line)
    command = line[2:6]
    if not _COMMAND_RE.match(command):
        raise PJLinkProtocolError("reply command is not 4 letters or digits", line)
    if line[6:7] != b"=":
        raise PJLinkProtocolError("reply separator is not '='", line)
    raw_value = line[7:].strip(b" ")
    if len(raw_value) > MAX_PARAM:
        raise PJLinkProtocolError(f"reply parameter longer than {MAX_PARAM} bytes", line)
    value = raw_value.decode("utf-8", errors="replace")
    upper = value.upper()
    error = ErrorCode(upper) if upper in ("ERR1", "ERR2", "ERR3", "ERR4") else None
    return Reply(int(cls_byte), command.decode("ascii").upper(), "" if error else value, error, bytes(line))


def encode_reply(
    command: str, value: str, pjlink_class: int = 1, *, lowercase: bool = False, terminator: bytes = b"\r"
) -> bytes:
    """A reply line as a projector writes it; `lowercase` reproduces the Optoma echo."""
    echo = command.lower() if lowercase else command.upper()
    return f"%{pjlink_class}{echo}=".encode("ascii") + value.encode("utf-8") + terminator


# ---------------------------------------------------------------- typed values


@dataclass(frozen=True, slots=True)
class AvMute:
    video: bool
    audio: bool


@dataclass(frozen=True, slots=True)
class ErrorStatus:
    fan: ErrorLevel = ErrorLevel.ok
    lamp: ErrorLevel = ErrorLevel.ok
    temperature: ErrorLevel = ErrorLevel.ok
    cover: ErrorLevel = ErrorLevel.ok
    filter: ErrorLevel = ErrorLevel.ok
    other: ErrorLevel = ErrorLevel.ok

    def encode(self) -> str:
        return "".join(str(int(getattr(self, name))) for name in ERST_COMPONENTS)


@dataclass(frozen=True, slots=True)
class LampReading:
    hours: int
    on: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    """IRES/RRES: `signal` is "ok", "none" (`-`) or "unrecognized" (`*`)."""

    signal: str
    width: int | None = None
    height: int | None = None


def _bad(message: str, value: str) -> PJLinkProtocolError:
    return PJLinkProtocolError(message, value.encode("utf-8", errors="replace"))


def parse_power(value: str) -> PowerState:
    v = value.strip()
    if v in ("0", "1", "2", "3"):
        return PowerState(int(v))
    raise _bad("POWR value is not 0, 1, 2 or 3", value)


def parse_input(value: str, pjlink_class: int = 2) -> str:
    """An input code `TN`: type 1-6, number 1-9 (Class 1) or 1-9/A-Z (Class 2)."""
    v = value.strip().upper()
    if not _INPUT_RE.match(v):
        raise _bad("input code is not two characters of type 1-6 and number 1-9/A-Z", value)
    if pjlink_class == 1 and (v[0] == "6" or not v[1].isdigit()):
        raise _bad("input code outside the Class 1 range (types 1-5, numbers 1-9)", value)
    return v


def parse_input_list(value: str, pjlink_class: int = 2) -> list[str]:
    return [parse_input(code, pjlink_class) for code in value.split()]


def parse_av_mute(value: str) -> AvMute:
    """Two digits: channel (1 video, 2 audio, 3 both) and state (1 muted, 0 not)."""
    v = value.strip()
    if len(v) != 2 or v[0] not in "123" or v[1] not in "01":
        raise _bad("AVMT value is not 10/11/20/21/30/31", value)
    muted = v[1] == "1"
    if v[0] == "1":
        return AvMute(video=muted, audio=False)
    if v[0] == "2":
        return AvMute(video=False, audio=muted)
    return AvMute(video=muted, audio=muted)


def parse_error_status(value: str) -> ErrorStatus:
    v = value.strip()
    if len(v) != 6 or any(c not in "012" for c in v):
        raise _bad("ERST value is not six digits of 0, 1 or 2", value)
    return ErrorStatus(*(ErrorLevel(int(c)) for c in v))


def parse_lamps(value: str) -> list[LampReading]:
    """`hours state` pairs, up to 8 lamps; hours 0-99999, state 0/1."""
    parts = value.split()
    if not parts or len(parts) % 2 or len(parts) > 16:
        raise _bad("LAMP value is not 1 to 8 pairs of 'hours state'", value)
    lamps = []
    for hours, state in zip(parts[::2], parts[1::2], strict=True):
        if not (hours.isascii() and hours.isdigit() and len(hours) <= 5) or state not in ("0", "1"):
            raise _bad("LAMP pair is not 'hours(0-99999) state(0/1)'", value)
        lamps.append(LampReading(int(hours), state == "1"))
    return lamps


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def parse_text(value: str) -> str:
    """NAME, INF1, INF2, INFO, SNUM, SVER, INNM: free text, possibly empty.

    Bytes that were not UTF-8 (decoded as U+FFFD) or control characters make the text unreadable:
    a serial read as `X5C\ufffd0012` would look like a swapped unit."""
    if _CONTROL_RE.search(value):
        raise _bad("text holds bytes that are not UTF-8, or control characters", value)
    return value.strip()


def parse_class(value: str) -> int:
    """CLSS: the first digit of the value (`2`, `Class 1`, `Version1` all work); 1 when there is none."""
    parse_text(value)
    for c in value:
        if c in "12":
            return int(c)
        if c.isdigit():
            raise _bad("CLSS names a class other than 1 or 2", value)
    return 1


def parse_resolution(value: str) -> Resolution:
    v = value.strip()
    if v == "-":
        return Resolution("none")
    if v == "*":
        return Resolution("unrecognized")
    m = _RES_RE.match(v)
    if not m:
        raise _bad("resolution is not WIDTHxHEIGHT, '-' or '*'", value)
    return Resolution("ok", int(m.group(1)), int(m.group(2)))


def parse_hours(value: str) -> int:
    """FILT: 1-5 digits, 0 = not counted."""
    v = value.strip()
    if not (v.isascii() and v.isdigit() and 1 <= len(v) <= 5):
        raise _bad("hours value is not 1 to 5 digits", value)
    return int(v)


def parse_models(value: str) -> list[str]:
    """RLMP/RFIL: space-separated replacement part models, possibly none."""
    return value.split()


def parse_ok(value: str) -> None:
    """Set commands (and SVOL/MVOL, which have no query) answer OK."""
    if value.strip().upper() != "OK":
        raise _bad("set command was not answered OK", value)


def parse_freeze(value: str) -> bool:
    v = value.strip()
    if v not in ("0", "1"):
        raise _bad("FREZ value is not 0 or 1", value)
    return v == "1"


_QUERY_PARSERS = {
    "POWR": parse_power,
    "INPT": parse_input,
    "INST": parse_input_list,
    "AVMT": parse_av_mute,
    "ERST": parse_error_status,
    "LAMP": parse_lamps,
    "NAME": parse_text,
    "INF1": parse_text,
    "INF2": parse_text,
    "INFO": parse_text,
    "CLSS": parse_class,
    "SNUM": parse_text,
    "SVER": parse_text,
    "INNM": parse_text,
    "IRES": parse_resolution,
    "RRES": parse_resolution,
    "FILT": parse_hours,
    "RLMP": parse_models,
    "RFIL": parse_models,
    "SVOL": parse_ok,
    "MVOL": parse_ok,
    "FREZ": parse_freeze,
}


def parse_value(command: str, value: str) -> object:
    """The typed value of a query reply for any Class 1 or Class 2 command."""
    parser = _QUERY_PARSERS.get(command.upper())
    if parser is None:
        raise _bad(f"unknown PJLink command {command!r}", value)
    return parser(value)


def parse_query_reply(request_command: str, line: bytes) -> object:
    """A whole query reply line to its typed value; ERRn raises the matching PJLinkDeviceError."""
    reply = parse_reply(line)
    if reply.command != request_command.upper():
        raise PJLinkProtocolError(f"reply to {reply.command} where {request_command.upper()} was asked", line)
    reply.raise_for_error()
    return parse_value(reply.command, reply.value)


# ---------------------------------------------------------------- UDP datagrams (Class 2)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    pass


@dataclass(frozen=True, slots=True)
class SearchAck:
    mac: str


@dataclass(frozen=True, slots=True)
class LinkUp:
    mac: str


@dataclass(frozen=True, slots=True)
class PowerNotice:
    power: PowerState


@dataclass(frozen=True, slots=True)
class ErrorNotice:
    status: ErrorStatus


@dataclass(frozen=True, slots=True)
class InputNotice:
    input: str


Datagram = SearchRequest | SearchAck | LinkUp | PowerNotice | ErrorNotice | InputNotice
Notification = LinkUp | PowerNotice | ErrorNotice | InputNotice


def parse_mac(value: str) -> str:
    """A MAC as lowercase colon-separated pairs (accepts `:`/`-` separators or none)."""
    v = value.strip()
    if not _MAC_RE.match(v):
        raise _bad("not a MAC address", value)
    digits = re.sub(r"[:-]", "", v).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def parse_datagram(data: bytes) -> Datagram:
    """One UDP datagram: SRCH, ACKN, LKUP, or an ERST/POWR/INPT notification."""
    line = data.replace(b"\0", b"").replace(b"\n", b"").strip(b"\r \t")
    if b"\r" in line:
        raise PJLinkProtocolError("datagram holds more than one line", data[:MAX_LINE])
    if len(line) > MAX_LINE:
        raise PJLinkProtocolError(f"datagram longer than {MAX_LINE} bytes", data[:MAX_LINE])
    if line.upper() == b"%2SRCH":
        return SearchRequest()
    reply = parse_reply(line)
    if reply.error is not None:
        raise PJLinkProtocolError(f"{reply.command} datagram carries {reply.error.value}", data)
    try:
        if reply.command == "ACKN":
            return SearchAck(parse_mac(reply.value))
        if reply.command == "LKUP":
            return LinkUp(parse_mac(reply.value))
        if reply.command == "POWR":
            return PowerNotice(parse_power(reply.value))
        if reply.command == "ERST":
            return ErrorNotice(parse_error_status(reply.value))
        if reply.command == "INPT":
            return InputNotice(parse_input(reply.value))
    except PJLinkProtocolError as exc:
        raise PJLinkProtocolError(str(exc.args[0]), data) from None
    raise PJLinkProtocolError(f"unknown datagram {reply.command}", data)


def encode_search() -> bytes:
    return b"%2SRCH\r"


def encode_datagram(message: Datagram) -> bytes:
    if isinstance(message, SearchRequest):
        return encode_search()
    if isinstance(message, SearchAck):
        return encode_reply("ACKN", parse_mac(message.mac), 2)
    if isinstance(message, LinkUp):
        return encode_reply("LKUP", parse_mac(message.mac), 2)
    if isinstance(message, PowerNotice):
        return encode_reply("POWR", str(int(message.power)), 2)
    if isinstance(message, ErrorNotice):
        return encode_reply("ERST", message.status.encode(), 2)
    if isinstance(message, InputNotice):
        return encode_reply("INPT", parse_input(message.input), 2)
    raise TypeError(f"not a PJLink datagram: {message!r}")


__all__ = [
    "CLASS1_COMMANDS",
    "CLASS2_COMMANDS",
    "ERST_COMPONENTS",
    "MAX_LINE",
    "MAX_PARAM",
    "PJLINK_PORT",
    "AvMute",
    "Datagram",
    "ErrorCode",
    "ErrorLevel",
    "ErrorNotice",
    "ErrorStatus",
    "Greeting",
    "InputNotice",
    "LampReading",
    "LineFramer",
    "LinkUp",
    "Notification",
    "PowerNotice",
    "PowerState",
    "Reply",
    "Request",
    "Resolution",
    "SearchAck",
    "SearchRequest",
    "auth_digest",
    "encode_datagram",
    "encode_greeting",
    "encode_query",
    "encode_reply",
    "encode_request",
    "encode_search",
    "new_token",
    "parse_av_mute",
    "parse_class",
    "parse_datagram",
    "parse_error_status",
    "parse_freeze",
    "parse_greeting",
    "parse_hours",
    "parse_input",
    "parse_input_list",
    "parse_lamps",
    "parse_mac",
    "parse_models",
    "parse_ok",
    "parse_power",
    "parse_query_reply",
    "parse_reply",
    "parse_request",
    "parse_resolution",
    "parse_text",
    "parse_value",
]
