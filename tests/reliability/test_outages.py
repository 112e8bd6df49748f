"""Outages under a running chain: the broker restarted with agent and controller up, and PostgreSQL
restarted under a running controller mid-ingest. Nothing acknowledged is lost: the agent's outbox
keeps every message until the broker's PUBACK, the controller acknowledges only after its commit.

The broker restart is a clean one (SIGTERM, Mosquitto writes its persistence): a SIGKILLed Mosquitto
loses what arrived after its last autosave (docs/reliability.md). test_outage.py already proves the
agent -> subscriber leg through a 60 s outage; here the receiving end is the controller's database.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from avfleet.agent.runtime import Agent
from avfleet.controller.app import Controller
from avfleet.controller.db import create_db_engine
from avfleet.controller.fleet.models import DeviceTransition, ReceivedMessage
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from tests.agent.helpers import agent_config, wait_until
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.reliability.stack import AUTH, Controllers, PrivatePostgres, controller_config, scenario_database, stopwatch
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

RECEIVED = ReceivedMessage.__table__


def _seqs(engine: sa.Engine, agent_id: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(RECEIVED.c.seq).where(RECEIVED.c.agent_id == agent_id)).scalars())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(tmp_path / "mosquitto").start()
    try:
        yield b
    finally:
        b.kill()


@pytest.mark.timeout(180)
async def test_broker_restart_with_the_chain_up_loses_nothing(broker: MosquittoBroker, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """The controller runs in-process here (its start-up is what a subprocess would add; the kill
    scenarios use subprocesses)."""
    agent_id = "jkpg-ekhagen-b07"
    with scenario_database() as db_url:
        settings = load_settings(database_url=db_url, broker_url=broker.url, api_tokens=[API_TOKEN],
                                 broker_password="anonymous-broker-ignores-this", api_port=0,
                                 client_id="reliability-broker", writer_process=False, default_schedules=False)
        controller = Controller(settings, migrate=False)
        await asyncio.to_thread(controller.start)
        engine = controller.engine
        try:
            async with EmulatedFleet.from_count(3, power="standby", warmup_s=0, cooldown_s=0) as fleet:
                agent = Agent(agent_config(agent_id, broker.url, fleet.urls(), tmp_path / "o.sqlite"))
                taps: list[tuple[int, str]] = []
                task = asyncio.create_task(agent.run())
                await asyncio.wait_for(agent.ready.wait(), 10)
                agent.link.taps.append(lambda seq, topic: taps.append((seq, topic)))
                try:
                    await wait_until(lambda: len([t for _s, t in taps if t.endswith("/state")]) >= 3, 20, "states")
                    await wait_until(lambda: controller.ingest.wait_connected(0), 10, "the controller connected")
                    broker.stop()
                    for rounds in range(6):  # ~3 s of changes while the broker is down
                        for i, emu in enumerate(fleet.emulators):
                            if (i + rounds) % 2 == 0:
                                emu.set_power("on" if emu.power.name == "standby" else "standby")
                            emu.set_error("filter", rounds % 2)
                        await asyncio.sleep(0.5)
                    await wait_until(lambda: agent.outbox.pending == 0, 5, "changes committed to the outbox")
                    assert not agent.link.connected
                    since = stopwatch()
                    broker.start()
                    written = {s for s, t in taps if t.endswith(("/state", "/event"))}
                    await wait_until(lambda: written <= _seqs(engine, agent_id), 60,
                                     "every state and event in the controller's database")
                    recovery_s = since()
                    final = {f"pj-{i:02d}": e.power.name for i, e in enumerate(fleet.emulators)}
                finally:
                    agent.stop()
                    await asyncio.wait_for(task, 20)

            def shown() -> dict[str, str]:
                with httpx.Client(base_url=controller.dashboard_url.rstrip("/"), headers=AUTH) as api:
                    return {d["id"]: d["power"] for d in api.get("/api/v1/devices").json()["items"]}

            assert await asyncio.to_thread(wait, lambda: shown() == final, 20, "the API shows the last powers")
            # The ingest lost its connection and found its session kept: only the very first connect met none.
            assert controller.ingest.disconnects >= 1
            assert sum("no stored session" in r.getMessage() for r in caplog.records) == 1
        finally:
            await asyncio.to_thread(controller.stop)
    events = [t for s, t in taps if s in written and t.endswith("/event")]
    assert len(events) >= 6, "the outage should cover several transitions"
    print(f"RELIABILITY broker-restart written={len(written)} events={len(events)} recovery_s={recovery_s}")


TOTAL = 2000
AGENTS = 2


def _count(engine: sa.Engine, table: sa.Table) -> int | None:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    except sa.exc.OperationalError:
        return None


def _paced(publisher: support.Publisher, messages: list[tuple[str, bytes]], per_s: float) -> None:
    start = time.monotonic()
    for n, (topic, payload) in enumerate(messages):
        ahead = n / per_s - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
        publisher.publish(topic, payload)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.init().start()
        yield pg
    finally:
        pg.destroy()


@pytest.mark.timeout(180)
def test_postgresql_restart_mid_ingest_resumes_and_loses_nothing(private_pg: PrivatePostgres, broker: MosquittoBroker,
                                                                 tmp_path: Path) -> None:
    db_url = private_pg.url()
    engine = create_db_engine(db_url)
    upgrade(engine)
    controllers = Controllers(controller_config(tmp_path / "c.yaml", database_url=db_url, broker_url=broker.url,
                                                client_id="reliability-pg"), tmp_path)
    controllers.start()
    publishers, threads = [], []
    per_agent = TOTAL // AGENTS
    try:
        for i in range(AGENTS):
            agent_id = f"pg-agent-{i}"
            p = support.Publisher(broker.port, client_id=agent_id)
            msgs = [support.state(agent_id, f"pj{seq % 3}", seq, at=seq,
                                  power="on" if (seq // 3) % 2 else "standby") for seq in range(1, per_agent + 1)]
            publishers.append(p)
            threads.append(threading.Thread(target=_paced, args=(p, msgs, 250.0), daemon=True))
        for t in threads:
            t.start()
        wait(lambda: (_count(engine, RECEIVED) or 0) >= TOTAL // 5, 60, "a fifth ingested")
        engine.dispose()
        private_pg.stop("fast")  # every connection of the controller is cut
        down = stopwatch()
        health = wait(lambda: (h := controllers.health())["status"] == "degraded" and h, 20, "/health degraded")
        assert health["database"] == "unreachable" and health["broker"] == "connected"
        acked_at_stop = sum(p.acked for p in publishers)
        # The broker keeps accepting the agents' messages while the database is down.
        wait(lambda: sum(p.acked for p in publishers) >= min(TOTAL, acked_at_stop + 300), 20,
             "messages flowing while down")
        outage_s = down()
        since = stopwatch()
        private_pg.start()
        wait(lambda: _count(engine, RECEIVED) == TOTAL, 90, "every message committed after the restart")
        recovery_s = since()
        for t in threads:
            t.join(30)
        for p in publishers:
            p.flush()
        assert _count(engine, RECEIVED) == TOTAL
        h = DeviceTransition.__table__
        with engine.connect() as conn:
            distinct = conn.execute(sa.select(sa.func.count()).select_from(
                sa.select(h.c.agent_id, h.c.seq).distinct().subquery())).scalar_one()
        assert _count(engine, h) == distinct == TOTAL  # each transition filed once
        wait(lambda: controllers.health()["status"] == "ok", 20, "/health ok again")
        with httpx.Client(base_url=controllers.current.base_url, headers=AUTH) as api:
            devices = api.get("/api/v1/devices", params={"limit": 100}).json()["items"]
        last = {(d["agent_id"], d["id"]): d["power"] for d in devices}
        assert len(last) == AGENTS * 3
    finally:
        for p in publishers:
            p.close()
        controllers.kill()
        engine.dispose()
    assert "batch of" in controllers.logs()  # the commits that failed were retried, not acknowledged
    print(f"RELIABILITY pg-restart outage_s={outage_s} recovery_s={recovery_s}")
