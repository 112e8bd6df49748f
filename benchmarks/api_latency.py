"""API latency with 50,000 devices in PostgreSQL, and the dashboard's first render with 10,000 in Chromium.

A throw-away PostgreSQL database on 127.0.0.1:5432 (dropped at the end) gets a county: 13
municipalities, 20 schools each, rooms of 10 projectors, one agent per room (5,000 agents for
50,000 devices), each device with its full last status (the JSON a state message carries), a mix of
on / standby / unreachable / faulty, and 3 history rows. The controller's app (create_app, the same
routes as `avfleet controller`, without ingest and jobs so nothing else loads the database) is served
by uvicorn on a loopback port and asked over real HTTP (httpx, keep-alive, one request at a time):

- GET /api/v1/devices (first page), a filtered page (municipality + state=on), a deep offset
  (offset 49,000), GET /api/v1/devices/{id}?agent_id= (random devices), all with the bootstrap token;
- the county overview: the dashboard's "/" HTML, with an admin's session cookie, as served (its counts
  kept a few seconds) and with the counts computed for every request;
- the device page "/d/{agent}/{device}" (random devices): status, history and the 30-day energy chart
  with today's figures computed from that device's history.

Then the database is emptied and filled again with 10,000 devices, and Debian's Chromium (Playwright)
logs in and times navigation to "/" and "/devices" until their table rows are in the DOM (the first
complete render: the pages are rendered on the server, so the rows arrive with the HTML).

Targets (issue 13): p95 <= 50 ms for the API, first render <= 1 s.
Usage: .venv/bin/python benchmarks/api_latency.py [--devices 50000] [--render-devices 10000] [--requests 200]
The last line prints every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import sqlalchemy as sa
import uvicorn

from avfleet.controller.api.app import create_app
from avfleet.controller.auth import service as auth_service
from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.migrate import upgrade
from avfleet.controller.models import metadata
from avfleet.controller.settings import load_settings

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-token-" + secrets.token_hex(12)
PASSWORD = "bench-password-" + secrets.token_hex(6)
MUNICIPALITIES = ["Aneby", "Eksjö", "Gislaved", "Gnosjö", "Habo", "Jönköping", "Mullsjö", "Nässjö", "Sävsjö",
                  "Tranås", "Vaggeryd", "Vetlanda", "Värnamo"]
SCHOOLS_PER_MUNICIPALITY = 20
DEVICES_PER_ROOM = 10
FAULTS = ("fan", "lamp", "temperature", "cover", "filter", "other")


def status_body(agent_id: str, device_id: str, availability: str, power: str, faults: str, at: str, n: int) -> dict:
    """The last state message of a device as the ingest stores it (~700 bytes of JSON)."""
    levels = {name: ("error" if name in faults.split(",") else "ok") for name in FAULTS}
    return {"v": 1, "agent_id": agent_id, "seq": 3, "ts": at, "replayed": False, "epoch": "bench",
            "device_id": device_id, "kind": "projector", "protocol": "pjlink", "availability": availability,
            "power": power, "faults": levels, "lamps": [{"hours": 1000 + n % 4000, "on": power == "on"}],
            "filter_hours": 300 + n % 2000, "input": "31", "av_mute": False, "power_w": None, "outlets": [],
            "identity": {"manufacturer": "EPSON", "model": "EB-2250U", "serial": f"BENCH{n:07d}", "firmware": "1.00",
                         "name": device_id, "mac": None, "pjlink_class": "2"},
            "observed_at": at, "detail": None}


def reading(n: int) -> tuple[str, str, str]:
    """(availability, power, active_faults) for device n: ~45 % on, 45 % standby, 5 % unreachable, 5 % faulty."""
    r = n % 20
    if r == 0:
        return "unreachable", "unknown", ""
    if r == 1:
        return "online", "on", "lamp"
    return ("online", "on", "") if r % 2 else ("online", "standby", "")


def fill(engine: sa.Engine, devices: int) -> list[tuple[str, str]]:
    """Agents, devices with their status, 3 history rows each; (agent_id, device_id) of every device."""
    now = datetime.now(UTC)
    at = now - timedelta(minutes=5)
    at_text = at.isoformat().replace("+00:00", "Z")
    rooms = (devices + DEVICES_PER_ROOM - 1) // DEVICES_PER_ROOM
    agents, pairs = [], []
    for r in range(rooms):
        m = MUNICIPALITIES[r % len(MUNICIPALITIES)]
        s = (r // len(MUNICIPALITIES)) % SCHOOLS_PER_MUNICIPALITY
        agents.append({"agent_id": f"a{r:05d}", "municipality": m, "school": f"{m} skola {s}", "room": f"R{r}",
                       "state": "online", "first_seen": at, "changed_at": at, "last_seen": now,
                       "version": "0.1.0", "host": f"a{r:05d}.local"})
    for n in range(devices):
        pairs.append((agents[n // DEVICES_PER_ROOM]["agent_id"], f"pj-{n:05d}"))
    t = time.perf_counter()
    with write_transaction(engine) as conn:
        conn.execute(Agent.__table__.insert(), agents)
        raw = conn.connection.driver_connection
        names = ("agent_id, device_id, availability, power, active_faults, input, kind, protocol, serial, model, "
                 "firmware, observed_at, last_change, status, state_epoch, state_seq, changed_at")
        stamp = at.replace(tzinfo=None)
        with raw.cursor() as cur, cur.copy(f"COPY devices ({names}) FROM STDIN") as copy:
            for n, (agent_id, device_id) in enumerate(pairs):
                availability, power, faults = reading(n)
                copy.write_row((agent_id, device_id, availability, power, faults, "31", "projector", "pjlink",
                                f"BENCH{n:07d}", "EB-2250U", "1.00", stamp, stamp,
                                json.dumps(status_body(agent_id, device_id, availability, power, faults, at_text, n)),
                                "bench", 3, stamp))
        d = Device.__table__.c
        pks = {(r.agent_id, r.device_id): r.id for r in conn.execute(sa.select(d.id, d.agent_id, d.device_id))}
        history = ("device_pk, agent_id, device_id, seq, replayed, observed_at, received_at, availability, power, "
                   "active_faults")
        with raw.cursor() as cur, cur.copy(f"COPY device_history ({history}) FROM STDIN") as copy:
            for n, (agent_id, device_id) in enumerate(pairs):
                availability, power, faults = reading(n)
                pk = pks[(agent_id, device_id)]
                for k, (p, f) in enumerate((("standby", ""), ("on", ""), (power, faults))):
                    when = stamp - timedelta(hours=3 - k)
                    copy.write_row((pk, agent_id, device_id, k + 1, False, when, when, availability if k == 2
                                    else "online", p, f))
    # VACUUM too: a real database's autovacuum keeps the visibility map current, which lets the list
    # read its page keys from the index alone; right after a bulk load nothing has set it yet.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"  {devices:,} devices in {rooms:,} agents, {3 * devices:,} history rows in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    return pairs


def empty(engine: sa.Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables if t.name not in ("users", "alembic_version"))
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


class Server:
    """The app under uvicorn on a free loopback port, in a thread (as Controller.start does)."""

    def __init__(self, app) -> None:
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="bench-api", daemon=True)

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self._server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(name: str, request: Callable[[int], httpx.Response], count: int) -> tuple[float, float]:
    for i in range(10):  # warm-up: connection, plan caches
        request(i).raise_for_status()
    samples = []
    for i in range(count):
        t = time.perf_counter()
        answer = request(i)
        samples.append(time.perf_counter() - t)
        answer.raise_for_status()
    p50, p95 = percentiles(samples)
    print(f"  {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({count} requests)", flush=True)
    return p50, p95


def api_figures(base: str, pairs: list[tuple[str, str]], count: int, app) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    picks = [rng.choice(pairs) for _ in range(count + 10)]
    figures = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as api:
        figures["list"] = timed("GET /api/v1/devices (first page)", lambda i: api.get("/api/v1/devices"), count)
        figures["filtered"] = timed(
            "GET /api/v1/devices?municipality=&state=on",
            lambda i: api.get("/api/v1/devices", params={"municipality": MUNICIPALITIES[i % 13], "state": "on"}),
            count)
        deep = max(0, len(pairs) - 1000)
        figures["deep"] = timed(f"GET /api/v1/devices?offset={deep}",
                                lambda i: api.get("/api/v1/devices", params={"offset": deep}), count)
        figures["detail"] = timed(
            "GET /api/v1/devices/{id}?agent_id=",
            lambda i: api.get(f"/api/v1/devices/{picks[i][1]}", params={"agent_id": picks[i][0]}), count)
    with httpx.Client(base_url=base, timeout=30) as browser_like:
        login = browser_like.post("/api/v1/auth/login", json={"username": "bench-admin", "password": PASSWORD})
        login.raise_for_status()
        first = browser_like.get("/")
        if first.status_code == 200 and "municipality-row" in first.text:
            figures["overview"] = timed("GET / (county overview HTML)", lambda i: browser_like.get("/"), count)

            def uncached(i: int) -> httpx.Response:
                # The counts are kept a few seconds per scope (dashboard/routes.py): forgotten before
                # each request, this is the price of the request that computes them.
                getattr(app.state, "dashboard_counts", {}).clear()
                return browser_like.get("/")

            figures["overview_uncached"] = timed("GET / (counts computed every time)", uncached, max(20, count // 4))
        else:
            print(f"  GET /: no county overview yet ({first.status_code}); not timed", flush=True)
        # The device page with its 30-day energy chart, today included (random devices).
        figures["device_page"] = timed("GET /d/{agent}/{device} (device page HTML)",
                                       lambda i: browser_like.get(f"/d/{picks[i][0]}/{picks[i][1]}"), count)
    return figures


def render_figures(base: str, runs: int = 5) -> dict[str, float]:
    """Median seconds from navigation start until the page's table rows are in the DOM."""
    from tests.support.browser import BrowserSession

    session = BrowserSession()
    figures = {}
    try:
        page = session.new_page(base)
        page.set_default_timeout(10_000)
        page.goto("/login?next=/")
        page.fill("#username", "bench-admin")
        page.fill("#password", PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_selector("[data-testid=nav]")
        for name, path, rows in (("overview", "/", "[data-testid=municipality-row]"),
                                 ("devices", "/devices", "[data-testid=device-row]")):
            samples, server = [], []
            for _ in range(runs + 1):  # the first is a warm-up (static files into the cache)
                t = time.perf_counter()
                page.goto(path, wait_until="commit")
                page.wait_for_selector(rows, state="attached", timeout=30_000)
                page.wait_for_load_state("load")
                samples.append(time.perf_counter() - t)
                # The browser's own clock: until the first byte of the HTML (the server's share).
                server.append(page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                            " return (n.responseStart - n.requestStart) / 1000; })()"))
            figures[name] = statistics.median(samples[1:])
            each = ", ".join(f"{s:.3f}" for s in samples[1:])
            print(f"  render {path}: median {figures[name]:.3f} s over {runs} ({each}); HTML first byte after "
                  f"{statistics.median(server[1:]):.3f} s", flush=True)
    finally:
        session.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--render-devices", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    name = f"avfleet_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = create_db_engine(url)
    server = None
    try:
        upgrade(engine)
        with write_transaction(engine) as conn:
            auth_service.create_user(conn, "bench-admin", "admin", [], PASSWORD)
        settings = load_settings(database_url=url, api_tokens=[TOKEN], broker_password="x" * 20, api_port=0)
        app = create_app(settings, engine)
        server = Server(app)
        base = server.start()
        print(f"API latency, {args.devices:,} devices in PostgreSQL:", flush=True)
        pairs = fill(engine, args.devices)
        api = api_figures(base, pairs, args.requests, app)
        empty(engine)
        print(f"first render, {args.render_devices:,} devices:", flush=True)
        fill(engine, args.render_devices)
        try:
            render = render_figures(base)
        except Exception as exc:  # the pages may not be there yet; the API figures still count
            print(f"  render not measured: {type(exc).__name__}: {str(exc).splitlines()[0]}", flush=True)
            render = {}
    finally:
        if server is not None:
            server.stop()
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    # The targets are the lists, the detail and the overview as served; the uncached overview
    # and the device page are printed beside them.
    worst = max(p95 for name, (_, p95) in api.items() if name not in ("overview_uncached", "device_page"))
    slowest = max(render.values()) if render else float("nan")
    parts = [f"{k}_p50={v[0]:.1f}ms {k}_p95={v[1]:.1f}ms" for k, v in api.items()]
    parts += [f"render_{k}={v:.3f}s" for k, v in render.items()]
    rendered = "not measured" if not render else "met" if slowest <= 1.0 else "missed"
    verdict = f"(targets p95<=50ms: {'met' if worst <= 50 else 'missed'}, render<=1s: {rendered})"
    print(f"api_latency devices={args.devices} render_devices={args.render_devices} {' '.join(parts)} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
