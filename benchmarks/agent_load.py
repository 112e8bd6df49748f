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

SNMP mix (`--snmp 100`): that many SNMP devices as well (half generic displays, a quarter Raritan
and a quarter APC PDUs with 8 outlets, snapshots of the project's emulated devices served by one
snmpsim process), and the agent is run twice on the same fleet, one run after the other:
"unshared" (the code path before the shared engine: every SNMP poller builds its own pysnmp engine
and loads the profile library again) and "shared" (one engine and one library per agent, as
`avfleet agent` does). Both runs use the same small launcher (`python -c`, the agent of
avfleet.agent.runtime without the CLI), so the two differ only in that. Each run also gives the
agent's CPU seconds from start until every device had reported once (start-up).

    .venv/bin/python benchmarks/agent_load.py --devices 300 --snmp 100 --duration 60

Targets: at most 10 % of one core and 80 MB RSS. The last line holds the figures (both runs for
the SNMP mix).
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
    def __init__(self, port: int, agent_id: str = AGENT_ID) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.count = 0
        self.states = 0
        self.availability: dict[str, str] = {}  # device id -> availability of its latest state
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"counter-{agent_id}", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *_a: c.subscribe(f"avfleet/v1/agent/{agent_id}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c, _ud, message) -> None:
        with self.lock:
            self.count += 1
            if message.topic.endswith("/state"):
                self.states += 1
                with contextlib.suppress(ValueError, KeyError):
                    state = json.loads(message.payload)
                    self.availability[state["device_id"]] = state["availability"]

    def read(self) -> tuple[int, int]:
        with self.lock:
            return self.count, self.states

    def seen(self) -> int:
        """Devices that reported at least once."""
        with self.lock:
            return len(self.availability)

    def online(self, prefix: str = "") -> int:
        with self.lock:
            return sum(1 for d, a in self.availability.items() if d.startswith(prefix) and a == "online")

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


# The agent for the SNMP mix: avfleet.agent.runtime's Agent with SIGTERM handling, as `avfleet agent` runs
# it. "unshared" drops the shared engine and library the agent offers its SNMP pollers, so each builds
# its own: the code path before they were shared.
AGENT_LAUNCHER = """
import asyncio, logging, signal, sys
from avfleet.agent.config import load_config
from avfleet.agent.runtime import Agent
from avfleet.protocols.factory import make_poller

def unshared(device_id, target, *, engine=None, library=None, **options):
    return make_poller(device_id, target, **options)

async def main(config, shared):
    agent = Agent(config, poller_factory=None if shared else unshared)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stop)
    await agent.run()

config = load_config(sys.argv[1])
logging.basicConfig(level=config.log_level)
asyncio.run(main(config, sys.argv[2] == "shared"))
"""


def serve_snmp(count: int):
    """`count` SNMP devices on one snmpsim: half displays, a quarter Raritan PDUs, a quarter APC PDUs."""
    from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu
    from avfleet.emulator.snmp_sim import SnmpSimRunner
    from avfleet.profiles.library import load_library

    library = load_library()
    sim = SnmpSimRunner()
    for i in range(count):
        community = f"snmp-{i:03d}"
        if i % 2 == 0:
            device = EmulatedDisplay(library.get("generic-display"), community,
                                     mac=f"02:00:5e:00:{i // 256:02x}:{i % 256:02x}")
        else:
            pdu = "raritan-px" if i % 4 == 1 else "apc-rack-pdu"
            device = EmulatedPdu(library.get(pdu), community, outlets=[(f"o{n}", lambda n=n: 40.0 + n)
                                                                        for n in range(8)])
        sim.add_text(community, device.snmprec())
    sim.start(timeout=300)
    return sim, [f"snmp://{c}@{sim.host}:{sim.port}" for c in sim.communities]


def run_agent(args: argparse.Namespace, workdir: Path, broker_port: int, ports: list[int], snmp_urls: list[str],
              mode: str | None) -> dict:
    """One agent run; mode None = `avfleet agent` as on a Pi, else the launcher, 'shared' or 'unshared'."""
    agent_id = AGENT_ID if mode is None else f"{AGENT_ID}-{mode}"
    counter = Counter(broker_port, agent_id)
    outbox = workdir / f"outbox-{agent_id}.sqlite"
    devices = [{"id": f"pj-{i:03d}", "url": f"pjlink://127.0.0.1:{port}"} for i, port in enumerate(ports)]
    devices += [{"id": f"snmp-{i:03d}", "url": url} for i, url in enumerate(snmp_urls)]
    config = {
        "version": 1, "agent_id": agent_id,
        "site": {"municipality": "Jönköping", "school": "Benchmark", "room": "B1"},
        "broker": {"url": f"mqtt://127.0.0.1:{broker_port}"},
        "devices": devices,
        "polling": {"interval_s": args.interval, "heartbeat_s": 300},
        "discovery": {"notifications": False},
        "outbox": {"path": str(outbox)},
        "health": {"interval_s": 60},
        "log_level": "WARNING",
    }
    config_path = workdir / f"{agent_id}.yaml"
    config_path.write_text(json.dumps(config, ensure_ascii=False))
    log_path = workdir / f"{agent_id}.log"
    if mode is None:
        command = [str(Path(sys.executable).parent / "avfleet"), "agent", "--config", str(config_path)]
    else:
        command = [sys.executable, "-c", AGENT_LAUNCHER, str(config_path), mode]
    started = time.monotonic()
    agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_path.open("wb"))
    try:
        # Warm-up: every device polled once (its first state published), plus one interval to settle.
        deadline = time.monotonic() + args.warmup_timeout + args.interval
        while counter.seen() < len(devices) and time.monotonic() < deadline:
            if agent.poll() is not None:
                raise RuntimeError(f"agent exited: {log_path.read_text()}")
            time.sleep(0.2)
        startup_s, startup_cpu_s = time.monotonic() - started, proc_cpu_s(agent.pid)
        first_seen = counter.seen()
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
    wall = wall1 - wall0
    return {
        "mode": mode or "avfleet agent", "devices": len(devices), "first_seen": first_seen,
        "snmp_online": counter.online("snmp-"), "startup_s": startup_s, "startup_cpu_s": startup_cpu_s,
        "wall": wall, "cpu_pct": 100 * (cpu1 - cpu0) / wall, "peak_rss_mb": peak_rss_mb,
        "msgs_per_s": (msgs1 - msgs0) / wall, "bytes_per_msg": (io1 - io0) / max(seq1 - seq0, 1), "log": log_path,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=500, help="PJLink projectors")
    parser.add_argument("--snmp", type=int, default=0, help="SNMP displays and PDUs (runs unshared, then shared)")
    parser.add_argument("--modes", default="unshared,shared", help="with --snmp: which runs, in order")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of every device, seconds")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds measured after the warm-up")
    parser.add_argument("--warmup-timeout", type=float, default=60.0,
                        help="seconds to wait for every device's first state (raised to 300 with --snmp)")
    parser.add_argument("--changes-per-s", type=float, default=2.0, help="projector power changes per second")
    args = parser.parse_args()
    if args.snmp:
        args.warmup_timeout = max(args.warmup_timeout, 300.0)
    modes: list[str | None] = [m.strip() for m in args.modes.split(",")] if args.snmp else [None]
    if any(m not in (None, "shared", "unshared") for m in modes):
        parser.error("--modes takes shared and/or unshared")

    workdir = Path(tempfile.mkdtemp(prefix="avfleet-agent-load-", dir="/var/tmp"))
    parent, child = multiprocessing.Pipe()
    emulators = multiprocessing.Process(target=serve_emulators, args=(args.devices, args.changes_per_s, child))
    emulators.start()
    ports = parent.recv()
    broker, broker_port = start_mosquitto(workdir)
    sim, snmp_urls = serve_snmp(args.snmp) if args.snmp else (None, [])
    results = []
    try:
        for mode in modes:
            results.append(run_agent(args, workdir, broker_port, ports, snmp_urls, mode))
    finally:
        parent.send("stop")
        emulators.join(30)
        broker.terminate()
        broker.wait(10)
        if sim is not None:
            sim.cleanup()
    for r in results:
        print(f"{r['mode']}: devices reported at least once: {r['first_seen']}/{r['devices']}, SNMP online "
              f"{r['snmp_online']}/{args.snmp}; start-up {r['startup_s']:.1f} s wall, {r['startup_cpu_s']:.1f} s CPU; "
              f"log: {r['log']}")
    if args.snmp:
        figures = " | ".join(
            f"{r['mode']}: startup_cpu={r['startup_cpu_s']:.1f}s cpu={r['cpu_pct']:.1f}% "
            f"peak_rss={r['peak_rss_mb']:.1f}MB msgs_per_s={r['msgs_per_s']:.2f}" for r in results
        )
        print(f"agent_load projectors={args.devices} snmp={args.snmp} interval={args.interval:g}s "
              f"measured={results[0]['wall']:.0f}s {figures}")
    else:
        r = results[0]
        ok = r["cpu_pct"] <= 10 and r["peak_rss_mb"] <= 80
        print(
            f"agent_load devices={args.devices} interval={args.interval:g}s measured={r['wall']:.0f}s "
            f"cpu={r['cpu_pct']:.1f}% of one core peak_rss={r['peak_rss_mb']:.1f}MB msgs_per_s={r['msgs_per_s']:.2f} "
            f"disk_bytes_per_msg={r['bytes_per_msg']:.0f} (targets cpu<=10% rss<=80MB: {'met' if ok else 'NOT met'})"
        )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
