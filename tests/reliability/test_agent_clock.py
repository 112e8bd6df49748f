"""The agent's clock jumps an hour forward, then back past the real time, with the chain up: emulated
projectors, the agent in-process, a real Mosquitto, the controller on PostgreSQL.

The jump is simulated in-process (libfaketime is not installed here): every time the agent stamps,
the envelope's `ts` (link.py), the state's and event's `observed_at` (the reporter) and the clock
its command handler checks expiries against, is shifted by the offset.

What must hold: messages stay ordered by seq whatever their times (a state stamped an hour in the
past still replaces the current one), the controller clamps times from the future to the time it
received them (counted) and keeps times in the past, rejects nothing, and a command delivered twice
across the jumps runs once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.agent.runtime import Agent
from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.mqtt import topics
from tests.agent.helpers import agent_config
from tests.reliability.stack import AUTH, scenario_database
from tests.support.mosquitto import MosquittoBroker

AGENT = "jkpg-ekhagen-c03"


class SkewedClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _skew_agent(agent: Agent, clock: SkewedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("avfleet.agent.link.utc_now", clock.now)
    agent.commands._clock = clock.now
    reporter = agent._reporter
    state, event = reporter.state, reporter.event

    def skewed_state(status: Any) -> None:
        state(status.model_copy(update={"observed_at": status.observed_at + clock.offset}))

    def skewed_event(device_id: str, kind: Any, **kw: Any) -> None:
        if kw.get("observed_at") is not None:
            kw["observed_at"] = kw["observed_at"] + clock.offset
        event(device_id, kind, **kw)

    reporter.state, reporter.event = skewed_state, skewed_event


def _sample_sum(controller: Controller, name: str) -> float:
    return sum(s.value for metric in controller.metrics.registry.collect() for s in metric.samples
               if s.name == name)


@pytest.mark.timeout(150)
async def test_clock_an_hour_forward_and_back_keeps_order_times_and_commands_once(
        mosquitto: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="avfleet.agent.commands")
    clock = SkewedClock()
    with scenario_database() as db_url:
        settings = load_settings(database_url=db_url, broker_url=mosquitto.url, api_tokens=[AUTH["Authorization"][7:]],
                                 broker_password="anonymous-broker-ignores-this", api_port=0,
                                 client_id="reliability-clock", writer_process=False, default_schedules=False)
        controller = Controller(settings, migrate=False)
        await asyncio.to_thread(controller.start)
        api = httpx.AsyncClient(base_url=controller.dashboard_url.rstrip("/") + "/api/v1", headers=AUTH, timeout=10)
        sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="duplicate-sender")
        try:
            async with EmulatedFleet.from_count(2, power="standby", warmup_s=0, cooldown_s=0) as fleet:
                presses: list[bool] = []
                emu1 = fleet.emulators[1]
                original = emu1.press_power
                emu1.press_power = lambda on: (presses.append(on), original(on))[1]
                agent = Agent(agent_config(AGENT, mosquitto.url, fleet.urls(), tmp_path / "o.sqlite"))
                task = asyncio.create_task(agent.run())
                try:
                    await asyncio.wait_for(agent.ready.wait(), 10)
                    _skew_agent(agent, clock, monkeypatch)

                    async def device(device_id: str) -> dict:
                        return (await api.get(f"/devices/{device_id}", params={"agent_id": AGENT})).json()

                    async def until(predicate: Any, what: str, timeout: float = 20) -> Any:
                        deadline = asyncio.get_running_loop().time() + timeout
                        while not (result := await predicate()):
                            assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
                            await asyncio.sleep(0.1)
                        return result

                    await until(lambda: _online(api), "both projectors online")
                    # An hour forward.
                    clock.offset = timedelta(hours=1)
                    fleet.emulators[0].set_power("on")
                    ahead = await until(lambda: _power_is(device, "pj-00", "on"), "pj-00 on, stamped +1 h")
                    seen = datetime.fromisoformat(ahead["observed_at"])
                    assert abs((seen - datetime.now(UTC)).total_seconds()) < 120  # clamped to the receive time
                    assert _sample_sum(controller, "avfleet_ingest_clock_skew_total") >= 1
                    # A command issued now, valid for two hours: the agent's clock (+1 h) finds it valid.
                    issued = (await api.post("/commands", json={"action": "power_on", "device_id": "pj-01",
                                                                "agent_id": AGENT, "ttl_s": 7200})).json()
                    done = await until(lambda: _status(api, issued["id"], "done"), "the command done")
                    # An hour back (two hours from +1 h): the next state is stamped an hour in the past.
                    clock.offset = timedelta(hours=-1)
                    fleet.emulators[0].set_power("standby")
                    behind = await until(lambda: _power_is(device, "pj-00", "standby"),
                                         "pj-00 standby, stamped -1 h, still applied (newer by seq)")
                    past = datetime.fromisoformat(behind["observed_at"])
                    assert timedelta(minutes=55) < datetime.now(UTC) - past < timedelta(minutes=65)  # kept as sent
                    # The broker delivers the same command again (a redelivery): the agent runs it once.
                    sender.connect("127.0.0.1", mosquitto.port)
                    sender.loop_start()
                    command = {"command_id": done["id"], **{k: done[k] for k in (
                        "device_id", "action", "args", "issued_at", "expires_at")}}
                    sender.publish(topics.cmd_topic(AGENT), json.dumps(command), qos=1).wait_for_publish(5)
                    await until(lambda: _logged(caplog, f"duplicate command {done['id']} not run again"),
                                "the duplicate refused")
                    await agent.commands.wait_idle()
                finally:
                    agent.stop()
                    await asyncio.wait_for(task, 20)
            assert presses == [True]  # one POWR 1 for one command delivered twice
            rejected = _sample_sum(controller, "avfleet_ingest_rejected_total")
            assert rejected == 0
            history = (await api.get("/devices/pj-00/history", params={"agent_id": AGENT})).json()
        finally:
            sender.loop_stop()
            await api.aclose()
            await asyncio.to_thread(controller.stop)
    powers = [h["power"] for h in history.get("items", [])]
    print(f"RELIABILITY clock skew_clamped={_sample_sum(controller, 'avfleet_ingest_clock_skew_total')} "
          f"rejected={rejected} history={powers}")


async def _online(api: httpx.AsyncClient) -> bool:
    items = (await api.get("/devices")).json()["items"]
    return len([d for d in items if d["availability"] == "online"]) == 2


async def _power_is(device: Any, device_id: str, power: str) -> dict | None:
    d = await device(device_id)
    return d if d.get("power") == power else None


async def _status(api: httpx.AsyncClient, command_id: str, status: str) -> dict | None:
    c = (await api.get(f"/commands/{command_id}")).json()
    return c if c.get("status") == status else None


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)
