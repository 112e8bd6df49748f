"""Power-off fan-out: one schedule run over 5,000 emulated projectors behind 50 agents.

Real parts: Mosquitto on loopback, the controller in this process (its ingest writer in its own
process, SQLite), 50 `avfleet` agents and 5,000 PJLink emulators in child processes (one asyncio
loop each, one agent and its 100 projectors per process by default), each emulator answering after
5-50 ms. Every projector is on; one `POST /api/v1/schedules/{id}/run` sends every power_off through
the commands domain. Measured: the time from the POST until the run report is finished (every
result in), and the controller's CPU seconds over that time (this process and its writer process;
the fleet's processes are not counted).

Usage: .venv/bin/python benchmarks/poweroff_fanout.py [--projectors 5000] [--agents 50]
The last line prints the figures against the target (all results in within 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN = "bench-token-0123456789abcdef"
TARGET_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fleet_child(spec: dict) -> None:
    """The child: emulators and agents in one loop; prints "ready" once every agent is connected."""
    from avfleet.agent.config import AgentConfig
    from avfleet.agent.runtime import Agent
    from avfleet.emulator.pjlink_fleet import EmulatedFleet

    per, first, agents_n = spec["per_agent"], spec["first_agent"], spec["agents"]
    count = per * agents_n
    fleet = EmulatedFleet.from_count(count, pjlink_class=1, manufacturer="EPSON", model="EB-2250U", power="on",
                                     warmup_s=0, cooldown_s=0, reply_delay_s=(0.005, 0.05))
    await fleet.start()
    agents = []
    for n in range(agents_n):
        a = first + n
        devices = [{"id": f"pj-{a * per + i:05d}", "url": fleet.emulators[n * per + i].url()} for i in range(per)]
        agents.append(Agent(AgentConfig.model_validate({
            "version": 1, "agent_id": f"bench-agent-{a:02d}",
            "site": {"municipality": "Jönköping", "school": f"Skola {a // 5}", "room": f"R{a:02d}"},
            "broker": {"url": spec["broker_url"]},
            "devices": devices,
            # A slow poll: the fan-out, not the polling, is measured (a command polls its device at once).
            "polling": {"interval_s": 600, "failure_threshold": 2, "max_backoff_s": 30},
            "discovery": {"notifications": False},
            "outbox": {"path": str(Path(spec["dir"]) / f"agent-{a:02d}.outbox.sqlite")},
            "health": {"interval_s": 600},
        })))
    runs = [asyncio.create_task(agent.run()) for agent in agents]
    await asyncio.wait_for(asyncio.gather(*(agent.ready.wait() for agent in agents)), timeout=600)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for agent in agents:
        agent.stop()
    await asyncio.gather(*runs, return_exceptions=True)
    await fleet.stop()


IDLE = {"wait", "select", "get", "poll", "_wait_for_tstate_lock", "run_forever", "_run_once", "accept", "recv",
        "readline", "read", "recv_bytes", "_recv_bytes", "_recv", "sleep"}


class StackSampler:
    """A poor man's py-spy (not installed): every 10 ms, each thread's innermost avfleet/paho/sqlalchemy
    frame is counted, so the report says where this process's threads spend the run."""

    def __init__(self, every_s: float = 0.01) -> None:
        import collections
        import threading

        self.counts: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import threading

        me = threading.get_ident()
        names = {}
        while not self._stop.wait(self._every):
            names = {t.ident: t.name for t in threading.enumerate()} if len(names) != threading.active_count() \
                else names
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                where, f = None, frame
                while f is not None:
                    path = f.f_code.co_filename
                    if "avfleet" in path and "/.venv/" not in path:
                        where = f"{Path(path).name}:{f.f_code.co_name}"
                        break
                    f = f.f_back
                inner = f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
                if frame.f_code.co_name in IDLE:
                    continue
                self.counts[f"{names.get(ident, ident)} | {where} | {inner}"] += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, top: int = 25) -> str:
        total = sum(self.counts.values()) or 1
        return "\n".join(f"{n * 100 / total:5.1f}%  {key}" for key, n in self.counts.most_common(top))


def wait(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projectors", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--agents-per-process", type=int, default=1,
                        help="agents (each with its emulators) per fleet process")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="sample this process's threads' stacks during the run and print where time went")
    parser.add_argument("--fleet-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet_child:
        asyncio.run(fleet_child(json.loads(args.fleet_child)))
        return

    import httpx
    import psutil
    import sqlalchemy as sa

    from avfleet.controller.app import Controller
    from avfleet.controller.broker.launcher import Mosquitto, loopback_config
    from avfleet.controller.commands.models import CommandRecord
    from avfleet.controller.fleet.models import Device
    from avfleet.controller.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="avfleet-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(loopback_config(port))
        broker = Mosquitto(conf, port, log_path=workdir / "mosquitto.log").start()
        settings = load_settings(demo=True, database_url=f"sqlite:///{workdir / 'bench.db'}", broker_url=broker.url,
                                 broker_username=None, api_port=0, api_tokens=[TOKEN], client_id="bench-fanout",
                                 schedule_command_ttl_s=120, agent_lost_after_s=3600)
        controller = Controller(settings)
        controller.start()
        per_agent, group = args.projectors // args.agents, args.agents_per_process
        children = []
        for first in range(0, args.agents, group):
            spec = {"per_agent": per_agent, "first_agent": first, "agents": min(group, args.agents - first),
                    "broker_url": broker.url, "dir": str(workdir)}
            children.append(subprocess.Popen([sys.executable, __file__, "--fleet-child", json.dumps(spec)],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        try:
            started = time.monotonic()
            for child in children:
                line = child.stdout.readline()
                if line.strip() != "ready":
                    raise SystemExit(f"the fleet did not start: {line!r}")
            devices = Device.__table__
            commands = CommandRecord.__table__

            def count_on() -> int:
                with controller.engine.connect() as conn:
                    return conn.execute(sa.select(sa.func.count()).select_from(devices)
                                        .where(devices.c.power == "on")).scalar_one()

            # Every projector on, or (a loaded machine: a first poll timed out, and with a 600 s poll
            # interval it is not retried soon) no progress for 30 s: the run then targets those on.
            last, since = -1, time.monotonic()
            while (on := count_on()) < args.projectors:
                if on != last:
                    last, since = on, time.monotonic()
                elif time.monotonic() - since > 30 and on > 0:
                    print(f"only {on} of {args.projectors} projectors reported on; running over those", flush=True)
                    break
                if time.monotonic() - started > 900:
                    raise SystemExit("timed out waiting for the projectors to report")
                time.sleep(1)
            print(f"fleet ready and ingested in {time.monotonic() - started:.0f} s ({on} on)", flush=True)
            api = httpx.Client(base_url=controller.dashboard_url.rstrip("/") + "/api/v1",
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300)
            schedule = api.post("/schedules", json={"name": "bench", "action": "power_off", "times": ["03:00"],
                                                    "days": "every_day", "scope": {}, "enabled": False}).json()
            me = psutil.Process()
            fleet_pids = {c.pid for c in children}

            def cpu() -> float:
                total = sum(me.cpu_times()[:2])
                for c in me.children(recursive=True):
                    if c.pid in fleet_pids:
                        continue
                    with contextlib.suppress(psutil.Error):
                        total += sum(c.cpu_times()[:2])
                return total

            def fleet_cpu() -> float:
                total = 0.0
                for pid in fleet_pids:
                    with contextlib.suppress(psutil.Error):
                        proc = psutil.Process(pid)
                        total += sum(proc.cpu_times()[:2])
                return total

            sampler = StackSampler() if args.profile else None
            cpu0, fleet0, t0 = cpu(), fleet_cpu(), time.monotonic()
            response = api.post(f"/schedules/{schedule['id']}/run")
            response.raise_for_status()
            sent_s = time.monotonic() - t0

            def finished() -> dict | None:
                items = api.get(f"/schedules/{schedule['id']}/runs", params={"limit": 1}).json()["items"]
                if args.verbose and items:
                    with controller.engine.connect() as conn:
                        c = commands.c
                        states = dict(conn.execute(sa.select(c.status, sa.func.count()).group_by(c.status)).all())
                    print(f"{time.monotonic() - t0:6.1f} s commands {states} report "
                          f"{ {k: items[0][k] for k in ('state', 'powered_off', 'failed')} }", flush=True)
                return items[0] if items and items[0]["state"] == "finished" else None

            run = wait(finished, 600, "the run report", step=1.0 if args.verbose else 0.1)
            elapsed, used, fleet_used = time.monotonic() - t0, cpu() - cpu0, fleet_cpu() - fleet0
            if sampler is not None:
                sampler.stop()
                print(sampler.report(), flush=True)
            api.close()
        finally:
            for child in children:
                child.stdin.close()
            for child in children:
                try:
                    child.wait(120)
                except subprocess.TimeoutExpired:
                    child.kill()
            controller.stop()
            broker.stop()
    verdict = "ok" if elapsed <= TARGET_S and run["powered_off"] == on else "MISSED"
    print(f"poweroff fan-out: {args.projectors} projectors behind {args.agents} agents ({on} on): commands sent in "
          f"{sent_s:.1f} s, every result in {elapsed:.1f} s (target <= {TARGET_S:.0f} s, {verdict}); "
          f"controller CPU {used:.1f} s (fleet processes {fleet_used:.1f} s); powered_off {run['powered_off']}, "
          f"failed {run['failed']}, expired {run['expired']}, unreachable {run['unreachable']}")


if __name__ == "__main__":
    main()
