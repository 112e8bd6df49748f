"""Fault latency: from an emulated projector raising a lamp error to its ticket visible through the API.

One run, two modes, each over the same number of faults (default 200: 40 projectors x 5 rounds):
- polling: the agent polls every 10 s and hears no notifications;
- notifications: the same, but each projector (on its own loopback address, so a notification names
  one device) pushes PJLink Class 2 ERST notifications to the agent, which polls that device at once.
Each fault is injected at a random moment within the poll interval; its latency is the time until
`GET /api/v1/tickets?kind=lamp&state=open` lists the device (the API polled every 50 ms). Between
rounds the tickets are resolved through the API and the faults cleared; the next round's fault on
the same device reopens its ticket. Real parts: Mosquitto, `avfleet agent` in a subprocess, the
controller (ingest writer process, SQLite) in this process, the PJLink emulator speaking real bytes.

Usage: .venv/bin/python benchmarks/fault_latency.py [--projectors N] [--rounds R] [--interval S]
The last line prints p50 and p99 of both modes against their targets (interval + 1 s; 1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from avfleet.controller.app import Controller
from avfleet.controller.broker.launcher import Mosquitto, loopback_config
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.loop_thread import LoopThread

TOKEN = "bench-token-0123456789abcdef"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def projectors(count: int):
    """`count` emulated Class 2 projectors, each alone on 127.0.1.<n>."""
    async with contextlib.AsyncExitStack() as stack:
        fleets = []
        for n in range(count):
            fleet = EmulatedFleet.from_count(1, host=f"127.0.1.{n + 1}", pjlink_class=2, manufacturer="EPSON",
                                             model="EB-2250U", power="on", warmup_s=0, idle_close_s=None)
            fleets.append(await stack.enter_async_context(fleet))
        yield [f[0] for f in fleets]


def agent_config(path: Path, broker_url: str, urls: list[str], interval: float, notify_port: int | None) -> Path:
    data = {
        "version": 1, "agent_id": "bench-latency",
        "site": {"municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12"},
        "broker": {"url": broker_url},
        "devices": [{"id": f"pj-{i:02d}", "url": url} for i, url in enumerate(urls)],
        "polling": {"interval_s": interval},
        "outbox": {"path": str(path.with_suffix(".outbox"))},
        "discovery": {"notifications": notify_port is not None, "notification_port": notify_port or 0,
                      "bind": "127.0.0.1"},
    }
    path.write_text(json.dumps(data))
    return path


def run_mode(workdir: Path, broker: Mosquitto, *, count: int, rounds: int, interval: float,
             notifications: bool) -> list[float]:
    mode = "notifications" if notifications else "polling"
    settings = load_settings(demo=True, database_url=f"sqlite:///{workdir / f'{mode}.db'}", broker_url=broker.url,
                             broker_username=None, api_port=0, api_tokens=[TOKEN], client_id=f"bench-{mode}",
                             ticket_resolve_quiet_s=86_400, notify_min_interval_s=0)
    controller = Controller(settings)
    controller.start()
    fleet_thread = LoopThread(lambda: projectors(count), name="emulators", start_timeout=60)
    emulators = fleet_thread.start()
    notify_port = free_port(socket.SOCK_DGRAM) if notifications else None
    if notify_port:
        for e in emulators:
            fleet_thread.call(lambda e=e: e.register_notify("127.0.0.1", notify_port))
    config = agent_config(workdir / f"{mode}-agent.json", broker.url, [e.url() for e in emulators], interval,
                          notify_port)
    agent = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "agent", "--config", str(config)],
                             stdout=subprocess.DEVNULL, stderr=(workdir / f"{mode}-agent.log").open("wb"),
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    api = httpx.Client(base_url=controller.dashboard_url.rstrip("/") + "/api/v1",
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    latencies: list[float] = []
    rng = random.Random(7)
    try:
        wait(lambda: sum(d["availability"] == "online" for d in api.get("/devices?limit=1000").json()["items"])
             == count, 120, "every projector online")
        for _round in range(rounds):
            offsets = sorted((rng.uniform(0, interval), i) for i in range(count))
            injected: dict[str, float] = {}
            seen: dict[str, float] = {}
            started = time.monotonic()
            pending = list(offsets)
            while len(seen) < count:
                now = time.monotonic()
                while pending and now - started >= pending[0][0]:
                    _, i = pending.pop(0)
                    fleet_thread.call(lambda i=i: emulators[i].set_error("lamp", 2))
                    injected[f"pj-{i:02d}"] = time.monotonic()
                for t in api.get("/tickets", params={"kind": "lamp", "state": "open", "limit": 1000}).json()["items"]:
                    if t["device_id"] in injected and t["device_id"] not in seen:
                        seen[t["device_id"]] = time.monotonic()
                if time.monotonic() - started > interval * 4 + 30:
                    raise RuntimeError(f"{mode}: only {len(seen)} of {count} faults became tickets")
                time.sleep(0.05)
            latencies += [seen[d] - injected[d] for d in seen]
            for t in api.get("/tickets", params={"kind": "lamp", "state": "open", "limit": 1000}).json()["items"]:
                api.post(f"/tickets/{t['id']}/resolve")
            for e in emulators:
                fleet_thread.call(lambda e=e: e.set_error("lamp", 0))
            wait(lambda: not api.get("/devices", params={"fault": "lamp", "limit": 1000}).json()["total"],
                 interval * 3 + 30, "faults cleared")
        return latencies
    finally:
        api.close()
        agent.terminate()
        agent.wait(20)
        fleet_thread.stop()
        controller.stop()


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projectors", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="avfleet-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(loopback_config(port))
        broker = Mosquitto(conf, port, log_path=workdir / "mosquitto.log").start()
        try:
            for notifications in (False, True):
                name = "notifications" if notifications else "polling"
                values = run_mode(workdir, broker, count=args.projectors, rounds=args.rounds,
                                  interval=args.interval, notifications=notifications)
                results[name] = values
                print(f"{name}: {len(values)} faults, p50 {percentile(values, 50):.2f} s, "
                      f"p99 {percentile(values, 99):.2f} s, max {max(values):.2f} s", flush=True)
        finally:
            broker.stop()
    poll, note = results["polling"], results["notifications"]
    print(f"fault latency over {len(poll)} faults: polling every {args.interval:.0f} s p50 "
          f"{percentile(poll, 50):.2f} s p99 {percentile(poll, 99):.2f} s (target <= {args.interval + 1:.0f} s); "
          f"with notifications p50 {percentile(note, 50):.2f} s p99 {percentile(note, 99):.2f} s (target <= 1 s)")


if __name__ == "__main__":
    main()
