"""A whole controller (ingest + uvicorn) against a real Mosquitto: live stream and a command round trip."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import Command
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.controller.ingest.test_worker import wait_for
from tests.support.mosquitto import MosquittoBroker

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def controller(db_url: str, mosquitto: MosquittoBroker) -> Iterator[Controller]:
    settings = load_settings(database_url=db_url, broker_url=mosquitto.url, api_tokens=[API_TOKEN],
                             broker_password="anonymous-broker-ignores-this", api_port=0, client_id="runtime-test")
    ctl = Controller(settings, migrate=False)
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.stop()


def test_stream_sends_device_transitions(controller: Controller, mosquitto: MosquittoBroker) -> None:
    base = controller.dashboard_url.rstrip("/")
    events: queue.Queue[tuple[str, dict]] = queue.Queue()
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/v1/stream?poll_ms=100", headers=AUTH, timeout=30) as res:
            name = None
            for line in res.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    if name == "hello":
                        ready.set()
                    events.put((name, json.loads(line[6:])))
                    if name == "device" and json.loads(line[6:])["power"] == "standby":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    pub = support.Publisher(mosquitto.port)
    pub.publish(*support.birth("ag1", 1, municipality="Vaggeryd", school="Fenix", room="1", devices=["pj1"]))
    pub.publish(*support.state("ag1", "pj1", 2, at=1, power="on"))
    pub.flush()
    seen: list[tuple[str, str]] = []
    while ("device", "on") not in seen:
        name, data = events.get(timeout=15)
        seen.append((name, data.get("power", data.get("state"))))
    pub.publish(*support.state("ag1", "pj1", 3, at=2, power="standby"))
    pub.flush()
    pub.close()
    thread.join(15)
    assert not thread.is_alive(), "no standby transition arrived on the stream"


def test_command_is_published_with_expiry_and_its_result_is_followed(
        controller: Controller, mosquitto: MosquittoBroker) -> None:
    base = controller.dashboard_url.rstrip("/")
    pub = support.Publisher(mosquitto.port)
    pub.publish(*support.state("ag1", "pj1", 1, at=1, power="standby"))
    pub.flush()
    wait_for(lambda: httpx.get(f"{base}/api/v1/devices", headers=AUTH).json()["total"] == 1, what="the device")

    # The agent's side: a v5 subscriber on its own cmd topic.
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    agent = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ag1", protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    agent.on_message = lambda c, u, m: received.put(m)
    agent.on_subscribe = lambda *a: subscribed.set()
    agent.on_connect = lambda c, u, f, rc, p: c.subscribe(topics.cmd_topic("ag1"), qos=1)
    agent.connect("127.0.0.1", mosquitto.port)
    agent.loop_start()
    try:
        assert subscribed.wait(10)
        res = httpx.post(f"{base}/api/v1/commands", headers=AUTH,
                         json={"action": "set_input", "device_id": "pj1", "args": {"input": "31"}, "ttl_s": 120})
        assert res.status_code == 202, res.text
        issued = res.json()
        assert issued["status"] == "sent" and issued["agent_id"] == "ag1"
        msg = received.get(timeout=10)
        command = Command.model_validate_json(msg.payload)
        assert (command.command_id, command.action.value, command.args) == (issued["id"], "set_input",
                                                                            {"input": "31"})
        assert 100 <= msg.properties.MessageExpiryInterval <= 120
        pub.publish(*support.command_result("ag1", 2, command.command_id, "pj1", "done", at=2))
        pub.flush()
        wait_for(lambda: httpx.get(f"{base}/api/v1/commands/{issued['id']}", headers=AUTH).json()["status"] == "done",
                 what="the command result")
        listed = httpx.get(f"{base}/api/v1/commands?device_id=pj1", headers=AUTH).json()
        assert listed["total"] == 1 and listed["items"][0]["status"] == "done"
    finally:
        agent.disconnect()
        agent.loop_stop()
        pub.close()
