"""Payload models of MQTT contract version 1, validated on both sides (agent and controller).

Every agent message is one flat JSON object: the envelope fields (`v`, `agent_id`, `seq`, `epoch`,
`ts`, `replayed`) followed by the fields of its kind. Commands travel the other way and carry no envelope.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avfleet.protocols.mqtt.topics import ID_PATTERN, ParsedTopic, TopicKind
from avfleet.protocols.status import DeviceStatus, Kind, Protocol

SCHEMA_VERSION = 1
LEGACY_EPOCH = "0"  # the epoch of messages that carry none
EPOCH_PATTERN = "^[0-9a-f]{1,32}$"

AgentId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
DeviceId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = SCHEMA_VERSION
    agent_id: AgentId
    seq: int = Field(ge=0, lt=2**63)
    # The outbox's random id: `seq` counts within one epoch, so a reinstalled agent (new outbox, seq
    # from 1 again) is a new epoch and not a run of duplicates. Absent (agents before the epoch) = LEGACY_EPOCH.
    epoch: str = Field(default=LEGACY_EPOCH, pattern=EPOCH_PATTERN)
    ts: datetime
    replayed: bool = False


class AgentState(StrEnum):
    online = "online"
    offline = "offline"
    lost = "lost"


class StatusMessage(Envelope):
    state: AgentState
    boot_id: str | None = None


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid")

    municipality: str
    school: str
    room: str | None = None


class ConfiguredDevice(BaseModel):
    """A device as the agent's config names it; never carries secrets."""

    model_config = ConfigDict(extra="forbid")

    id: DeviceId
    protocol: Protocol
    kind: Kind | None = None
    host: str
    port: int | None = None
    profile: str | None = None


class BirthMessage(Envelope):
    agent_version: str
    host: str
    site: Site
    devices: list[ConfiguredDevice]
    boot_id: str | None = None


class StateMessage(Envelope, DeviceStatus):
    """The normalized device status, with the envelope beside its fields."""

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
    component: str | None = None  # fault component or identity field
    old: Any = None
    new: Any = None
    observed_at: datetime
    detail: str | None = None


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
    issued_at: datetime
    expires_at: datetime


class CommandStatus(StrEnum):
    done = "done"
    failed = "failed"
    expired = "expired"
    rejected = "rejected"


class CommandResult(Envelope):
    command_id: str = Field(min_length=1, max_length=64)
    device_id: DeviceId | None = None
    status: CommandStatus
    detail: str | None = None


AgentMessage = StatusMessage | BirthMessage | StateMessage | EventMessage | HealthMessage | CommandResult

_MODEL_BY_KIND: dict[TopicKind, type[Envelope]] = {
    TopicKind.status: StatusMessage,
    TopicKind.birth: BirthMessage,
    TopicKind.state: StateMessage,
    TopicKind.event: EventMessage,
    TopicKind.health: HealthMessage,
    TopicKind.cmd_result: CommandResult,
}


class PayloadError(ValueError):
    """A payload that does not satisfy the contract; `reason` is short enough to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_agent_message(topic: ParsedTopic, payload: bytes | str) -> AgentMessage:
    """Validate an agent → controller payload against its topic.

    Raises PayloadError when the JSON is malformed, the kind has no model, or the payload speaks
    for another agent or device than its topic names.
    """
    model = _MODEL_BY_KIND.get(topic.kind)
    if model is None:
        raise PayloadError(f"{topic.kind} is not an agent → controller topic")
    try:
        message = model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise PayloadError(f"invalid {topic.kind} payload: {where}: {first.get('msg')}") from None
    if message.agent_id != topic.agent_id:
        raise PayloadError(
            f"payload agent_id {message.agent_id!r} differs from topic agent {topic.agent_id!r}"
        )
    device_id = getattr(message, "device_id", None)
    if topic.device_id is not None and device_id != topic.device_id:
        raise PayloadError(f"payload device_id {device_id!r} differs from topic device {topic.device_id!r}")
    return message
