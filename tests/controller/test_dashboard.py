"""The dashboard in Debian's chromium (Playwright): login, the fleet table, live updates from the stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.support.components import missing, require_binary
from tests.support.mosquitto import MosquittoBroker

ADMIN_PASSWORD = "dashboard-test-password"


@pytest.fixture
def controller(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Controller]:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'dash.db'}", broker_url=mosquitto.url,
                             api_tokens=[API_TOKEN], broker_password="anonymous-broker-ignores-this", api_port=0,
                             client_id="dashboard-test", admin_password=ADMIN_PASSWORD)
    ctl = Controller(settings)
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.stop()


@pytest.mark.slow
def test_login_table_colours_and_live_update(controller: Controller, mosquitto: MosquittoBroker) -> None:
    chromium = require_binary("chromium", "/usr/bin/chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing("playwright is not installed")
    pub = support.Publisher(mosquitto.port)
    pub.publish_all([
        support.birth("ag1", 1, municipality="Habo", school="Furuskolan", room="B2", devices=["pj1", "pj2"]),
        support.state("ag1", "pj1", 2, at=1, power="on"),
        support.state("ag1", "pj2", 3, at=1, power="standby", faults={"lamp": "error"}),
    ])
    pub.flush()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(controller.dashboard_url)
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "wrong")
        page.click("#login button")
        expect(page.locator("#login-error")).to_contain_text("wrong user or password")
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("#login button")
        rows = page.locator("#rows tr")
        expect(rows).to_have_count(2)
        faulty = page.locator("#rows tr.fault")
        expect(faulty).to_have_count(1)
        expect(faulty).to_contain_text("pj2")
        expect(faulty).to_contain_text("lamp")
        expect(page.locator("#rows tr", has_text="pj1").locator(".pill.on")).to_have_count(1)
        expect(page.locator("#live")).to_have_text("live")
        # A transition arrives over MQTT; the stream brings it to the open page.
        pub.publish(*support.state("ag1", "pj1", 4, at=2, availability="unreachable", power="unknown"))
        pub.flush()
        expect(page.locator("#rows tr", has_text="pj1").locator(".pill.unreachable")).to_have_count(1, timeout=15000)
        expect(page.locator("#summary")).to_contain_text("2 enheter")
        browser.close()
    pub.close()
