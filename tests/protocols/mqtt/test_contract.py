"""MQTT contract v1: topics round-trip, payloads validate, and an agent cannot speak for another."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import (
    DETAIL_MAX,
    Command,
    CommandResult,
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


# ---- strict payloads (issue 9 point 8; docs/mqtt.md "Strict payloads") --------------------------------

STATE_TOPIC = topics.parse_topic(topics.state_topic("jkpg-a12", "pj-a12"))
EVENT = {"v": 1, "agent_id": "jkpg-a12", "seq": 9, "ts": "2026-01-05T07:00:00Z", "device_id": "pj-a12",
         "event": "power", "old": "standby", "new": "on", "observed_at": "2026-01-05T07:00:00Z"}


def _state_json(**changes: object) -> dict:
    data = json.loads(_state().model_dump_json())
    data.update(changes)
    return data


def _refused(topic: topics.ParsedTopic, payload: dict | bytes, *words: str) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(PayloadError) as caught:
        parse_agent_message(topic, raw)
    for word in words:
        assert word in caught.value.reason, (word, caught.value.reason)
    return caught.value.reason


@pytest.mark.parametrize(("field", "value"), [
    ("seq", "12"), ("seq", 12.5), ("replayed", "true"), ("replayed", 1), ("replayed", "0"), ("av_mute", 0),
    ("filter_hours", "300"), ("ts", 1767600000), ("power_w", "12.5"), ("availability", 1),
])
def test_json_types_are_strict(field: str, value: object) -> None:
    _refused(STATE_TOPIC, _state_json(**{field: value}), field)


def test_nested_json_types_are_strict() -> None:
    _refused(STATE_TOPIC, _state_json(lamps=[{"hours": "1200", "on": True}]), "lamps.0.hours")
    _refused(STATE_TOPIC, _state_json(lamps=[{"hours": 1200, "on": "yes"}]), "lamps.0.on")
    health = {"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-05T07:00:00Z", "uptime_s": 1.5,
              "outbox_depth": "0", "outbox_dropped": 0}
    _refused(topics.parse_topic(topics.health_topic("a1")), health, "outbox_depth")
    # An integer where a float is declared is a JSON number like any other.
    ok = parse_agent_message(topics.parse_topic(topics.health_topic("a1")),
                             json.dumps({**health, "outbox_depth": 0, "uptime_s": 2}))
    assert ok.uptime_s == 2.0


@pytest.mark.parametrize(("field", "value"), [
    ("ts", "2026-01-05T07:00:00"), ("observed_at", "2026-01-05T07:00:00"), ("ts", "2026-01-05"),
])
def test_naive_timestamps_are_refused(field: str, value: str) -> None:
    _refused(STATE_TOPIC, _state_json(**{field: value}), field)


def test_event_and_command_timestamps_are_aware() -> None:
    event_topic = topics.parse_topic(topics.event_topic("jkpg-a12", "pj-a12"))
    _refused(event_topic, {**EVENT, "observed_at": "2026-01-05T07:00:00"}, "observed_at", "timezone")
    with pytest.raises(ValueError, match="timezone"):
        Command(command_id="c1", device_id="pj-a12", action="power_on", issued_at=datetime(2026, 1, 5),
                expires_at=NOW)
    with pytest.raises(ValueError, match="timezone"):
        StatusMessage(agent_id="a1", seq=1, ts=datetime(2026, 1, 5), state="online")


def test_timestamps_with_any_offset_are_inside_the_calendar_in_utc() -> None:
    message = parse_agent_message(STATE_TOPIC, json.dumps(_state_json(ts="2026-01-05T08:00:00+01:00")))
    assert message.ts == datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    edge = parse_agent_message(STATE_TOPIC, json.dumps(_state_json(ts="0001-01-01T00:30:00+00:30")))
    assert edge.ts == datetime(1, 1, 1, tzinfo=UTC)
    _refused(STATE_TOPIC, _state_json(ts="0001-01-01T00:00:00+01:00"), "ts", "0001-01-01")
    _refused(STATE_TOPIC, _state_json(observed_at="9999-12-31T23:59:59-01:00"), "observed_at", "9999-12-31")


def test_non_finite_numbers_are_refused() -> None:
    raw = json.dumps(_state_json(power_w=None)).replace('"power_w": null', '"power_w": NaN').encode()
    _refused(STATE_TOPIC, raw, "power_w", "finite")
    _refused(STATE_TOPIC, _state_json(outlets=[{"index": 0, "power_w": float("inf")}]), "outlets.0.power_w")
    health = {"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-05T07:00:00Z", "uptime_s": 1.0,
              "cpu_percent": 1, "outbox_depth": 0, "outbox_dropped": 0}
    raw = json.dumps(health).replace('"cpu_percent": 1', '"cpu_percent": 1e400').encode()
    _refused(topics.parse_topic(topics.health_topic("a1")), raw, "cpu_percent")
    event_topic = topics.parse_topic(topics.event_topic("jkpg-a12", "pj-a12"))
    _refused(event_topic, {**EVENT, "new": float("nan")}, "new", "NaN")


def test_nul_is_refused_in_every_string() -> None:
    _refused(STATE_TOPIC, _state_json(detail="lamp\x00"), "detail", "NUL")
    identity = {**_state_json()["identity"], "serial": "SN\x001"}
    _refused(STATE_TOPIC, _state_json(identity=identity), "identity.serial", "NUL")
    event_topic = topics.parse_topic(topics.event_topic("jkpg-a12", "pj-a12"))
    _refused(event_topic, {**EVENT, "new": "x\x00"}, "new", "NUL")
    birth = {"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-05T07:00:00Z", "agent_version": "0.1",
             "host": "pi", "site": {"municipality": "Habo", "school": "Furu\x00skolan"}, "devices": []}
    _refused(topics.parse_topic(topics.birth_topic("a1")), birth, "site.school")
    # A backslash followed by "u0000" is ordinary text.
    ok = parse_agent_message(STATE_TOPIC, json.dumps(_state_json(detail="\\u0000")))
    assert ok.detail == "\\u0000"


def test_lone_surrogates_are_refused() -> None:
    raw = json.dumps(_state_json(detail="x")).replace('"detail": "x"', '"detail": "\\ud800"').encode()
    _refused(STATE_TOPIC, raw)


@pytest.mark.parametrize(("changes", "where"), [
    ({"detail": "x" * 513}, "detail"),
    ({"input": "3" * 33}, "input"),
    ({"lamps": [{"hours": 2**31, "on": True}]}, "lamps.0.hours"),
    ({"filter_hours": 2**31}, "filter_hours"),
    ({"identity": {"serial": "s" * 129}}, "identity.serial"),
    ({"identity": {"mac": "m" * 33}}, "identity.mac"),
    ({"outlets": [{"index": 0, "name": "n" * 129}]}, "outlets.0.name"),
])
def test_free_text_and_counts_are_bounded_on_the_wire(changes: dict, where: str) -> None:
    _refused(STATE_TOPIC, _state_json(**changes), where)


def test_bounds_of_events_results_and_births() -> None:
    event_topic = topics.parse_topic(topics.event_topic("jkpg-a12", "pj-a12"))
    _refused(event_topic, {**EVENT, "detail": "d" * (DETAIL_MAX + 1)}, "detail")
    _refused(event_topic, {**EVENT, "component": "c" * 65}, "component")
    assert parse_agent_message(event_topic, json.dumps({**EVENT, "detail": "d" * DETAIL_MAX})).detail
    result = {"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-05T07:00:00Z", "command_id": "c1",
              "status": "failed", "detail": "d" * (DETAIL_MAX + 1)}
    _refused(topics.parse_topic(topics.cmd_result_topic("a1")), result, "detail")
    birth = {"v": 1, "agent_id": "a1", "seq": 1, "ts": "2026-01-05T07:00:00Z", "agent_version": "0.1",
             "host": "h" * 256, "site": {"municipality": "Habo", "school": "Furuskolan"}, "devices": []}
    _refused(topics.parse_topic(topics.birth_topic("a1")), birth, "host")


def test_the_agent_building_a_message_cuts_long_text_to_the_bound() -> None:
    status = DeviceStatus(device_id="pj-a12", kind=Kind.projector, protocol=Protocol.pjlink,
                          availability=Availability.error, detail="raw: " + "ab" * 5000, observed_at=NOW,
                          identity={"model": "M" * 300})
    message = StateMessage(agent_id="jkpg-a12", seq=1, ts=NOW, **status.model_dump())
    assert len(message.detail) == DETAIL_MAX and message.detail.endswith("…")
    assert message.detail.startswith("raw: abab") and len(message.identity.model) == 128
    # What the agent sends is what the controller accepts.
    parsed = parse_agent_message(STATE_TOPIC, message.model_dump_json())
    assert parsed.detail == message.detail
    result = CommandResult(agent_id="a1", seq=2, ts=NOW, command_id="c1", status="failed", detail="e" * 2000)
    assert len(result.detail) == DETAIL_MAX


def test_a_repeated_key_cannot_hide_nan_or_nul_from_the_stored_text() -> None:
    # The model keeps the last value; the controller stores the text as received (PostgreSQL refuses NaN).
    good = _state().model_dump_json()
    _refused(STATE_TOPIC, ('{"power_w":NaN,' + good[1:]).encode(), "NaN")
    _refused(STATE_TOPIC, ('{"detail":"x\\u0000",' + good[1:]).encode(), "NUL")
    # The same words inside text are ordinary text.
    ok = parse_agent_message(STATE_TOPIC, json.dumps(_state_json(detail="NaN Infinity \\\\u0000")))
    assert ok.detail == "NaN Infinity \\\\u0000"


def test_an_events_old_and_new_are_scalars_of_bounded_length() -> None:
    event_topic = topics.parse_topic(topics.event_topic("jkpg-a12", "pj-a12"))
    for value in ([1, 2], {"name": "x"}, "å" * 513):
        _refused(event_topic, {**EVENT, "new": value}, "new")
    for value in ("on", 1200, 2.5, True, None, "å" * 512):
        assert parse_agent_message(event_topic, json.dumps({**EVENT, "old": value})).old == value
