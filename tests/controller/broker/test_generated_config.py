"""`avfleet broker config` + `avfleet agents add` on a real Mosquitto: passwords, ACL, TLS, agent config."""

from __future__ import annotations

import queue
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.controller.broker.passwords import hash_password, verify_password
from avfleet.protocols.mqtt import topics
from tests.controller.processes import GeneratedBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[GeneratedBroker]:
    b = GeneratedBroker(tmp_path).start()
    try:
        yield b
    finally:
        b.stop()


class Client:
    """A v5 client that records what it receives and the PUBACK reason of each publish."""

    def __init__(self, port: int, user: str, password: str, *, tls_ca: Path | None = None) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.pubacks: queue.Queue[int] = queue.Queue()
        self.connack: queue.Queue[object] = queue.Queue()
        self.subacks: queue.Queue[list] = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        if tls_ca is not None:
            self.c.tls_set(ca_certs=str(tls_ca), cert_reqs=ssl.CERT_REQUIRED)
        self.c.on_connect = lambda c, u, f, rc, p: self.connack.put(rc)
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_publish = lambda c, u, mid, rc, p: self.pubacks.put(rc.value)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        self.c.connect("localhost" if tls_ca else "127.0.0.1", port)
        self.c.loop_start()
        self.rc = self.connack.get(timeout=10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_agent_is_confined_to_its_own_topics(broker: GeneratedBroker) -> None:
    p1, p2 = broker.add_agent("room-101"), broker.add_agent("room-102")
    a1 = Client(broker.port, "room-101", p1)
    a2 = Client(broker.port, "room-102", p2)
    ctl = Client(broker.port, "avfleet-controller", broker.controller_secret())
    try:
        assert not a1.rc.is_failure and not ctl.rc.is_failure
        ctl.c.subscribe(f"{topics.PREFIX}/#", qos=1)
        assert ctl.subacks.get(timeout=5)[0].value == 1
        a1.c.subscribe(f"{topics.PREFIX}/#", qos=1)  # asks for everything; the ACL narrows it
        a1.subacks.get(timeout=5)

        a1.c.publish(topics.status_topic("room-102"), b'{"forged": true}', qos=1)
        assert a1.pubacks.get(timeout=5) == 135  # Not authorized
        a1.c.publish(topics.status_topic("room-101"), b'{"own": true}', qos=1)
        assert a1.pubacks.get(timeout=5) == 0
        got = ctl.messages.get(timeout=5)
        assert got.topic == topics.status_topic("room-101")  # the forged one never reached the controller

        ctl.c.publish(topics.cmd_topic("room-102"), b'{"for": "102"}', qos=1)
        ctl.c.publish(topics.cmd_topic("room-101"), b'{"for": "101"}', qos=1)
        own = a1.messages.get(timeout=5)  # not even its own status echo: it may read only its cmd topic
        assert (own.topic, own.payload) == (topics.cmd_topic("room-101"), b'{"for": "101"}')
        assert a2.messages.empty()  # room-102 subscribed to nothing
        with pytest.raises(queue.Empty):
            a1.messages.get(timeout=1)  # room-102's command never arrives
    finally:
        for c in (a1, a2, ctl):
            c.close()


def test_wrong_password_is_refused_and_tls_listener_verifies_with_generated_ca(broker: GeneratedBroker) -> None:
    password = broker.add_agent("room-201")
    wrong = Client(broker.port, "room-201", password + "x")
    assert wrong.rc.is_failure
    wrong.close()
    ca = broker.layout.agents / "room-201" / "ca.crt"
    over_tls = Client(broker.layout.agents_port, "room-201", password, tls_ca=ca)
    try:
        assert not over_tls.rc.is_failure
        over_tls.c.publish(topics.health_topic("room-201"), b"{}", qos=1)
        assert over_tls.pubacks.get(timeout=5) in (0, 16)  # success, or "no matching subscribers"
    finally:
        over_tls.close()


def test_agents_add_command_writes_private_secret_and_a_loadable_agent_config(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    run = [sys.executable, "-m", "avfleet.cli.main"]
    subprocess.run([*run, "broker", "config", "--out", str(out), "--hostname", "broker.example"], check=True,
                   capture_output=True, timeout=60)
    res = subprocess.run([*run, "agents", "add", "jkpg-ekhagen-a12", "--broker-dir", str(out), "--broker-host",
                          "broker.example", "--municipality", "Jönköping", "--school", "Ekhagens skola",
                          "--room", "A12"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    agent_dir = out / "agents" / "jkpg-ekhagen-a12"
    secret = (agent_dir / "broker.secret").read_text().strip()
    assert stat.S_IMODE((agent_dir / "broker.secret").stat().st_mode) == 0o600
    entries = dict(line.split(":", 1) for line in (out / "passwd").read_text().splitlines())
    assert set(entries) == {"avfleet-controller", "jkpg-ekhagen-a12"}
    entry = entries["jkpg-ekhagen-a12"]
    assert verify_password(secret, entry) and not verify_password("x", entry)
    assert secret not in res.stdout + res.stderr

    from avfleet.agent.config import load_config

    config = load_config(agent_dir / "agent.yaml")
    assert config.agent_id == "jkpg-ekhagen-a12" and config.site.room == "A12"
    assert config.broker.url == "mqtts://broker.example:8883" and config.broker.password == secret
    assert config.broker.tls is not None and config.broker.tls.ca.read_text().startswith("-----BEGIN CERTIFICATE")

    bad = subprocess.run([*run, "agents", "add", "bad/id", "--broker-dir", str(out), "--municipality", "X",
                          "--school", "Y"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "agent id" in bad.stderr


def test_password_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    """Our $7$ entries use Mosquitto's own parameters: same salt in, same hash out."""
    from tests.support.components import require_binary

    tool = require_binary("mosquitto_passwd")
    pwfile = tmp_path / "pw"
    subprocess.run([tool, "-c", "-b", str(pwfile), "u", "s3cret-value"], check=True, capture_output=True)
    encoded = pwfile.read_text().strip().split(":", 1)[1]
    assert verify_password("s3cret-value", encoded)
    _, _, iterations, salt, _ = encoded.split("$")
    import base64

    assert hash_password("s3cret-value", salt=base64.b64decode(salt), iterations=int(iterations)) == encoded


def test_generated_config_keeps_the_queue_and_persistence_limits(tmp_path: Path) -> None:
    from avfleet.controller.broker.config import BrokerLayout, write_broker_config

    layout = BrokerLayout(tmp_path / "b")
    write_broker_config(layout)
    conf = layout.conf.read_text()
    for line in ("allow_anonymous false", "persistence true", "autosave_interval 60",
                 "max_queued_messages 1000000", "max_queued_bytes 1000000000", "persistent_client_expiration 14d",
                 "listener 1883 127.0.0.1", "listener 8883"):
        assert f"\n{line}\n" in conf, line
    acl = layout.acl.read_text()
    assert "pattern write avfleet/v1/agent/%u/#" in acl and "pattern read avfleet/v1/agent/%u/cmd" in acl
    assert "topic readwrite $share/avfleet-ingest/avfleet/v1/agent/#" in acl


def test_agent_credentials_cannot_take_over_another_agents_client_id(broker: GeneratedBroker) -> None:
    """Issue 9.7: on the agents' listener the client id is the user name, so room-b's password with
    room-a's client id neither disconnects room-a nor fires its Last Will."""
    pa, pb = broker.add_agent("room-a"), broker.add_agent("room-b")
    ca = broker.layout.agents / "room-a" / "ca.crt"
    watcher = Client(broker.port, "avfleet-controller", broker.controller_secret())
    watcher.c.subscribe(f"{topics.PREFIX}/+/status", qos=1)
    watcher.subacks.get(timeout=5)

    disconnects: queue.Queue[object] = queue.Queue()
    a = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="room-a", protocol=mqtt.MQTTv5)
    a.username_pw_set("room-a", pa)
    a.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
    a.will_set(topics.status_topic("room-a"), b'{"state": "lost"}', qos=1, retain=True)
    a_up: queue.Queue[object] = queue.Queue()
    a.on_connect = lambda c, u, f, rc, p: a_up.put(rc)
    a.on_disconnect = lambda c, u, f, rc, p: disconnects.put(rc)
    a.connect("localhost", broker.layout.agents_port)
    a.loop_start()
    intruder = None
    try:
        assert not a_up.get(timeout=10).is_failure
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="room-a", protocol=mqtt.MQTTv5)
        intruder.username_pw_set("room-b", pb)
        intruder.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
        b_up: queue.Queue[object] = queue.Queue()
        intruder.on_connect = lambda c, u, f, rc, p: b_up.put(rc)
        intruder.connect("localhost", broker.layout.agents_port)
        intruder.loop_start()
        assert not b_up.get(timeout=10).is_failure  # let in, but as room-b

        # The broker handles a takeover before it answers CONNECT; a message A sends now reaches the
        # watcher after any Will would have.
        a.publish(topics.status_topic("room-a"), b'{"marker": true}', qos=1).wait_for_publish(5)
        got = watcher.messages.get(timeout=5)
        assert got.payload == b'{"marker": true}', got.payload
        assert disconnects.empty()
        assert "room-a" in broker.log_path.read_text() and "as room-b" in broker.log_path.read_text()
    finally:
        if intruder is not None:
            intruder.disconnect()
            intruder.loop_stop()
        a.disconnect()
        a.loop_stop()
        watcher.close()


def test_controllers_keep_their_own_client_ids_on_the_loopback_listener(broker: GeneratedBroker) -> None:
    """Several controllers share one broker user but need one client id each (shared subscription)."""
    first = Client(broker.port, "avfleet-controller", broker.controller_secret())
    second = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="avfleet-ingest-host-8081", protocol=mqtt.MQTTv5)
    second.username_pw_set("avfleet-controller", broker.controller_secret())
    up: queue.Queue[object] = queue.Queue()
    second.on_connect = lambda c, u, f, rc, p: up.put(rc)
    second.connect("127.0.0.1", broker.port)
    second.loop_start()
    try:
        assert not up.get(timeout=10).is_failure
        first.c.publish(topics.cmd_topic("room-x"), b"{}", qos=1)
        assert first.pubacks.get(timeout=5) in (0, 16)  # the first is still connected
        log = broker.log_path.read_text()
        assert "as avfleet-controller (" in log and "as avfleet-ingest-host-8081 (" in log
    finally:
        second.disconnect()
        second.loop_stop()
        first.close()
