"""The production set-up on loopback: Mosquitto with a TLS listener, a password file and the ACL of
mqtt.md §2.2. The agent connects with mqtts://, its password from a file and the CA from its config;
a wrong password is refused without the agent falling over."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.agent.config import load_config
from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from tests.agent.helpers import agent_dict, wait_until, write_config
from tests.support.components import require_binary
from tests.support.mosquitto import MosquittoBroker


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "avfleet test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


@pytest.fixture
def secure_broker(tmp_path: Path):
    passwd_bin = require_binary("mosquitto_passwd")
    workdir = tmp_path / "secure"
    workdir.mkdir()
    ca, cert, key = _certificates(workdir)
    passwd = workdir / "passwd"
    subprocess.run([passwd_bin, "-c", "-b", str(passwd), "admin", "admin-pw"], check=True)
    subprocess.run([passwd_bin, "-b", str(passwd), "a-tls", "agent-pw-123"], check=True)
    acl = workdir / "acl"
    acl.write_text("pattern write avfleet/v1/agent/%u/#\npattern read avfleet/v1/agent/%u/cmd\n\n"
                   "user admin\ntopic readwrite avfleet/v1/#\n")
    broker = MosquittoBroker(workdir, extra_config=(
        f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
    ))
    # The support class writes `allow_anonymous true` first; Mosquitto takes the later setting.
    broker.start()
    try:
        yield broker, ca
    finally:
        broker.kill()


def _admin_subscriber(port: int, ca: Path, received: list) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="admin", protocol=mqtt.MQTTv5)
    client.username_pw_set("admin", "admin-pw")
    client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    subscribed = threading.Event()
    client.on_connect = lambda c, *_a: c.subscribe("avfleet/v1/agent/#", qos=1)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_message = lambda _c, _u, m: received.append((m.topic, json.loads(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert subscribed.wait(10)
    return client


async def test_agent_over_tls_with_password_file_and_acl(secure_broker, tmp_path: Path) -> None:
    broker, ca = secure_broker
    received: list = []
    admin = _admin_subscriber(broker.port, ca, received)
    (tmp_path / "broker-password").write_text("agent-pw-123\n")
    async with EmulatedFleet.from_count(1) as fleet:
        path = write_config(tmp_path / "agent.yaml", agent_dict(
            "a-tls", f"mqtts://127.0.0.1:{broker.port}", fleet.urls(), tmp_path / "o.sqlite",
            broker={"password_file": "broker-password", "tls": {"ca": str(ca)}}))
        config = load_config(path)
        agent = Agent(config)
        task = asyncio.create_task(agent.run())
        try:
            await wait_until(lambda: any(t.endswith("/birth") for t, _ in received)
                             and any(t.endswith("/state") for t, _ in received), 20, "birth and state over TLS")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    admin.disconnect()
    admin.loop_stop()
    assert agent.link.stats.refused_by_broker == 0  # every publish was inside the agent's ACL
    assert {t.split("/")[3] for t, _ in received} == {"a-tls"}


async def test_wrong_password_is_refused_and_the_agent_keeps_trying(secure_broker, tmp_path: Path, caplog) -> None:
    broker, ca = secure_broker
    (tmp_path / "broker-password").write_text("not-the-password\n")
    path = write_config(tmp_path / "agent.yaml", agent_dict(
        "a-tls", f"mqtts://127.0.0.1:{broker.port}", [], tmp_path / "o.sqlite",
        broker={"password_file": "broker-password", "tls": {"ca": str(ca)}, "protocol": "5"}))
    agent = Agent(load_config(path))
    task = asyncio.create_task(agent.run())
    try:
        with caplog.at_level("WARNING", logger="avfleet.agent.link"):
            await wait_until(lambda: "refused" in caplog.text, 15, "a refusal in the log")
        assert not agent.link.connected and agent.link.thread_alive()
    finally:
        agent.stop()
        await asyncio.wait_for(task, 15)
    assert "not-the-password" not in caplog.text
