"""A whole chain for the ingest's system tests: Mosquitto on the generated config, the controller
(ingest + API) on a real database, and real agents polling the PJLink emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from avfleet.agent.config import AgentConfig
from avfleet.agent.runtime import Agent
from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from tests.agent.helpers import agent_dict
from tests.controller.conftest import API_TOKEN
from tests.controller.processes import GeneratedBroker

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def start_controller(broker: GeneratedBroker, db_url: str, **extra: Any) -> Controller:
    settings = load_settings(
        database_url=db_url, broker_url=f"mqtt://127.0.0.1:{broker.port}", broker_username="avfleet-controller",
        broker_password=broker.controller_secret(), api_tokens=[API_TOKEN], api_port=0,
        client_id="avfleet-controller-1", **extra)
    controller = Controller(settings, migrate=False)
    controller.start()
    return controller


class Api:
    def __init__(self, controller: Controller) -> None:
        self.base = controller.dashboard_url.rstrip("/") + "/api/v1"

    def get(self, path: str) -> Any:
        res = httpx.get(self.base + path, headers=AUTH, timeout=10)
        res.raise_for_status()
        return res.json()

    def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.post(self.base + path, headers=AUTH, json=body, timeout=30)

    def agent(self, agent_id: str) -> dict | None:
        return next((a for a in self.get("/agents")["items"] if a["id"] == agent_id), None)

    def device(self, agent_id: str, device_id: str) -> dict | None:
        return next((d for d in self.get("/devices")["items"]
                     if d["agent_id"] == agent_id and d["id"] == device_id), None)

    def command(self, command_id: str) -> dict:
        return self.get(f"/commands/{command_id}")


async def until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll `predicate` (blocking HTTP calls run in a thread, so the agents' loop keeps running)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(predicate)
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def agent_config(broker: GeneratedBroker, agent_id: str, device_url: str, outbox: Path) -> AgentConfig:
    """The agent logs in with its own generated credentials on the generated broker."""
    creds = broker.layout.agents / agent_id
    layout = broker.layout
    url = f"mqtts://localhost:{layout.agents_port}" if layout.tls else f"mqtt://127.0.0.1:{layout.agents_port}"
    data = agent_dict(agent_id, url, [device_url], outbox,
                      broker={"username": agent_id, "password_file": str(creds / "broker.secret"),
                              **({"tls": {"ca": str(creds / "ca.crt")}} if layout.tls else {})})
    return AgentConfig.model_validate(data)


class RunningAgent:
    def __init__(self, config: AgentConfig) -> None:
        self.agent = Agent(config)
        self.task: asyncio.Task | None = None

    async def start(self) -> RunningAgent:
        self.task = asyncio.create_task(self.agent.run())
        await asyncio.wait_for(self.agent.ready.wait(), 15)
        return self

    async def stop(self) -> None:
        self.agent.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
