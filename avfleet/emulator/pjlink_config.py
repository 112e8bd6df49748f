"""What one emulated projector is: model data, timing, faults and the real-device deviations it shows.

The same model serves programmatic use (`ProjectorEmulator(ProjectorConfig(...))`) and the fleet
file (avfleet.emulator.fleet_file), so a key that does not exist is refused in both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.errors import PJLinkProtocolError

BEHAVIOUR_FAULTS = ("lamp_failure", "slow_replies", "silent", "stall_mid_reply")

# Answers a client cannot read, per question: `garbage` (a line that is not PJLink), `out_of_spec` (a
# well-formed reply whose value the spec does not allow, e.g. POWR=7, or a parameter over 128 bytes),
# `truncated` (the line cut after the command, `%1POWR`), `non_ascii` (the value with a byte that is not
# UTF-8), `none` (no answer at all: the unit ignores that question).
BadAnswer = Literal["garbage", "out_of_spec", "truncated", "non_ascii", "none"]
# Lines on the control connection that answer nothing asked, sent just before the real answer: Class 2
# notifications pushed on TCP, a late answer to the previous question, an echo of the request.
StrayLine = Literal["notify_lkup", "notify_erst", "notify_powr", "notify_inpt", "late", "echo"]


class FaultConfig(BaseModel):
    """Faults present from the start. ERST components take 0 (ok), 1 (warning) or 2 (error)."""

    model_config = ConfigDict(extra="forbid")

    fan: Literal[0, 1, 2] = 0
    lamp: Literal[0, 1, 2] = 0
    temperature: Literal[0, 1, 2] = 0
    cover: Literal[0, 1, 2] = 0
    filter: Literal[0, 1, 2] = 0
    other: Literal[0, 1, 2] = 0
    lamp_failure: bool = False  # lamp dead: ERST lamp=2, lamp off, POWR 1 answers ERR4
    slow_replies: float | None = Field(default=None, ge=0)  # every reply this many seconds late
    silent: bool = False  # accepts TCP, never greets, never answers
    stall_mid_reply: bool = False  # sends the first half of each reply, then nothing


class ProjectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pjlink_class: Literal[1, 2] = 1
    password: str | None = Field(default=None, repr=False)

    # identity and hardware
    manufacturer: str = Field(default="AVFLEET", max_length=32)
    model: str = Field(default="EMU-1000", max_length=32)
    serial: str = Field(default="EMU0000001", max_length=32)
    firmware: str = Field(default="1.00", max_length=32)  # SVER (Class 2)
    info: str = Field(default="emulated projector", max_length=32)  # INFO
    name: str = Field(default="Projector", max_length=64)
    mac: str = "02:00:00:00:00:01"
    inputs: list[str] = Field(default_factory=lambda: ["11", "21", "31", "32", "52"])
    input_names: dict[str, str] = Field(default_factory=dict)
    initial_input: str | None = None  # default: the first digital input, else the first input
    lamp_count: int = Field(default=1, ge=0, le=8)  # 0 = laser/LED: LAMP answers ERR1
    lamp_hours: float = Field(default=0, ge=0)
    has_filter: bool = True  # False: FILT answers ERR1
    filter_hours: float = Field(default=0, ge=0)
    has_speaker: bool = True  # False: SVOL/MVOL answer ERR1
    native_resolution: str = "1920x1200"
    signal_resolution: str = "1920x1080"
    replacement_lamps: str = "ELPLP96"
    replacement_filters: str = "ELPAF60"

    # behaviour over time
    power: Literal["standby", "on"] = "standby"
    warmup_s: float = Field(default=2.0, ge=0)
    cooldown_s: float = Field(default=2.0, ge=0)
    hours_per_second: float = Field(default=1 / 3600, ge=0)  # emulated lamp/filter hours per real second on
    reply_delay_s: float | tuple[float, float] = 0.0  # a fixed delay, or (min, max) drawn per reply
    idle_close_s: float | None = Field(default=30.0, gt=0)  # the projector's silent idle close
    lockout_after: int | None = Field(default=None, ge=1)  # wrong passwords before a lockout
    lockout_s: float = Field(default=60.0, ge=0)
    single_session: bool = False  # refuse a second TCP session while one is open
    faults: FaultConfig = Field(default_factory=FaultConfig)

    # deviations of real devices (reference §9)
    lowercase_replies: bool = False  # `%1powr=0` (Optoma)
    mixed_case_greeting: bool = False  # `PJLink 0`
    clss_text: str | None = None  # e.g. "Class 1" (Optoma) or "Version1" (BenQ) instead of the digit
    nul_padding: int = Field(default=0, ge=0, le=64)  # NUL bytes after each CR
    crlf: bool = False  # `\r\n` line ends
    blank_lines: bool = False  # an empty line before each reply
    busy_when_not_on: list[str] = Field(default_factory=lambda: ["INPT", "AVMT", "FREZ"])  # ERR3 unless on
    avmt_both_only: bool = False  # separate video/audio mute answers ERR2 (Epson)
    # keyed by command ("POWR", "INF1") or "*" for every question
    bad_answers: dict[str, BadAnswer] = Field(default_factory=dict)  # queries only
    stray_lines: dict[str, list[StrayLine]] = Field(default_factory=dict)  # before the answer to any request

    # Class 2 UDP
    notify_host: str | None = None
    notify_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("mac")
    @classmethod
    def _mac(cls, v: str) -> str:
        try:
            return codec.parse_mac(v)
        except PJLinkProtocolError:
            raise ValueError(f"not a MAC address: {v!r}") from None

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("a projector needs at least one input")
        out = []
        for code in v:
            try:
                out.append(codec.parse_input(code, 2))
            except PJLinkProtocolError:
                raise ValueError(f"input {code!r} is not a PJLink input code such as 31 or 3A") from None
        return out

    @field_validator("busy_when_not_on")
    @classmethod
    def _busy(cls, v: list[str]) -> list[str]:
        return [c.upper() for c in v]

    @field_validator("bad_answers", "stray_lines")
    @classmethod
    def _per_command(cls, v: dict) -> dict:
        out = {}
        for key, value in v.items():
            command = str(key).upper()
            if command != "*" and not (len(command) == 4 and command.isascii() and command.isalnum()):
                raise ValueError(f"{key!r} is not a PJLink command such as POWR, or '*' for every one")
            out[command] = value
        return out

    @field_validator("reply_delay_s")
    @classmethod
    def _delay(cls, v: float | tuple[float, float]) -> float | tuple[float, float]:
        lo, hi = (v, v) if isinstance(v, int | float) else v
        if lo < 0 or hi < lo:
            raise ValueError("reply_delay_s must be >= 0, or (min, max) with 0 <= min <= max")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ProjectorConfig:
        if self.initial_input is not None and self.initial_input.upper() not in self.inputs:
            raise ValueError(f"initial_input {self.initial_input!r} is not one of inputs {self.inputs}")
        if (self.notify_host is None) != (self.notify_port is None):
            raise ValueError("notify_host and notify_port go together")
        if self.pjlink_class == 1 and any(c[0] == "6" or not c[1].isdigit() for c in self.inputs):
            raise ValueError("a Class 1 projector only has inputs 11-59 (types 1-5, numbers 1-9)")
        return self

    def first_input(self) -> str:
        if self.initial_input:
            return self.initial_input.upper()
        return next((c for c in self.inputs if c[0] == "3"), self.inputs[0])
