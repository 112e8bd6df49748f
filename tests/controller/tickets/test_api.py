"""The tickets API of a running controller (ingest + uvicorn) on a real Mosquitto: filters, actions,
the live stream's `ticket` events and the metrics."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator

import httpx
import pytest

from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def controller(db_url: str, mosquitto: MosquittoBroker) -> Iterator[Controller]:
    settings = load_settings(database_url=db_url, broker_url=mosquitto.url, api_tokens=[API_TOKEN],
                             broker_password="anonymous-broker-ignores-this", api_port=0, client_id="tickets-api",
                             writer_process=False,
                             # support's messages carry January 2026 times: not lost for that silence
                             agent_lost_after_s=10 * 365 * 86400)
    ctl = Controller(settings, migrate=False)
    ctl.start()
    try:
        yield ctl
    finally:
        ctl.stop()


def publish_faults(port: int) -> None:
    pub = support.Publisher(port)
    pub.publish(*support.birth("habo-furu-a1", 1, municipality="Habo", school="Furuskolan", room="A1",
                               devices=["pj-1"]))
    pub.publish(*support.status("habo-furu-a1", 2, "online"))
    pub.publish(*support.birth("eksjo-vx-b2", 1, municipality="Eksjö", school="Växthuset", room="B2",
                               devices=["pj-2"]))
    pub.publish(*support.status("eksjo-vx-b2", 2, "online"))
    pub.publish(*support.state("habo-furu-a1", "pj-1", 3, at=1, faults={"lamp": "error"}))
    pub.publish(*support.state("eksjo-vx-b2", "pj-2", 3, at=1, faults={"fan": "warning"}))
    pub.flush()
    pub.close()


def test_ticket_changes_come_on_the_stream(controller: Controller, mosquitto: MosquittoBroker) -> None:
    base = controller.dashboard_url.rstrip("/")
    events: queue.Queue[dict] = queue.Queue()
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/v1/stream?poll_ms=100", headers=AUTH, timeout=30) as res:
            name = None
            for line in res.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                    if name == "hello":
                        ready.set()
                elif line.startswith("data: ") and name == "ticket":
                    events.put(json.loads(line[6:]))
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    publish_faults(mosquitto.port)
    ticket = events.get(timeout=20)
    assert ticket["kind"] in ("lamp", "fan") and ticket["state"] == "open"


def test_filters_actions_and_metrics(controller: Controller, mosquitto: MosquittoBroker) -> None:
    publish_faults(mosquitto.port)
    api = httpx.Client(base_url=controller.dashboard_url.rstrip("/"), headers=AUTH, timeout=10)
    wait(lambda: api.get("/api/v1/tickets").json()["total"] == 2, what="two tickets")
    habo = api.get("/api/v1/tickets", params={"municipality": "Habo"}).json()
    assert habo["total"] == 1 and habo["items"][0]["kind"] == "lamp"
    assert api.get("/api/v1/tickets", params={"kind": "fan", "severity": "warning"}).json()["total"] == 1
    assert api.get("/api/v1/tickets", params={"device_id": "pj-2", "state": "resolved"}).json()["total"] == 0
    assert api.get("/api/v1/tickets", params={"kind": "smoke"}).status_code == 422
    assert api.get("/api/v1/tickets/999999").status_code == 404
    assert api.get("/api/v1/tickets/99999999999999999999").status_code in (404, 422)
    lamp = habo["items"][0]
    assert api.post(f"/api/v1/tickets/{lamp['id']}/comments", json={"text": ""}).status_code == 422
    resolved = api.post(f"/api/v1/tickets/{lamp['id']}/resolve", json={"comment": "Bytt lampa"}).json()
    assert resolved["state"] == "resolved" and resolved["notes"][-1]["by"] == "admin"
    assert api.post(f"/api/v1/tickets/{lamp['id']}/resolve").status_code == 409
    assert httpx.get(f"{controller.dashboard_url}api/v1/tickets").status_code == 401
    metrics = api.get("/metrics").text
    assert 'avfleet_tickets_open{kind="fan",severity="warning"} 1.0' in metrics
    assert 'avfleet_tickets_open{kind="lamp",severity="error"} 0.0' in metrics
