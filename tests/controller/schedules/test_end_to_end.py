"""Schedules end to end: emulated projectors -> `avfleet agent` -> a real Mosquitto -> the controller.

A school-day schedule powers off the projectors that are on (one of them warming, so its first
command meets ERR3 until it expires and the run sends one more), leaves the standby one alone,
counts the unreachable one, stores the run report with kwh_saved, skips a public holiday and an
imported break, and records an occurrence it was down for as missed. An agent that comes back
after a command expired does not execute it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from avfleet.controller.app import Controller
from avfleet.controller.calendars.service import Holidays
from avfleet.controller.schedules import jobs as schedule_jobs
from avfleet.controller.schedules.timing import local_instant
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink import PowerState
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, write_config
from tests.controller.conftest import API_TOKEN
from tests.support.components import free_port
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
AGENT = "jkpg-ekhagen-a12"
WARMUP_S = 14  # longer than the run's command TTL: the first power off expires busy (ERR3)
TTL_S = 10


@pytest.fixture
def chain(db_url: str, mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[dict]:
    settings = load_settings(database_url=db_url, broker_url=mosquitto.url, api_tokens=[API_TOKEN],
                             broker_password="anonymous-broker-ignores-this", api_port=0, client_id="schedules-e2e",
                             writer_process=False, schedule_command_ttl_s=TTL_S)
    controller = Controller(settings, migrate=False)
    controller.start()
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(4, pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", warmup_s=WARMUP_S,
                                                                 cooldown_s=0))
    emulators.start()
    urls = [e.url() for e in emulators.fleet.emulators] + [f"pjlink://127.0.0.1:{free_port()}"]
    config = write_config(tmp_path / "agent.yaml", agent_dict(AGENT, mosquitto.url, urls, tmp_path / "outbox.db"))
    agent = AgentProcess(config).start()
    api = httpx.Client(base_url=controller.dashboard_url.rstrip("/") + "/api/v1", headers=AUTH, timeout=10)
    try:
        wait(lambda: len([d for d in devices(api).values() if d["availability"] == "online"]) == 4
             and len(devices(api)) == 5, what="four projectors online and one known")
        yield {"api": api, "emulators": emulators, "agent": agent, "config": config, "controller": controller}
    finally:
        api.close()
        agent.kill()
        emulators.stop()
        controller.stop()


def devices(api: httpx.Client) -> dict[str, dict]:
    return {d["id"]: d for d in api.get("/devices", params={"limit": 100}).json()["items"]}


def run_due_at(controller: Controller, at: datetime) -> int:
    """What the `schedules.due` job does, at a chosen time."""
    return schedule_jobs.run_due(controller.engine, controller.ingest, controller.settings, at)


def runs(api: httpx.Client, schedule_id: int) -> list[dict]:
    return api.get(f"/schedules/{schedule_id}/runs").json()["items"]  # newest first


def run_count(api: httpx.Client, schedule_id: int) -> int:
    return api.get(f"/schedules/{schedule_id}/runs", params={"limit": 1}).json()["total"]


def test_school_day_run_holiday_break_and_missed(chain: dict) -> None:
    api, emulators, controller = chain["api"], chain["emulators"], chain["controller"]
    fleet = emulators.fleet.emulators
    # Next year's Ascension Day (always a Thursday): the day before is a school day, the break follows.
    year = date.today().year + 1
    ascension = next(d for d, n in Holidays().year(year).items() if n == "Kristi himmelsfärdsdag")
    wednesday, friday, break_monday = ascension - timedelta(days=1), ascension + timedelta(days=1), \
        ascension + timedelta(days=4)
    put = api.put("/calendars/Jönköping", json={"days": [
        {"start": break_monday.isoformat(), "end": (break_monday + timedelta(days=4)).isoformat(), "kind": "break",
         "name": "testlov"}]})
    assert put.status_code == 200
    created = api.post("/schedules", json={"name": "Ekhagen 17:30", "action": "power_off", "times": ["17:30"],
                                           "days": "school_days", "scope": {"municipality": "Jönköping",
                                                                            "school": "Ekhagens skola"}})
    schedule_id = created.json()["id"]
    emulators.call(lambda: fleet[2].set_power(PowerState.standby))
    emulators.call(lambda: fleet[3].set_power(PowerState.standby))
    emulators.call(lambda: fleet[3].press_power(True))  # warming for WARMUP_S: power off answers ERR3
    wait(lambda: devices(api)["pj-02"]["power"] == "standby" and devices(api)["pj-03"]["power"] == "warming",
         what="pj-02 standby and pj-03 warming")

    # Wednesday 17:31: the 17:30 occurrence is due; everything from the schedule's creation until
    # then is older than the grace period and recorded as missed (school days) or skipped.
    assert run_due_at(controller, local_instant(wednesday, "17:31")) == 1
    run = wait(lambda: [r for r in runs(api, schedule_id) if r["state"] == "finished"], timeout=60,
               what="the run finished")[0]
    by_device = {r["device_id"]: r for r in run["results"]}
    assert {k: by_device[k]["result"] for k in by_device} == {
        "pj-00": "powered_off", "pj-01": "powered_off", "pj-02": "already_off", "pj-03": "powered_off",
        "pj-04": "unreachable"}
    assert (run["targeted"], run["powered_off"], run["already_off"], run["unreachable"], run["failed"],
            run["expired"]) == (3, 3, 1, 1, 0, 0)
    assert run["occurrence_at"] is not None and run["finished_at"] >= run["started_at"]
    # Off from Wednesday 17:30 until Friday 07:00 (Thursday is a holiday): 37.5 h × (375 − 2) W each.
    assert run["kwh_saved"] == pytest.approx(3 * (375.0 - 2.0) * 37.5 / 1000, abs=0.001)
    commands = api.get("/commands", params={"device_id": "pj-03"}).json()["items"]
    assert [c["status"] for c in commands] == ["done", "expired"]  # newest first: the retry succeeded
    assert "busy" in commands[1]["detail"]
    assert all(emulators.call(lambda p=p: p.power) == PowerState.standby for p in fleet)

    before = run_count(api, schedule_id)
    # Ascension Day 17:31: a public holiday, nothing runs and nothing is missed.
    assert run_due_at(controller, local_instant(ascension, "17:31")) == 0
    assert run_count(api, schedule_id) == before
    # Wednesday of the break: Friday's occurrence is past the grace period (missed); the break days skip.
    assert run_due_at(controller, local_instant(break_monday + timedelta(days=2), "17:31")) == 0
    new = runs(api, schedule_id)[: run_count(api, schedule_id) - before]
    assert [(r["state"], r["occurrence_at"][:10]) for r in new] == [("missed", friday.isoformat())]
    occurrences = api.get(f"/schedules/{schedule_id}/occurrences",
                          params={"from": ascension.isoformat(), "to": (break_monday + timedelta(days=1)).isoformat()})
    reasons = [o["reason"] for o in occurrences.json()["items"] if o["skipped"]]
    assert reasons == ["not a school day: Kristi himmelsfärdsdag", "not a school day: lördag",
                       "not a school day: söndag", "not a school day: testlov", "not a school day: testlov"]


def test_technician_powers_a_scope_on_and_an_agent_back_after_expiry_does_nothing(chain: dict) -> None:
    api, emulators, agent = chain["api"], chain["emulators"], chain["agent"]
    fleet = emulators.fleet.emulators
    emulators.call(lambda: fleet[0].set_power(PowerState.standby))
    wait(lambda: devices(api)["pj-00"]["power"] == "standby", what="pj-00 standby")
    started = api.post("/power", json={"action": "power_on", "scope": {"devices": [
        {"agent_id": AGENT, "device_id": "pj-00"}, {"agent_id": AGENT, "device_id": "pj-01"}]}})
    assert started.status_code == 202
    run = wait(lambda: [r for r in api.get("/power/runs").json()["items"] if r["state"] == "finished"],
               what="the scope run finished")[0]
    assert (run["targeted"], run["powered_on"], run["already_on"], run["requested_by"]) == (1, 1, 1, "admin")
    wait(lambda: emulators.call(lambda: fleet[0].power) in (PowerState.warming, PowerState.on), what="pj-00 on")

    agent.kill()
    issued = api.post("/commands", json={"action": "power_off", "device_id": "pj-01", "agent_id": AGENT, "ttl_s": 1})
    assert issued.status_code == 202
    expires = datetime.fromisoformat(issued.json()["expires_at"])
    wait(lambda: datetime.now(expires.tzinfo) > expires + timedelta(seconds=0.5), what="the command's expiry")
    restarted = AgentProcess(chain["config"]).start()
    try:
        seen = datetime.now(expires.tzinfo)
        wait(lambda: api.get(f"/agents/{AGENT}").json()["state"] == "online"
             and datetime.fromisoformat(devices(api)["pj-01"]["observed_at"]) > seen, what="the agent back, polling")
        command = api.get(f"/commands/{issued.json()['id']}").json()
        assert command["status"] in ("sent", "expired")  # the broker dropped it, or the agent refused it
        assert emulators.call(lambda: fleet[1].power) == PowerState.on
    finally:
        restarted.kill()
