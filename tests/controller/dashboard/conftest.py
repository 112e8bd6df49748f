"""The dashboard's browser tests: one stack per module, one Chromium per session.

The stack is the real chain: emulated PJLink projectors -> two `avfleet agent` processes (one in
Jönköping, one in Värnamo) -> a real Mosquitto -> the controller (SQLite, API on a free port), with
three users created through the auth service: an admin, a technician of Jönköping and a viewer of
Jönköping. It is module scoped because starting it costs seconds on a shared 2-core machine; tests
put the projectors they touch into the state they need first (`set_power`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from avfleet.controller.app import Controller
from avfleet.controller.auth import service as auth_service
from avfleet.controller.db import write_transaction
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink import PowerState
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, write_config
from tests.controller.conftest import API_TOKEN
from tests.support.browser import BrowserSession
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

PASSWORD = "browser-test-password-1"
JKPG_AGENT = "jkpg-ekhagen-a12"
VMO_AGENT = "vmo-grondal-b1"
JKPG = {"municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12"}
VMO = {"municipality": "Värnamo", "school": "Gröndalsskolan", "room": "B1"}
# (agent, device id) of each emulated projector, in the fleet's order.
PROJECTORS = [(JKPG_AGENT, "pj-00"), (JKPG_AGENT, "pj-01"), (VMO_AGENT, "vmo-pj-00")]
USERS = {"admin": ("admin", []), "tekniker": ("technician", ["Jönköping"]), "lasare": ("viewer", ["Jönköping"])}


@dataclass
class Stack:
    controller: Controller
    emulators: EmulatorThread
    api: httpx.Client
    agents: list[AgentProcess]
    sessions: dict[str, list[dict]] = field(default_factory=dict)  # user -> its session cookies

    @property
    def base_url(self) -> str:
        return self.controller.dashboard_url

    def device(self, agent_id: str, device_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/devices/{device_id}", params={"agent_id": agent_id, "history_limit": 0})
        answer.raise_for_status()
        return answer.json()

    def emulator_power(self, index: int) -> PowerState:
        fleet = self.emulators.fleet.emulators
        return self.emulators.call(lambda: fleet[index].power)

    def set_power(self, index: int, power: str) -> None:
        """Put emulated projector `index` into `power` at the emulator and wait until the controller has it."""
        fleet = self.emulators.fleet.emulators
        self.emulators.call(lambda: fleet[index].set_power(PowerState[power]))
        agent_id, device_id = PROJECTORS[index]
        wait(lambda: self.device(agent_id, device_id)["power"] == power, timeout=20,
             what=f"{agent_id}/{device_id} {power} at the controller")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashboard-stack")
    broker = MosquittoBroker(tmp / "mosquitto").start()
    settings = load_settings(database_url=f"sqlite:///{tmp / 'dashboard.db'}", broker_url=broker.url,
                             api_tokens=[API_TOKEN], broker_password="anonymous-broker-ignores-this", api_port=0,
                             client_id="dashboard-browser", writer_process=False,
                             agent_lost_after_s=10**7)  # never a lost-agent ticket mid-test
    controller = Controller(settings)
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(len(PROJECTORS), pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", warmup_s=0,
                                                                 cooldown_s=0))
    agents: list[AgentProcess] = []
    api = None
    try:
        controller.start()
        with write_transaction(controller.engine) as conn:  # BEGIN IMMEDIATE: waits for the jobs' writes
            for name, (role, municipalities) in USERS.items():
                auth_service.create_user(conn, name, role, municipalities, PASSWORD)
        emulators.start()
        urls = [e.url() for e in emulators.fleet.emulators]
        for agent_id, site, devices in (
            (JKPG_AGENT, JKPG, [{"id": "pj-00", "url": urls[0]}, {"id": "pj-01", "url": urls[1]}]),
            (VMO_AGENT, VMO, [{"id": "vmo-pj-00", "url": urls[2]}]),
        ):
            config = write_config(tmp / f"{agent_id}.yaml", agent_dict(
                agent_id, broker.url, [], tmp / f"{agent_id}-outbox.db", site=site, devices=devices,
                polling={"interval_s": 0.5}))
            agents.append(AgentProcess(config).start())
        api = httpx.Client(base_url=controller.dashboard_url.rstrip("/") + "/api/v1",
                           headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)
        wait(lambda: [d["availability"] for d in api.get("/devices").json()["items"]] == ["online"] * 3,
             timeout=30, what="the three projectors online at the controller")
        yield Stack(controller, emulators, api, agents)
    finally:
        if api is not None:
            api.close()
        for agent in agents:
            agent.kill()
        emulators.stop()
        controller.stop()
        broker.kill()


# Module scope, not session: while Playwright's sync API runs, its event loop counts as running in the
# main thread, and every later pytest-asyncio test of the session failed ("Runner.run() cannot be called
# from a running event loop").
@pytest.fixture(scope="module")
def browser_session() -> Iterator[BrowserSession]:
    session = BrowserSession()
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # 5 s is short on a 2-core machine shared by a whole team
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def new_page(browser_session: BrowserSession, stack: Stack) -> Iterator[Any]:
    """`new_page(width=..., height=...)`: pages in contexts of their own; all closed after the test."""
    contexts: list[Any] = []

    def make(**kwargs: Any) -> Any:
        page = browser_session.new_page(stack.base_url, **kwargs)
        page.set_default_timeout(10_000)
        contexts.append(page.context)
        return page

    yield make
    for context in contexts:
        context.close()


def login(page: Any, stack: Stack, user: str, *, then: str = "/") -> None:
    """Sign in through the login form (once per user and module: later tests reuse its cookies, since
    every Argon2 check costs a second on a loaded machine) and wait for the page it leads to."""
    from playwright.sync_api import expect

    if user in stack.sessions:
        page.context.add_cookies(stack.sessions[user])
        page.goto(then)
    else:
        page.goto("/login?" + urlencode({"next": then}))
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("[data-testid=login-submit]")
    expect(page.locator("[data-testid=nav]")).to_be_visible()
    stack.sessions.setdefault(user, page.context.cookies())
