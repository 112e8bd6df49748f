"""MQTT topic names of contract version 1 (DESIGN.md). One place builds and parses them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "avfleet/v1/agent"
ALL_AGENT_TOPICS = f"{PREFIX}/+/#"
SHARED_GROUP = "avfleet-ingest"

# An id fills one topic level: no wildcards, no separators, nothing MQTT treats specially.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_ID_RE = re.compile(ID_PATTERN)


class TopicKind(StrEnum):
    status = "status"
    birth = "birth"
    state = "state"
    event = "event"
    health = "health"
    cmd = "cmd"
    cmd_result = "cmd/result"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    agent_id: str
    kind: TopicKind
    device_id: str | None = None


class TopicError(ValueError):
    """A topic that is not part of the contract."""


def is_valid_id(value: str) -> bool:
    return bool(_ID_RE.fullmatch(value))


def agent_prefix(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}"


def status_topic(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}/status"


def birth_topic(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}/birth"


def state_topic(agent_id: str, device_id: str) -> str:
    return f"{PREFIX}/{agent_id}/dev/{device_id}/state"


def event_topic(agent_id: str, device_id: str) -> str:
    return f"{PREFIX}/{agent_id}/dev/{device_id}/event"


def health_topic(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}/health"


def cmd_topic(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}/cmd"


def cmd_result_topic(agent_id: str) -> str:
    return f"{PREFIX}/{agent_id}/cmd/result"


def shared(topic_filter: str, group: str = SHARED_GROUP) -> str:
    """An MQTT 5 shared subscription on `topic_filter`, so several controllers split ingest."""
    return f"$share/{group}/{topic_filter}"


def parse_topic(topic: str) -> ParsedTopic:
    """Split an agent topic into its parts; raise TopicError for anything outside the contract."""
    head = PREFIX + "/"
    if not topic.startswith(head):
        raise TopicError(f"topic {topic!r} is not under {PREFIX}/")
    parts = topic[len(head):].split("/")
    agent_id = parts[0]
    if not is_valid_id(agent_id):
        raise TopicError(f"topic {topic!r} has an invalid agent id")
    rest = parts[1:]
    if rest == ["status"]:
        return ParsedTopic(agent_id, TopicKind.status)
    if rest == ["birth"]:
        return ParsedTopic(agent_id, TopicKind.birth)
    if rest == ["health"]:
        return ParsedTopic(agent_id, TopicKind.health)
    if rest == ["cmd"]:
        return ParsedTopic(agent_id, TopicKind.cmd)
    if rest == ["cmd", "result"]:
        return ParsedTopic(agent_id, TopicKind.cmd_result)
    if len(rest) == 3 and rest[0] == "dev" and rest[2] in ("state", "event"):
        if not is_valid_id(rest[1]):
            raise TopicError(f"topic {topic!r} has an invalid device id")
        return ParsedTopic(agent_id, TopicKind(rest[2]), rest[1])
    raise TopicError(f"topic {topic!r} is not part of contract v1")
