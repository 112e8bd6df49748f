"""A three-node NATS cluster speaking MQTT 3.1.1 on loopback (Debian's nats-server), for the failover tests.

Each node has its own client, cluster and MQTT port and its own JetStream directory; MQTT in NATS keeps
sessions, retained messages and QoS 1 messages in JetStream, replicated across the cluster, which is
what lets an agent reconnect to another node without losing anything the dead node acknowledged.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.components import free_ports, require_binary


@dataclass
class NatsNode:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    workdir: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def config(self, routes: list[int]) -> str:
        route_urls = ", ".join(f"nats://127.0.0.1:{p}" for p in routes)
        return (f"server_name: {self.name}\nlisten: 127.0.0.1:{self.client_port}\n"
                f"jetstream {{ store_dir: \"{self.workdir / 'js'}\", max_memory_store: 64MB, max_file_store: 512MB }}\n"
                f"cluster {{ name: avfleet, listen: 127.0.0.1:{self.cluster_port}, routes: [{route_urls}] }}\n"
                f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port} }}\n")


class NatsCluster:
    """Three nodes; `start()` returns once every node accepts an MQTT session (JetStream has a leader)."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.binary = require_binary("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")
        ports = free_ports(3 * size)
        self.nodes = [NatsNode(f"n{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], workdir / f"n{i + 1}")
                      for i in range(size)]

    def start(self, timeout: float = 60.0) -> NatsCluster:
        routes = [n.cluster_port for n in self.nodes]
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)
            conf = node.workdir / "nats.conf"
            conf.write_text(node.config(routes))
            log = (node.workdir / "nats.log").open("ab")
            node.proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while not mqtt_session_works(node.mqtt_port):
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"nats-server {node.name} exited: see {node.workdir / 'nats.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server {node.name} did not accept MQTT sessions in {timeout:.0f} s")
                time.sleep(0.2)
        return self

    def node_of_port(self, port: int) -> NatsNode:
        return next(n for n in self.nodes if n.mqtt_port == port)

    def kill(self, node: NatsNode) -> None:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(10)

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(5)


def mqtt_session_works(port: int) -> bool:
    """A persistent MQTT 3.1.1 session can be opened (NATS answers CONNACK only once JetStream is ready)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{port}", protocol=mqtt.MQTTv311,
                         clean_session=False)
    try:
        client.connect("127.0.0.1", port, keepalive=5)
    except OSError:
        return False
    ok: list[bool] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: ok.append(not reason.is_failure)
    deadline = time.monotonic() + 5
    while not ok and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    return bool(ok and ok[0])
