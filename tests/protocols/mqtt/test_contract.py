"""MQTT contract v1: topics round-trip, payloads validate, and an agent cannot speak for another."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import (
    PayloadError,
    StateMessage,
    StatusMessage,
    parse_agent_message,
)
from avfleet.protocols.status import Availability, DeviceStatus, FaultLevel, Faults, Kind, Power, Protocol

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def _state(agent_id: str = "jkpg-a12", device_id: str = "pj-a12", seq: int = 7) -> StateMessage:
    status = DeviceStatus(
        device_id=device_id,
        kind=Kind.projector,
        protocol=Protocol.pjlink,
        availability=Availability.online,
        power=Power.on,
        faults=Faults(lamp=FaultLevel.warning, fan=FaultLevel.ok),
        observed_at=NOW,
    )
    return StateMessage(agent_id=agent_id, seq=seq, ts=NOW, **status.model_dump())


@pytest.mark.parametrize(
    ("topic", "kind", "device"),
    [
        (topics.status_topic("a1"), topics.TopicKind.status, None),
        (topics.birth_topic("a1"), topics.TopicKind.birth, None),
        (topics.health_topic("a1"), topics.TopicKind.health, None),
        (topics.cmd_topic("a1"), topics.TopicKind.cmd, None),
        (topics.cmd_result_topic("a1"), topics.TopicKind.cmd_result, None),
        (topics.state_topic("a1", "pj-1"), topics.TopicKind.state, "pj-1"),
        (topics.event_topic("a1", "pj-1"), topics.TopicKind.event, "pj-1"),
    ],
)
def test_topics_round_trip(topic: str, kind: topics.TopicKind, device: str | None) -> None:
    parsed = topics.parse_topic(topic)
    assert (parsed.agent_id, parsed.kind, parsed.device_id) == ("a1", kind, device)


@pytest.mark.parametrize(
    "topic",
    ["other/v1/agent/a1/status", "avfleet/v1/agent/a1/dev/x/colour", "avfleet/v1/agent/+/status",
     "avfleet/v1/agent/a1/dev/#/state", "avfleet/v1/agent/a1"],
)
def test_foreign_topics_rejected(topic: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.parse_topic(topic)


def test_state_payload_is_the_flat_status_with_envelope() -> None:
    message = _state()
    data = json.loads(message.model_dump_json())
    assert data["v"] == 1 and data["seq"] == 7 and data["replayed"] is False
    assert data["faults"]["lamp"] == "warning" and data["power"] == "on"
    parsed = parse_agent_message(topics.parse_topic(topics.state_topic("jkpg-a12", "pj-a12")),
                                 message.model_dump_json())
    assert isinstance(parsed, StateMessage)
    assert parsed.status().faults.active() == {"lamp": FaultLevel.warning}


def test_payload_for_another_agent_is_rejected() -> None:
    payload = _state(agent_id="intruder").model_dump_json()
    with pytest.raises(PayloadError, match="differs from topic agent"):
        parse_agent_message(topics.parse_topic(topics.state_topic("jkpg-a12", "pj-a12")), payload)


def test_payload_for_another_device_is_rejected() -> None:
    payload = _state(device_id="pj-other").model_dump_json()
    with pytest.raises(PayloadError, match="device"):
        parse_agent_message(topics.parse_topic(topics.state_topic("jkpg-a12", "pj-a12")), payload)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"{}", b'{"v": 2, "agent_id": "a1", "seq": 1, "ts": "2026-01-01T00:00:00Z", "state": "online"}',
     b'{"v": 1, "agent_id": "a1", "seq": -1, "ts": "2026-01-01T00:00:00Z", "state": "online"}',
     b'{"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-01T00:00:00Z", "state": "sleepy"}',
     b'{"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-01T00:00:00Z", "state": "online", "extra": 1}'],
)
def test_malformed_payloads_raise_payload_error(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_agent_message(topics.parse_topic(topics.status_topic("a1")), payload)


def test_status_message_ok() -> None:
    raw = b'{"v": 1, "agent_id": "a1", "seq": 3, "ts": "2026-01-01T00:00:00Z", "state": "lost"}'
    message = parse_agent_message(topics.parse_topic(topics.status_topic("a1")), raw)
    assert isinstance(message, StatusMessage) and message.state == "lost"
