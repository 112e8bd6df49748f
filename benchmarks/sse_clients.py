"""What 50 dashboard clients on the live stream cost the controller: its CPU with and without them.

`avfleet controller` runs as a subprocess (with its ingest writer process) on SQLite beside a Mosquitto
on a loopback port. A publisher plays 20 agents with 10 projectors each, changing `--rate` devices per
second, for two phases of `--seconds` each: with no stream client, then with `--clients` clients on
`GET /api/v1/stream` (httpx, one thread each, as many browsers would hold it), counting the device
events they get. The controller's CPU seconds (its process and the writer's, from psutil) per phase
and their difference per client are printed on the last line.

Usage: .venv/bin/python benchmarks/sse_clients.py [--clients 50] [--seconds 30] [--rate 20]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psutil

from avfleet.controller.broker.launcher import Mosquitto, loopback_config
from tests.controller import support
from tests.support.components import free_port

TOKEN = "bench-sse-token-0123456789abcdef"
AGENTS, DEVICES = 20, 10


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def start_controller(workdir: Path, broker_port: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cfg = workdir / "controller.yaml"
    cfg.write_text(f"database_url: sqlite:///{workdir / 'sse.db'}\nbroker_url: mqtt://127.0.0.1:{broker_port}\n"
                   f"broker_password: anonymous-broker-ignores-this\napi_tokens: ['{TOKEN}']\napi_port: {port}\n"
                   "client_id: bench-sse\nagent_lost_after_s: 86400\n")
    proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "controller", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=(workdir / "controller.log").open("wb"), text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("broker:"):
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, f"http://127.0.0.1:{port}"


class Traffic(threading.Thread):
    """`rate` state changes per second across the fleet until stopped."""

    def __init__(self, publisher: support.Publisher, rate: float) -> None:
        super().__init__(daemon=True)
        self.publisher, self.rate, self.stopping = publisher, rate, threading.Event()
        self.seq = {f"bench-{a:02d}": 100 for a in range(AGENTS)}
        self.sent = 0

    def run(self) -> None:
        n = 0
        while not self.stopping.wait(1 / self.rate):
            agent = f"bench-{n % AGENTS:02d}"
            device = f"pj{(n // AGENTS) % DEVICES}"
            self.seq[agent] += 1
            self.publisher.publish(*support.state(agent, device, self.seq[agent], at=time.time() - 1.767e9,
                                                  power="on" if (n // (AGENTS * DEVICES)) % 2 else "standby"))
            self.sent += 1
            n += 1


def stream_client(base: str, stop: threading.Event, counts: list[int], i: int) -> None:
    try:
        with httpx.Client(timeout=None) as client, client.stream(
                "GET", f"{base}/api/v1/stream", headers={"Authorization": f"Bearer {TOKEN}"}) as res:
            for line in res.iter_lines():
                if line.startswith("event: device"):
                    counts[i] += 1
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():
            raise


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="avfleet-sse-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(loopback_config(port))
        broker = Mosquitto(conf, port, log_path=workdir / "mosquitto.log").start()
        controller, base = start_controller(workdir, port)
        ctl = psutil.Process(controller.pid)
        try:
            publisher = support.Publisher(port, client_id="bench-sse-agents")
            for a in range(AGENTS):
                agent = f"bench-{a:02d}"
                publisher.publish(*support.birth(agent, 1, municipality="Jönköping", school=f"Skola {a}", room="A1",
                                                 devices=[f"pj{d}" for d in range(DEVICES)]))
                publisher.publish(*support.status(agent, 2, "online"))
            publisher.flush()
            traffic = Traffic(publisher, args.rate)
            traffic.start()
            time.sleep(3)  # the fleet known, the ingest warm
            before = cpu_seconds(ctl)
            time.sleep(args.seconds)
            idle_cpu = cpu_seconds(ctl) - before

            stop = threading.Event()
            counts = [0] * args.clients
            clients = [threading.Thread(target=stream_client, args=(base, stop, counts, i), daemon=True)
                       for i in range(args.clients)]
            for c in clients:
                c.start()
            time.sleep(3)  # every client connected and past its hello
            sent_before, events_before = traffic.sent, sum(counts)
            before = cpu_seconds(ctl)
            time.sleep(args.seconds)
            busy_cpu = cpu_seconds(ctl) - before
            changes, events = traffic.sent - sent_before, sum(counts) - events_before
        finally:
            for flag in (locals().get("stop"), getattr(locals().get("traffic"), "stopping", None)):
                if flag is not None:
                    flag.set()
            controller.kill()
            controller.wait(10)
            broker.stop()
    per_client = (busy_cpu - idle_cpu) / args.clients / args.seconds * 100
    print(f"{args.seconds:.0f} s at {args.rate:.0f} changes/s: controller CPU {idle_cpu:.2f} s without clients, "
          f"{busy_cpu:.2f} s with {args.clients} stream clients ({changes} changes, {events} device events "
          f"delivered, {events / max(1, changes * args.clients):.2f} per change and client); "
          f"{per_client:.2f}% of a core per client")


if __name__ == "__main__":
    main()
