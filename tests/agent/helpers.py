"""Shared pieces of the agent tests: a real MQTT subscriber, config building, the agent as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from avfleet.agent.config import AgentConfig
from avfleet.protocols.mqtt import topics


@dataclass
class Received:
    topic: str
    data: dict
    retain: bool
    raw: bytes

    @property
    def seq(self) -> int:
        return self.data["seq"]


class Recorder:
    """A paho subscriber on a real broker that keeps every message it gets, in arrival order."""

    def __init__(self, port: int, topic_filter: str, *, client_id: str = "test-recorder", persistent: bool = False,
                 v5: bool = True):
        self.port = port
        self.topic_filter = topic_filter
        self.persistent = persistent
        self.messages: list[Received] = []
        self.session_present: list[bool] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.v5 = v5
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()

    def _on_connect(self, client, _ud, flags, reason, _props) -> None:
        if reason.is_failure:
            return
        self.session_present.append(bool(flags.session_present))
        if not flags.session_present:
            client.subscribe(self.topic_filter, qos=1)
        else:
            self.subscribed.set()

    def _on_message(self, _client, _ud, message) -> None:
        try:
            data = json.loads(message.payload)
        except (ValueError, RecursionError):  # a hostile test payload seen on the cmd topic
            data = {"_raw": message.payload.decode(errors="replace")}
        with self._lock:
            self.messages.append(Received(message.topic, data, bool(message.retain), bytes(message.payload)))

    def start(self, timeout: float = 10.0) -> Recorder:
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            if self.persistent:
                props.SessionExpiryInterval = 3600
            self.client.connect("127.0.0.1", self.port, keepalive=10, clean_start=not self.persistent,
                                properties=props)
        else:
            self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            raise TimeoutError("recorder did not subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def where(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [m for m in self.snapshot() if predicate(m)]

    def publish(self, topic: str, payload: Any, qos: int = 1) -> None:
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self.client.publish(topic, data, qos=qos)

    async def wait_for(self, predicate: Callable[[list[Received]], Any], timeout: float = 10.0, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.snapshot())
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
            await asyncio.sleep(0.05)


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def agent_dict(agent_id: str, broker_url: str, urls: list[str], outbox_path: Path, **sections: Any) -> dict:
    """A config as plain data (what a YAML file holds); sections override or add top-level keys."""
    data: dict[str, Any] = {
        "version": 1,
        "agent_id": agent_id,
        "site": {"municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12"},
        "broker": {"url": broker_url, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "devices": [{"id": f"pj-{i:02d}", "url": url} for i, url in enumerate(urls)],
        "polling": {"interval_s": 0.3, "heartbeat_s": 60, "failure_threshold": 2, "max_backoff_s": 1.0},
        "outbox": {"path": str(outbox_path), "commit_interval_s": 0.1},
        "health": {"interval_s": 60},
        "commands": {"retry_interval_s": 0.2},
        "discovery": {"notifications": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def agent_config(*args: Any, **kwargs: Any) -> AgentConfig:
    return AgentConfig.model_validate(agent_dict(*args, **kwargs))


def command(command_id: str, device_id: str | None, action: str, args: dict | None = None, *,
            expires_in: float = 30.0) -> dict:
    now = datetime.now(UTC)
    return {
        "command_id": command_id,
        "device_id": device_id,
        "action": action,
        "args": args or {},
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=expires_in)).isoformat(),
    }


def avfleet_command() -> list[str]:
    """The installed `avfleet` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "avfleet"
    if script.exists():
        return [str(script)]
    found = shutil.which("avfleet")
    return [found] if found else [sys.executable, "-m", "avfleet.cli.main"]


class AgentProcess:
    """`avfleet agent --config FILE` as a real subprocess."""

    def __init__(self, config_path: Path, *, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = config_path.with_suffix(".log")
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self) -> AgentProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [*avfleet_command(), "agent", "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def write_config(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1))  # JSON is YAML
    return path


def agent_topic(agent_id: str) -> str:
    return f"{topics.agent_prefix(agent_id)}/#"
