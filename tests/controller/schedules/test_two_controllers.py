"""Two `avfleet controller` processes on PostgreSQL: a due occurrence runs once, each device gets one
command, and the two processes create the default schedules once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from avfleet.controller.commands.models import CommandRecord
from avfleet.controller.db import create_db_engine
from avfleet.controller.schedules.models import Schedule, ScheduleRun
from avfleet.controller.schedules.timing import local_zone
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, write_config
from tests.controller.conftest import API_TOKEN, _truncate
from tests.controller.ingest.test_worker import wait_for
from tests.controller.processes import ControllerProcess, GeneratedBroker
from tests.controller.test_crash_recovery import controller_config

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PROJECTORS = 6
AGENT = "two-ctl-agent"


@pytest.mark.slow
def test_two_controllers_run_a_schedule_once(tmp_path: Path, pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    _truncate(engine)
    broker = GeneratedBroker(tmp_path, tls=False).start()
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(PROJECTORS, pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", cooldown_s=0))
    controllers = [ControllerProcess(controller_config(tmp_path, broker, pg_url, f"avfleet-sched-{i}",
                                                       shared_subscription="true"), tmp_path / f"controller-{i}.log")
                   for i in (1, 2)]
    agent = None
    try:
        emulators.start()
        for c in controllers:
            c.start()
        secret = tmp_path / "agent.secret"
        secret.write_text(broker.add_agent(AGENT))
        urls = [e.url() for e in emulators.fleet.emulators]
        config = write_config(tmp_path / "agent.yaml", agent_dict(
            AGENT, f"mqtt://127.0.0.1:{broker.layout.agents_port}", urls, tmp_path / "outbox.db",
            broker={"username": AGENT, "password_file": str(secret)}))
        agent = AgentProcess(config).start()
        api = httpx.Client(base_url=controllers[0].lines["dashboard"].rstrip("/") + "/api/v1", headers=AUTH,
                           timeout=10)
        # Both processes started on an empty database: the defaults exist once.
        defaults = api.get("/schedules").json()
        assert defaults["total"] == 2, defaults
        for s in defaults["items"]:  # they must not act on the test's projectors
            assert api.put(f"/schedules/{s['id']}", json={**s, "enabled": False}).status_code == 200
        wait_for(lambda: len([d for d in api.get("/devices").json()["items"] if d["power"] == "on"]) == PROJECTORS,
                 timeout=60, what="projectors on")

        now_local = datetime.now(local_zone())
        created = api.post("/schedules", json={"name": "now", "action": "power_off", "days": "every_day",
                                               "times": [now_local.strftime("%H:%M")], "scope": {}}).json()
        # As if the scheduler had last looked two minutes ago: this minute's occurrence is due now.
        with engine.begin() as conn:
            conn.execute(Schedule.__table__.update().where(Schedule.__table__.c.id == created["id"])
                         .values(handled_until=datetime.now(UTC) - timedelta(minutes=2)))
        runs = ScheduleRun.__table__
        wait_for(lambda: _finished(engine, runs, created["id"]), timeout=90, what="the run finished")
        with engine.connect() as conn:
            rows = conn.execute(sa.select(runs).where(runs.c.schedule_id == created["id"])).all()
            per_device = Counter(r.device_id for r in conn.execute(sa.select(CommandRecord.__table__.c.device_id)))
        assert len(rows) == 1 and rows[0].powered_off == PROJECTORS and rows[0].targeted == PROJECTORS
        assert set(per_device) == {f"pj-{i:02d}" for i in range(PROJECTORS)} and max(per_device.values()) == 1
        api.close()
        for c in controllers:
            assert c.interrupt() == 0
    finally:
        if agent is not None:
            agent.kill()
        for c in controllers:
            c.kill()
        emulators.stop()
        broker.stop()
        engine.dispose()


def _finished(engine: sa.Engine, runs: sa.Table, schedule_id: int) -> bool:
    with engine.connect() as conn:
        states = conn.execute(sa.select(runs.c.state).where(runs.c.schedule_id == schedule_id)).scalars().all()
    return bool(states) and all(s == "finished" for s in states)
