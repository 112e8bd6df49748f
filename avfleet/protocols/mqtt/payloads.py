"""Payload models of MQTT contract version 1, validated on both sides (agent and controller).

Every agent message is one flat JSON object: the envelope fields (`v`, `agent_id`, `seq`, `epoch`,
`ts`, `replayed`) followed by the fields of its kind. Commands travel the other way and carry no envelope.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from avfleet.protocols.mqtt.topics import ID_PATTERN, ParsedTopic, TopicKind
from avfleet.protocols.status import DeviceStatus, Identity, Kind, Lamp, Outlet, Protocol, utc_now

SCHEMA_VERSION = 1
LEGACY_EPOCH = "0"  # the epoch of messages that carry none
EPOCH_PATTERN = "^[0-9a-f]{1,32}$"

AgentId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
DeviceId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]

# Bounds of free text on the wire (docs/mqtt.md "Strict payloads"), no longer than the controller's
# columns, so a received payload always fits the database (PostgreSQL refuses a longer VARCHAR).
DETAIL_MAX = 512  # detail of a state, event or command result
NAME_MAX = 128  # site names, identity fields, agent version
HOST_MAX = 255
SHORT_MAX = 64  # boot_id, event component, profile name
INPUT_MAX = 32  # a device input ("31", "HDMI1")
MAC_MAX = 32
COUNT_MAX = 2**31 - 1  # lamp and filter hours, outlet index: fit any INTEGER column


def _text(limit: int) -> Any:
    # A constraint only, checked inside pydantic-core: no Python call per field on the ingest hot path.
    return Annotated[str, Field(max_length=limit)]


def _cut(value: Any, limit: int) -> Any:
    return value[: limit - 1] + "…" if isinstance(value, str) and len(value) > limit else value


def _reported_text(limit: int) -> Any:
    """Text a device or a command reported: the agent building a message (Python) cuts it to the
    bound, so reporting never fails; a payload received as JSON must respect it (refused otherwise)."""

    def cut_when_built(value: Any, info: ValidationInfo) -> Any:
        return _cut(value, limit) if info.mode == "python" else value

    return Annotated[str, Field(max_length=limit), BeforeValidator(cut_when_built)]


# Every timestamp of the contract: aware (a naive one would be read in whatever zone the reader is
# in), and inside the years 1-9999 once in UTC, so the controller can convert it to store it.
Timestamp = Annotated[AwareDatetime, Field(ge=datetime(1, 1, 1, tzinfo=UTC),
                                           le=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))]
DetailText = _reported_text(DETAIL_MAX)


def _event_scalar(value: Any, info: ValidationInfo) -> Any:
    # An event's `old`/`new` is one scalar (a state's value, an identity field, a level), never a
    # structure, so a hostile payload cannot park an arbitrary document in the events table.
    # (NaN, Infinity and NUL are refused after validation, with the other free-text checks.)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError("integer outside the 64-bit range")
        return value
    if isinstance(value, str):
        if info.mode == "python":
            return _cut(value, DETAIL_MAX)
        if len(value) > DETAIL_MAX:
            raise ValueError(f"text longer than {DETAIL_MAX} characters")
        return value
    raise ValueError("one scalar (text, number, boolean or null), not a list or an object")


EventValue = Annotated[Any, BeforeValidator(_event_scalar)]
NameText = _text(NAME_MAX)
HostText = _text(HOST_MAX)
ShortText = _text(SHORT_MAX)


class Envelope(BaseModel):
    # allow_inf_nan: NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    v: Literal[1] = SCHEMA_VERSION
    agent_id: AgentId
    seq: int = Field(ge=0, lt=2**63)
    # The outbox's random id: `seq` counts within one epoch, so a reinstalled agent (new outbox, seq
    # from 1 again) is a new epoch and not a run of duplicates. Absent (agents before the epoch) = LEGACY_EPOCH.
    epoch: str = Field(default=LEGACY_EPOCH, pattern=EPOCH_PATTERN)
    ts: Timestamp
    replayed: bool = False


class AgentState(StrEnum):
    online = "online"
    offline = "offline"
    lost = "lost"


class StatusMessage(Envelope):
    state: AgentState
    boot_id: ShortText | None = None
    # On `online`: the seq of this connection's Last Will, so the controller knows which Will (whose
    # ts is the connect time, older than this message) means this connection died (docs/mqtt.md).
    will_seq: int | None = Field(default=None, ge=0, lt=2**63)


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality: NameText
    school: NameText
    room: NameText | None = None


class ConfiguredDevice(BaseModel):
    """A device as the agent's config names it; never carries secrets."""

    model_config = ConfigDict(extra="forbid")

    id: DeviceId
    protocol: Protocol
    kind: Kind | None = None
    host: HostText
    port: int | None = Field(default=None, ge=0, le=65535)
    profile: ShortText | None = None


class BirthMessage(Envelope):
    agent_version: ShortText
    host: HostText
    site: Site
    devices: list[ConfiguredDevice]
    boot_id: ShortText | None = None


# The status's nested parts with the wire's bounds (protocols/status.py stays the poller's type).
class WireLamp(Lamp):
    hours: int = Field(ge=0, le=COUNT_MAX)


class WireOutlet(Outlet):
    model_config = ConfigDict(allow_inf_nan=False)

    index: int = Field(ge=0, le=COUNT_MAX)
    name: _reported_text(NAME_MAX) | None = None  # type: ignore[valid-type]
    feeds: DeviceId | None = None


class WireIdentity(Identity):
    # Strings only, so one wrap validator per status cuts them all when the agent builds a message.
    manufacturer: NameText | None = None
    model: NameText | None = None
    serial: NameText | None = None
    firmware: NameText | None = None
    name: NameText | None = None
    mac: _text(MAC_MAX) | None = None  # type: ignore[valid-type]
    pjlink_class: _text(8) | None = None  # type: ignore[valid-type]

    @model_validator(mode="wrap")
    @classmethod
    def _cut_when_built(cls, data: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo) -> Any:
        if info.mode == "python" and isinstance(data, dict):
            short = {"mac": MAC_MAX, "pjlink_class": 8}
            data = {name: _cut(value, short.get(name, NAME_MAX)) for name, value in data.items()}
        return handler(data)


class StateMessage(Envelope, DeviceStatus):
    """The normalized device status, with the envelope beside its fields."""


    lamps: list[WireLamp] = Field(default_factory=list)
    filter_hours: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    input: _reported_text(INPUT_MAX) | None = None  # type: ignore[valid-type]
    outlets: list[WireOutlet] = Field(default_factory=list)
    identity: WireIdentity = Field(default_factory=WireIdentity)
    observed_at: Timestamp = Field(default_factory=utc_now)
    detail: DetailText | None = None

    def status(self) -> DeviceStatus:
        return DeviceStatus.model_validate(self.model_dump(exclude=set(Envelope.model_fields)))


class EventType(StrEnum):
    power = "power"
    availability = "availability"
    fault_raised = "fault_raised"
    fault_cleared = "fault_cleared"
    identity_changed = "identity_changed"
    notification = "notification"


class EventMessage(Envelope):
    device_id: DeviceId
    event: EventType
    component: _reported_text(SHORT_MAX) | None = None  # type: ignore[valid-type]  # fault component or identity field
    old: EventValue = None
    new: EventValue = None
    observed_at: Timestamp
    detail: DetailText | None = None


class HealthMessage(Envelope):
    uptime_s: float = Field(ge=0)
    cpu_percent: float | None = None
    memory_rss_bytes: int | None = None
    memory_percent: float | None = None
    disk_free_bytes: int | None = None
    temperature_c: float | None = None
    outbox_depth: int = Field(ge=0)
    outbox_dropped: int = Field(ge=0)


class Action(StrEnum):
    power_on = "power_on"
    power_off = "power_off"
    set_input = "set_input"
    av_mute = "av_mute"
    refresh = "refresh"


class Command(BaseModel):
    """Controller → agent. `device_id` is None only for `refresh` of the whole agent."""

    model_config = ConfigDict(extra="forbid")

    command_id: str = Field(min_length=1, max_length=64)
    device_id: DeviceId | None = None
    action: Action
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: Timestamp
    expires_at: Timestamp


class CommandStatus(StrEnum):
    done = "done"
    failed = "failed"
    expired = "expired"
    rejected = "rejected"


class CommandResult(Envelope):
    command_id: str = Field(min_length=1, max_length=64)
    device_id: DeviceId | None = None
    status: CommandStatus
    detail: DetailText | None = None


AgentMessage = StatusMessage | BirthMessage | StateMessage | EventMessage | HealthMessage | CommandResult

_MODEL_BY_KIND: dict[TopicKind, type[Envelope]] = {
    TopicKind.status: StatusMessage,
    TopicKind.birth: BirthMessage,
    TopicKind.state: StateMessage,
    TopicKind.event: EventMessage,
    TopicKind.health: HealthMessage,
    TopicKind.cmd_result: CommandResult,
}


# A \u0000 escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _has_non_finite_literal(raw: bytes) -> bool:
    def refuse(_constant: str) -> None:
        raise ValueError("non-finite")

    try:
        json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return True
    return False


def _unstorable(value: Any, path: str) -> str | None:
    """Where a NUL string or a non-finite number sits inside decoded JSON (no database stores them)."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "payload"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where or "payload"
        elif isinstance(item, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
            stack.extend((where, k) for k in item)
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(item))
    return None


class PayloadError(ValueError):
    """A payload that does not satisfy the contract; `reason` is short enough to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_agent_message(topic: ParsedTopic, payload: bytes | str) -> AgentMessage:
    """Validate an agent → controller payload against its topic.

    Raises PayloadError when the JSON is malformed, the kind has no model, or the payload speaks
    for another agent or device than its topic names. Strict: JSON types as declared (no "12" for
    an integer, no 1 for true), aware timestamps, finite numbers, no NUL in any string, free text
    within its bound (docs/mqtt.md).
    """
    model = _MODEL_BY_KIND.get(topic.kind)
    if model is None:
        raise PayloadError(f"{topic.kind} is not an agent → controller topic")
    try:
        message = model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise PayloadError(f"invalid {topic.kind} payload: {where}: {first.get('msg')}") from None
    if isinstance(message, EventMessage) and (
            where := _unstorable({"old": message.old, "new": message.new}, "")) is not None:
        raise PayloadError(f"invalid {topic.kind} payload: {where}: NaN, Infinity or a NUL character")
    raw = payload.encode() if isinstance(payload, str) else payload
    # The controller stores a state's JSON as received, so the raw text is checked too, not only the
    # values pydantic kept: a repeated key hides its first value from the model, not from PostgreSQL.
    # Cheap tests first; most payloads have neither.
    if b"\\u0000" in raw and _NUL_ESCAPE.search(raw):
        where = _unstorable(message.model_dump(), "") or "payload"
        raise PayloadError(f"invalid {topic.kind} payload: {where}: contains a NUL character")
    if (b"NaN" in raw or b"Infinity" in raw) and _has_non_finite_literal(raw):
        raise PayloadError(f"invalid {topic.kind} payload: NaN or Infinity, which JSON does not allow")
    if message.agent_id != topic.agent_id:
        raise PayloadError(
            f"payload agent_id {message.agent_id!r} differs from topic agent {topic.agent_id!r}"
        )
    device_id = getattr(message, "device_id", None)
    if topic.device_id is not None and device_id != topic.device_id:
        raise PayloadError(f"payload device_id {device_id!r} differs from topic device {topic.device_id!r}")
    return message
