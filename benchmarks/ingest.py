"""Ingest throughput: a bare paho subscriber's drain rate against the controller's ingest rate.

One Mosquitto, one backlog: two persistent sessions (the bare subscriber's and the controller's)
are registered, then 200,000 QoS 1 state messages are pre-published with the C `mosquitto_pub -l`
so the broker queues each message for both. Each session then reconnects and drains:
- bare: paho, json.loads per message, automatic acks (the ceiling of a Python subscriber);
- controller: the real IngestService (validation, dedup, fleet rules, batched commits on SQLite in
  WAL mode, acks after commit), measured as messages committed per second; once with the ticket
  rules off and once with them on (each its own session and database, same backlog, same run).

Usage: .venv/bin/python benchmarks/ingest.py [--messages N] [--agents A] [--devices-per-agent D]
The last line prints the rates, the ratio to bare paho, and rules-on against rules-off.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from avfleet.controller.app import Controller
from avfleet.controller.ingest.worker import INGEST_FILTERS
from avfleet.controller.settings import load_settings
from avfleet.protocols.mqtt import topics

EPOCH = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "persistence false\n"  # drains are measured from RAM; persistence is about restarts, not speed
        "max_queued_messages 2000000\nmax_queued_bytes 0\nmax_inflight_messages 20\n"
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def state_line(agent_id: str, device_id: str, seq: int, at: float, power: str) -> str:
    t = (EPOCH + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
    return json.dumps({
        "v": 1, "agent_id": agent_id, "seq": seq, "ts": t, "replayed": False, "device_id": device_id,
        "kind": "projector", "protocol": "pjlink", "availability": "online", "power": power,
        "faults": {"fan": "ok", "lamp": "ok", "temperature": "ok", "cover": "ok", "filter": "ok", "other": "ok"},
        "lamps": [{"hours": 1200 + seq // 100, "on": power == "on"}], "filter_hours": 300, "input": "31",
        "av_mute": False, "power_w": None, "outlets": [],
        "identity": {"manufacturer": "EPSON", "model": "EB-2250U", "serial": f"SN-{agent_id}-{device_id}",
                     "firmware": "1.0", "name": device_id, "mac": None, "pjlink_class": "2"},
        "observed_at": t, "detail": None,
    })


def _publish_worker(port: int, jobs: list[tuple[str, list[str]]]) -> int:
    """One publishing process: QoS 1 with a window of unacknowledged messages (mqtt.md §1.5)."""
    window = threading.BoundedSemaphore(1000)
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(100)
    client.on_connect = lambda *a: connected.set()
    client.on_publish = lambda *a: window.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(10)
    sent = 0
    for topic, lines in jobs:
        for line in lines:
            window.acquire()
            info = client.publish(topic, line, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise RuntimeError(f"publish refused: {mqtt.error_string(info.rc)}")
            sent += 1
    for _ in range(1000):  # wait for the last PUBACKs
        window.acquire()
    client.disconnect()
    client.loop_stop()
    return sent


def publish_backlog(port: int, total: int, agents: int, per_agent: int, workers: int = 2) -> float:
    """Pre-publish the backlog with paho QoS 1 publishers in `workers` processes; returns seconds taken."""
    from concurrent.futures import ProcessPoolExecutor

    per_device = total // (agents * per_agent)
    groups: list[list[tuple[str, list[str]]]] = [[] for _ in range(workers)]
    for a in range(agents):
        agent_id = f"bench-{a:03d}"
        lines_by_device = []
        for d in range(per_agent):
            device_id = f"pj{d}"
            lines = []
            for i in range(per_device):
                seq = i * per_agent + d + 1  # per-agent seq, strictly increasing across its devices
                # A state change every 50 polls; the rest are repeats (as in a real fleet).
                lines.append(state_line(agent_id, device_id, seq, seq * 30.0, "on" if (i // 50) % 2 else "standby"))
            lines_by_device.append((topics.state_topic(agent_id, device_id), lines))
        groups[a % workers].extend(lines_by_device)  # one agent's messages stay in one publisher, in order
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        sent = sum(pool.map(_publish_worker, [port] * workers, groups))
    if sent != total:
        raise RuntimeError(f"published {sent} of {total}")
    return time.perf_counter() - started


def register_bare(port: int) -> mqtt.Client:
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_subscribe = lambda *a: done.set()
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([(f, 1) for f in INGEST_FILTERS])
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=True, properties=props)
    client.loop_start()
    if not done.wait(10):
        raise RuntimeError("bare subscriber could not subscribe")
    client.disconnect()
    client.loop_stop()
    return client


def drain_bare(port: int, total: int) -> float:
    received = 0
    finished = threading.Event()
    first: list[float] = []

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        json.loads(msg.payload)
        received += 1
        if received >= total:
            finished.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 1000
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    if not finished.wait(600):
        raise RuntimeError(f"bare subscriber got only {received} of {total}")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return total / elapsed


def controller_settings(port: int, db_path: Path, rules: bool):
    return load_settings(demo=True, database_url=f"sqlite:///{db_path}", broker_url=f"mqtt://127.0.0.1:{port}",
                         broker_username=None, client_id=f"bench-controller-{'rules' if rules else 'norules'}",
                         api_port=0, ticket_rules=rules)


def register_controller(port: int, db_path: Path, rules: bool) -> None:
    """Create the controller's persistent session (and its subscriptions), then leave."""
    ctl = Controller(controller_settings(port, db_path, rules))
    ctl.start()
    time.sleep(0.5)  # let the SUBACK land; the session keeps the subscriptions
    ctl.stop()


def drain_controller(port: int, db_path: Path, total: int, rules: bool) -> float:
    """The whole controller process (ingest + API) reconnects to its backlog; rows committed per second."""
    ctl = Controller(controller_settings(port, db_path, rules), migrate=False, tune_gc=True)  # as `avfleet controller`
    started = time.perf_counter()
    ctl.start()
    deadline = time.monotonic() + 900
    while ctl.ingest.committed < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"controller committed only {ctl.ingest.committed} of {total}")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    with ctl.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM received_messages")).scalar_one()
    ctl.stop()
    if stored != total:
        raise RuntimeError(f"database holds {stored} messages, expected {total}")
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--devices-per-agent", type=int, default=10)
    args = parser.parse_args()
    total = args.messages - args.messages % (args.agents * args.devices_per_agent)
    with tempfile.TemporaryDirectory(prefix="avfleet-bench-") as tmp:
        workdir = Path(tmp)
        broker, port = start_broker(workdir)
        try:
            register_bare(port)
            register_controller(port, workdir / "bench-norules.db", False)
            register_controller(port, workdir / "bench-rules.db", True)
            took = publish_backlog(port, total, args.agents, args.devices_per_agent)
            print(f"backlog: {total} QoS 1 state messages from {args.agents} agents x {args.devices_per_agent} "
                  f"devices pre-published in {took:.1f}s", flush=True)
            bare = drain_bare(port, total)
            print(f"bare paho drain: {bare:,.0f} msg/s", flush=True)
            ctl = drain_controller(port, workdir / "bench-norules.db", total, False)
            print(f"controller ingest, ticket rules off (SQLite WAL, committed): {ctl:,.0f} msg/s", flush=True)
            ruled = drain_controller(port, workdir / "bench-rules.db", total, True)
            print(f"controller ingest, ticket rules on (SQLite WAL, committed): {ruled:,.0f} msg/s", flush=True)
        finally:
            broker.terminate()
            broker.wait(10)
    print(f"ingest {total} msgs: bare paho {bare:,.0f} msg/s, controller {ctl:,.0f} rows/s committed "
          f"(ratio {ctl / bare:.2f}), with ticket rules {ruled:,.0f} rows/s (ratio {ruled / bare:.2f}; "
          f"rules on / off {ruled / ctl:.2f})")


if __name__ == "__main__":
    main()
