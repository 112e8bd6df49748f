"""Tickets end to end: emulated projectors -> `avfleet agent` -> a real Mosquitto -> the controller.

Each ERST fault of an emulated projector opens exactly one ticket of its kind, recovery resolves it
after the quiet period, a recurrence within the window reopens the same ticket, and an agent killed
with SIGKILL gets one agent_lost ticket (from its Last Will) that stands for its devices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, write_config
from tests.controller.conftest import API_TOKEN
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
AGENT = "jkpg-ekhagen-a12"
COMPONENTS = ("fan", "lamp", "temperature", "cover", "filter", "other")


@pytest.fixture
def chain(db_url: str, mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[dict]:
    settings = load_settings(database_url=db_url, broker_url=mosquitto.url, api_tokens=[API_TOKEN],
                             broker_password="anonymous-broker-ignores-this", api_port=0, client_id="tickets-e2e",
                             ticket_resolve_quiet_s=2, agent_lost_group_s=0, notify_min_interval_s=0,
                             writer_process=False)
    controller = Controller(settings, migrate=False)
    controller.start()
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(2, pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", warmup_s=0))
    emulators.start()
    urls = [e.url() for e in emulators.fleet.emulators]
    config = write_config(tmp_path / "agent.yaml", agent_dict(AGENT, mosquitto.url, urls, tmp_path / "outbox.db"))
    agent = AgentProcess(config).start()
    api = httpx.Client(base_url=controller.dashboard_url.rstrip("/") + "/api/v1", headers=AUTH, timeout=10)
    try:
        wait(lambda: [d for d in api.get("/devices").json()["items"] if d["availability"] == "online"] and
             len(api.get("/devices").json()["items"]) == 2, what="both projectors online")
        yield {"api": api, "emulators": emulators, "agent": agent, "config": config}
    finally:
        api.close()
        agent.kill()
        emulators.stop()
        controller.stop()


def tickets(api: httpx.Client, **params: Any) -> list[dict]:
    return api.get("/tickets", params={"limit": 1000, **params}).json()["items"]


def test_each_fault_one_ticket_resolved_on_recovery_reopened_on_recurrence(chain: dict) -> None:
    api, emulators = chain["api"], chain["emulators"]
    projector = emulators.fleet.emulators[0]
    for component in COMPONENTS:
        emulators.call(lambda c=component: projector.set_error(c, 2))
        (ticket,) = wait(lambda c=component: [t for t in tickets(api, kind=c) if t["state"] == "open"],
                         what=f"a {component} ticket")
        assert ticket["severity"] == "error" and ticket["agent_id"] == AGENT
        assert ticket["context"]["model"] == "EB-2250U" and ticket["context"]["room"] == "A12"
        emulators.call(lambda c=component: projector.set_error(c, 0))
        wait(lambda c=component: tickets(api, kind=c)[0]["state"] == "resolved", what=f"{component} resolved")
    assert sorted(t["kind"] for t in tickets(api)) == sorted(COMPONENTS)  # exactly one ticket per fault
    emulators.call(lambda: projector.set_error("lamp", 1))
    (lamp,) = wait(lambda: [t for t in tickets(api, kind="lamp") if t["state"] == "open"], what="lamp reopened")
    assert lamp["occurrences"] == 2 and lamp["severity"] == "warning"
    assert len(tickets(api, kind="lamp")) == 1
    detail = api.get(f"/tickets/{lamp['id']}").json()
    assert [n["action"] for n in detail["notes"]] == ["opened", "resolved", "reopened"]
    # People act through the API, with a journal.
    assert api.post(f"/tickets/{lamp['id']}/acknowledge", json={"comment": "Ny lampa beställd"}).status_code == 200
    assert api.post(f"/tickets/{lamp['id']}/acknowledge").status_code == 409
    done = api.post(f"/tickets/{lamp['id']}/comments", json={"text": "Lampan bytt"}).json()
    assert done["state"] == "acknowledged" and done["notes"][-1]["text"] == "Lampan bytt"


def test_agent_killed_gets_one_ticket_for_itself_and_its_devices(chain: dict) -> None:
    api, emulators, agent = chain["api"], chain["emulators"], chain["agent"]
    agent.kill()  # SIGKILL: the broker publishes the Last Will ("lost")
    (lost,) = wait(lambda: tickets(api, kind="agent_lost"), what="an agent_lost ticket")
    assert lost["agent_id"] == AGENT and lost["device_id"] is None and lost["severity"] == "error"
    assert {c["device_id"] for c in lost["children"]} == {None, "pj-00", "pj-01"}
    # Its devices are standing under that ticket: none of their own, not even unreachable ones.
    assert [t for t in tickets(api) if t["kind"] != "agent_lost"] == []
    restarted = AgentProcess(chain["config"]).start()
    try:
        wait(lambda: tickets(api, kind="agent_lost")[0]["state"] == "resolved", what="agent_lost resolved")
        emulators.call(lambda: emulators.fleet.emulators[1].set_error("fan", 2))
        (fan,) = wait(lambda: tickets(api, kind="fan"), what="a fan ticket after the agent is back")
        assert fan["device_id"] == "pj-01"
    finally:
        restarted.kill()
