"""Contract-valid agent messages and a fast windowed publisher, for the controller's tests.

The agent is built elsewhere; these tests speak the MQTT contract directly (DESIGN.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.protocols.mqtt import topics

EPOCH = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def ts(offset_s: float = 0.0) -> str:
    return (EPOCH + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


def envelope(agent_id: str, seq: int, *, at: float = 0.0, replayed: bool = False,
             epoch: str | None = None) -> dict[str, Any]:
    """`epoch` None: no epoch field, as agents before it sent (the legacy epoch "0")."""
    body = {"v": 1, "agent_id": agent_id, "seq": seq, "ts": ts(at), "replayed": replayed}
    return body if epoch is None else {**body, "epoch": epoch}


def state(agent_id: str, device_id: str, seq: int, *, at: float = 0.0, availability: str = "online",
          power: str = "on", faults: dict[str, str] | None = None, serial: str | None = "SN-1",
          model: str | None = "EB-2250U", firmware: str | None = "1.0", replayed: bool = False,
          kind: str = "projector", lamp_hours: int = 1200, epoch: str | None = None) -> tuple[str, bytes]:
    body = {
        **envelope(agent_id, seq, at=at, replayed=replayed, epoch=epoch),
        "device_id": device_id, "kind": kind, "protocol": "pjlink", "availability": availability, "power": power,
        "faults": {"fan": "ok", "lamp": "ok", "temperature": "ok", "cover": "ok", "filter": "ok", "other": "ok",
                   **(faults or {})},
        "lamps": [{"hours": lamp_hours, "on": power == "on"}], "filter_hours": 300, "input": "31", "av_mute": False,
        "power_w": None, "outlets": [],
        "identity": {"manufacturer": "EPSON", "model": model, "serial": serial, "firmware": firmware,
                     "name": device_id, "mac": None, "pjlink_class": "2"},
        "observed_at": ts(at), "detail": None,
    }
    return topics.state_topic(agent_id, device_id), json.dumps(body).encode()


def birth(agent_id: str, seq: int, *, municipality: str, school: str, room: str | None,
          devices: Iterable[str] = (), at: float = 0.0) -> tuple[str, bytes]:
    body = {**envelope(agent_id, seq, at=at), "agent_version": "0.1.0", "host": f"{agent_id}.local",
            "site": {"municipality": municipality, "school": school, "room": room},
            "devices": [{"id": d, "protocol": "pjlink", "kind": "projector", "host": "127.0.0.1"} for d in devices]}
    return topics.birth_topic(agent_id), json.dumps(body).encode()


def status(agent_id: str, seq: int, agent_state: str, *, at: float = 0.0) -> tuple[str, bytes]:
    return topics.status_topic(agent_id), json.dumps({**envelope(agent_id, seq, at=at), "state": agent_state}).encode()


def health(agent_id: str, seq: int, *, at: float = 0.0) -> tuple[str, bytes]:
    body = {**envelope(agent_id, seq, at=at), "uptime_s": 12.5, "cpu_percent": 3.0, "outbox_depth": 0,
            "outbox_dropped": 0}
    return topics.health_topic(agent_id), json.dumps(body).encode()


def event(agent_id: str, device_id: str, seq: int, *, at: float = 0.0, kind: str = "fault_raised",
          component: str = "lamp") -> tuple[str, bytes]:
    body = {**envelope(agent_id, seq, at=at), "device_id": device_id, "event": kind, "component": component,
            "old": "ok", "new": "error", "observed_at": ts(at), "detail": None}
    return topics.event_topic(agent_id, device_id), json.dumps(body).encode()


def command_result(agent_id: str, seq: int, command_id: str, device_id: str | None,
                   result: str = "done", *, at: float = 0.0) -> tuple[str, bytes]:
    body = {**envelope(agent_id, seq, at=at), "command_id": command_id, "device_id": device_id,
            "status": result, "detail": None}
    return topics.cmd_result_topic(agent_id), json.dumps(body).encode()


class Publisher:
    """QoS 1 publisher keeping a window of unacknowledged messages (paho has 65,535 packet ids)."""

    def __init__(self, port: int, *, client_id: str = "", username: str | None = None,
                 password: str | None = None, window: int = 500, protocol: int = mqtt.MQTTv311) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(100)
        self._window = threading.BoundedSemaphore(window)
        self._connected = threading.Event()
        self.acked = 0
        self.published = 0
        self._all_acked = threading.Condition()
        self.reason_codes: list[int] = []
        self.client.on_connect = lambda c, u, f, rc, p: self._connected.set() if not rc.is_failure else None
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError(f"publisher could not connect to 127.0.0.1:{port}")

    def _on_publish(self, _c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        with self._all_acked:
            self.acked += 1
            self._all_acked.notify_all()
        self.reason_codes.append(reason.value if hasattr(reason, "value") else int(reason))
        self._window.release()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._window.acquire()
        self.published += 1
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish refused by paho: {mqtt.error_string(info.rc)}")

    def publish_all(self, messages: Iterable[tuple[str, bytes]], qos: int = 1) -> int:
        count = 0
        for topic, payload in messages:
            self.publish(topic, payload, qos)
            count += 1
        return count

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every QoS 1 publish has its PUBACK."""
        with self._all_acked:
            if not self._all_acked.wait_for(lambda: self.acked >= self.published, timeout):
                raise TimeoutError(f"{self.published - self.acked} publishes still unacknowledged")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
