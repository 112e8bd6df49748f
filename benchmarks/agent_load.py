"""One agent, 500 emulated projectors polled every 10 s, for 2 minutes: what does it cost the Pi?

Three processes besides this one: a Mosquitto on a free loopback port, the emulated fleet (its own
process, so its CPU is not the agent's; Class 2 projectors, a few of which change power state every
second so there is something to report), and the agent itself, run as `avfleet agent --config FILE`
exactly as on a Pi. This process subscribes to the agent's topics and counts what arrives.

Measured on the agent process, over the run after a warm-up (the first poll of every device):
- CPU share of one core: (utime + stime) from /proc/PID/stat over wall time, all threads;
- peak RSS: VmHWM from /proc/PID/status;
- messages per second received by the subscriber from the agent;
- bytes written to disk per message: write_bytes from /proc/PID/io (what the agent made the kernel
  send to storage: outbox commits, WAL and checkpoints) over the messages it queued.

    .venv/bin/python benchmarks/agent_load.py [--devices 500] [--interval 10] [--duration 120]

Targets: at most 10 % of one core and 80 MB RSS. The last line holds the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

AGENT_ID = "bench-agent"


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else min(needed, hard),
                                                    hard))


def serve_emulators(count: int, changes_per_s: float, conn: Connection) -> None:
    raise_fd_limit(count * 4 + 256)

    async def main() -> None:
        from avfleet.emulator.pjlink_fleet import EmulatedFleet

        fleet = EmulatedFleet.from_count(count, pjlink_class=2, reply_delay_s=(0.005, 0.02), lamp_hours=1000,
                                         seed=7, warmup_s=1.0, cooldown_s=1.0)
        await fleet.start()
        conn.send([e.port for e in fleet])
        rng = random.Random(11)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), stop.set)
        while not stop.is_set():
            emu = fleet[rng.randrange(count)]
            emu.press_power(emu.power.name == "standby")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0 / changes_per_s if changes_per_s > 0 else 3600)
        await fleet.stop()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


class Counter:
    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.count = 0
        self.states = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-counter", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_a: c.subscribe(f"avfleet/v1/agent/{AGENT_ID}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c, _ud, message) -> None:
        with self.lock:
            self.count += 1
            if message.topic.endswith("/state"):
                self.states += 1

    def read(self) -> tuple[int, int]:
        with self.lock:
            return self.count, self.states

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def proc_write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def outbox_seq(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # The newest seq: the table's highest row (kept after its ack) or the counter written at reservations.
        row = db.execute("SELECT MAX(seq) FROM messages").fetchone()
        meta = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return max(int(row[0] or 0), int(meta[0]) if meta else 0)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of every device, seconds")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds measured after the warm-up")
    parser.add_argument("--changes-per-s", type=float, default=2.0, help="projector power changes per second")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="avfleet-agent-load-", dir="/var/tmp"))
    parent, child = multiprocessing.Pipe()
    emulators = multiprocessing.Process(target=serve_emulators, args=(args.devices, args.changes_per_s, child))
    emulators.start()
    ports = parent.recv()
    broker, broker_port = start_mosquitto(workdir)
    counter = Counter(broker_port)
    outbox = workdir / "outbox.sqlite"
    config = {
        "version": 1, "agent_id": AGENT_ID,
        "site": {"municipality": "Jönköping", "school": "Benchmark", "room": "B1"},
        "broker": {"url": f"mqtt://127.0.0.1:{broker_port}"},
        "devices": [{"id": f"pj-{i:03d}", "url": f"pjlink://127.0.0.1:{port}"} for i, port in enumerate(ports)],
        "polling": {"interval_s": args.interval, "heartbeat_s": 300},
        "discovery": {"notifications": False},
        "outbox": {"path": str(outbox)},
        "health": {"interval_s": 60},
        "log_level": "WARNING",
    }
    config_path = workdir / "agent.yaml"
    config_path.write_text(json.dumps(config, ensure_ascii=False))
    avfleet = Path(sys.executable).parent / "avfleet"
    agent = subprocess.Popen([str(avfleet), "agent", "--config", str(config_path)],
                             stdout=subprocess.DEVNULL, stderr=(workdir / "agent.log").open("wb"))
    try:
        # Warm-up: every device polled once (its first state published), plus one interval to settle.
        deadline = time.monotonic() + 60 + args.interval
        while counter.read()[1] < args.devices and time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited: {(workdir / 'agent.log').read_text()}")
            time.sleep(0.2)
        first_states = counter.read()[1]
        time.sleep(min(args.interval, 10))
        cpu0, wall0 = proc_cpu_s(agent.pid), time.monotonic()
        io0, msgs0, seq0 = proc_write_bytes(agent.pid), counter.read()[0], outbox_seq(outbox)
        time.sleep(args.duration)
        cpu1, wall1 = proc_cpu_s(agent.pid), time.monotonic()
        io1, msgs1, seq1 = proc_write_bytes(agent.pid), counter.read()[0], outbox_seq(outbox)
        peak_rss_mb = proc_status_kb(agent.pid, "VmHWM") / 1024
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
    finally:
        if agent.poll() is None:
            agent.kill()
        counter.stop()
        parent.send("stop")
        emulators.join(30)
        broker.terminate()
        broker.wait(10)
    wall = wall1 - wall0
    cpu_pct = 100 * (cpu1 - cpu0) / wall
    received = msgs1 - msgs0
    queued = max(seq1 - seq0, 1)
    bytes_per_msg = (io1 - io0) / queued
    ok = cpu_pct <= 10 and peak_rss_mb <= 80
    print(f"devices polled at least once: {first_states}/{args.devices}; log: {workdir / 'agent.log'}")
    print(
        f"agent_load devices={args.devices} interval={args.interval:g}s measured={wall:.0f}s "
        f"cpu={cpu_pct:.1f}% of one core peak_rss={peak_rss_mb:.1f}MB msgs_per_s={received / wall:.2f} "
        f"disk_bytes_per_msg={bytes_per_msg:.0f} (targets cpu<=10% rss<=80MB: {'met' if ok else 'NOT met'})"
    )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
