"""The REST API on SQLite and PostgreSQL: auth, list conventions, filters, details, errors, metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.fleet.service import FleetService
from avfleet.controller.settings import load_settings
from avfleet.protocols.mqtt.payloads import parse_agent_message
from avfleet.protocols.mqtt.topics import parse_topic
from tests.controller import support
from tests.controller.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
PUBLIC = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/", "/api/v1/auth/login"}


def seed(engine: Engine) -> None:
    s = support
    msgs = [
        s.birth("ag-jkp-1", 1, municipality="Jönköping", school="Ekhagens skola", room="A12", devices=["pj1", "pj2"]),
        s.status("ag-jkp-1", 2, "online"),
        s.state("ag-jkp-1", "pj1", 3, at=10, power="standby"),
        s.state("ag-jkp-1", "pj1", 4, at=20, power="on"),
        s.state("ag-jkp-1", "pj1", 5, at=30, power="on", faults={"lamp": "error"}),
        s.event("ag-jkp-1", "pj1", 6, at=30),
        s.state("ag-jkp-1", "pj2", 7, at=10, availability="unreachable", power="unknown"),
        s.birth("ag-jkp-2", 1, municipality="Jönköping", school="Ekhagens skola", room="B1", devices=["pj3"]),
        s.status("ag-jkp-2", 2, "lost"),
        s.state("ag-jkp-2", "pj3", 3, at=10, power="standby", faults={"filter": "warning", "fan": "error"}),
        s.birth("ag-hab-1", 1, municipality="Habo", school="Furuskolan", room="C3", devices=["pj1", "disp1"]),
        s.status("ag-hab-1", 2, "online"),
        s.state("ag-hab-1", "pj1", 3, at=10, power="on", serial="H-1"),
        s.state("ag-hab-1", "disp1", 4, at=10, power="on", kind="display"),
    ]
    with engine.begin() as conn:
        FleetService().apply(conn, [parse_agent_message(parse_topic(t), p) for t, p in msgs])


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20,
                             admin_password="adm1n-passw0rd-long")
    seed(engine)
    with TestClient(create_app(settings, engine)) as c:
        yield c


def test_every_route_but_health_and_docs_needs_the_token(client: TestClient) -> None:
    checked = 0
    for route_path, operations in client.get("/openapi.json").json()["paths"].items():
        if route_path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "x", route_path)
        for method in operations:
            for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {API_TOKEN}"}):
                res = client.request(method, path, headers=headers, json={})
                assert res.status_code == 401, (method, path, headers, res.text)
                assert isinstance(res.json()["detail"], str)
            checked += 1
    assert checked >= 9
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200


def test_devices_list_with_filters_and_pagination(client: TestClient) -> None:
    page = client.get("/api/v1/devices", headers=AUTH).json()
    assert page["total"] == 5 and len(page["items"]) == 5
    ids = [(d["agent_id"], d["id"]) for d in page["items"]]
    assert ids == sorted(ids)

    def ids_for(query: str) -> set[tuple[str, str]]:
        body = client.get(f"/api/v1/devices?{query}", headers=AUTH).json()
        assert body["total"] == len(body["items"])
        return {(d["agent_id"], d["id"]) for d in body["items"]}

    assert ids_for("municipality=Habo") == {("ag-hab-1", "pj1"), ("ag-hab-1", "disp1")}
    assert ids_for("school=Ekhagens%20skola&room=A12") == {("ag-jkp-1", "pj1"), ("ag-jkp-1", "pj2")}
    assert ids_for("state=unreachable") == {("ag-jkp-1", "pj2")}
    assert ids_for("state=standby") == {("ag-jkp-2", "pj3")}
    assert ids_for("fault=lamp") == {("ag-jkp-1", "pj1")}
    assert ids_for("fault=fan") == {("ag-jkp-2", "pj3")}
    assert ids_for("fault=any") == {("ag-jkp-1", "pj1"), ("ag-jkp-2", "pj3")}
    assert ids_for("kind=display") == {("ag-hab-1", "disp1")}

    second = client.get("/api/v1/devices?limit=2&offset=2", headers=AUTH).json()
    assert second["total"] == 5
    assert [(d["agent_id"], d["id"]) for d in second["items"]] == ids[2:4]
    pj3 = next(d for d in page["items"] if d["id"] == "pj3")
    assert pj3["faults"] == ["fan", "filter"] and pj3["agent_state"] == "lost" and pj3["room"] == "B1"


def test_device_detail_has_history_events_and_inventory(client: TestClient) -> None:
    res = client.get("/api/v1/devices/pj1?agent_id=ag-jkp-1", headers=AUTH)
    assert res.status_code == 200
    body = res.json()
    assert [(h["power"], h["faults"]) for h in body["history"]] == [
        ("on", ["lamp"]), ("on", []), ("standby", [])]  # newest first
    assert body["history_total"] == 3
    assert body["status"]["faults"]["lamp"] == "error" and "seq" not in body["status"]
    assert [e["event"] for e in body["events"]] == ["fault_raised"]
    assert body["inventory"][0]["serial"] == "SN-1" and body["inventory"][0]["closed_at"] is None

    hist = client.get("/api/v1/devices/pj1/history?agent_id=ag-jkp-1&since=2026-01-05T07:00:15Z&limit=1",
                      headers=AUTH).json()
    assert hist["total"] == 2 and [h["faults"] for h in hist["items"]] == [["lamp"]]


def test_errors_answer_with_a_detail_string(client: TestClient) -> None:
    cases = [
        ("/api/v1/devices/nope", 404),
        ("/api/v1/devices/pj1", 409),  # exists on two agents
        ("/api/v1/agents/nope", 404),
        ("/api/v1/devices?fault=smoke", 400),
        ("/api/v1/devices?limit=0", 422),
        ("/api/v1/devices/pj1/history?agent_id=ag-jkp-1&since=2026-01-05T07:00:15", 400),  # no timezone
        ("/api/v1/commands/nope", 404),
    ]
    for path, status in cases:
        res = client.get(path, headers=AUTH)
        assert res.status_code == status, (path, res.text)
        assert isinstance(res.json()["detail"], str) and res.json()["detail"]
    bad = client.post("/api/v1/commands", headers=AUTH, json={"action": "explode", "device_id": "pj3"})
    assert bad.status_code == 422 and "action" in bad.json()["detail"]
    missing_device = client.post("/api/v1/commands", headers=AUTH, json={"action": "power_on"})
    assert missing_device.status_code == 400 and "device_id" in missing_device.json()["detail"]


def test_agents_list_filters_and_detail(client: TestClient) -> None:
    body = client.get("/api/v1/agents?municipality=J%C3%B6nk%C3%B6ping", headers=AUTH).json()
    assert {a["id"]: (a["state"], a["devices"]) for a in body["items"]} == {
        "ag-jkp-1": ("online", 2), "ag-jkp-2": ("lost", 1)}
    assert client.get("/api/v1/agents?state=online", headers=AUTH).json()["total"] == 2
    detail = client.get("/api/v1/agents/ag-hab-1", headers=AUTH).json()
    assert detail["school"] == "Furuskolan"
    assert [d["id"] for d in detail["configured_devices"]] == ["pj1", "disp1"]


def test_metrics_are_prometheus_text_with_agents_online(client: TestClient) -> None:
    res = client.get("/metrics", headers=AUTH)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/plain")
    assert re.search(r"^avfleet_agents_online 2\.0$", res.text, re.M)
    assert re.search(r"^avfleet_agents_total 3\.0$", res.text, re.M)
    for name in ("avfleet_ingest_messages", "avfleet_ingest_rejected", "avfleet_ingest_batch_seconds",
                 "avfleet_ingest_lag_seconds"):
        assert f"# TYPE {name}" in res.text


def test_login_exchanges_admin_password_for_the_token(client: TestClient) -> None:
    ok = client.post("/api/v1/auth/login", json={"username": "admin", "password": "adm1n-passw0rd-long"})
    assert ok.status_code == 200 and ok.json()["token"] == API_TOKEN
    bad = client.post("/api/v1/auth/login", json={"username": "admin", "password": "guess"})
    assert bad.status_code == 401 and bad.json()["detail"]


def test_dashboard_asks_for_a_login_and_serves_its_login_page(client: TestClient) -> None:
    # The pages themselves: tests/controller/dashboard/ (server side and in Chromium).
    res = client.get("/", follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200 and 'id="username"' in page.text and 'id="password"' in page.text


# The answers' field names as the dashboard and outside scripts read them (docs/api.md): add freely, rename none.
DEVICE_FIELDS = {"id", "agent_id", "kind", "protocol", "municipality", "school", "room", "availability", "power",
                 "faults", "input", "power_w", "model", "serial", "firmware", "observed_at", "last_change",
                 "agent_state"}
TRANSITION_FIELDS = {"observed_at", "availability", "power", "faults", "input", "power_w", "replayed", "seq",
                     "received_at"}
EVENT_FIELDS = {"event", "component", "old", "new", "detail", "observed_at", "replayed", "seq"}
INVENTORY_FIELDS = {"manufacturer", "model", "serial", "firmware", "mac", "first_seen", "last_seen", "closed_at",
                    "closed_reason"}
AGENT_FIELDS = {"id", "state", "last_seen", "version", "host", "municipality", "school", "room", "health", "devices"}


def test_answers_keep_their_field_names(client: TestClient) -> None:
    def get(path: str) -> dict:
        res = client.get(path, headers=AUTH)
        assert res.status_code == 200, (path, res.text)
        return res.json()

    devices = get("/api/v1/devices")
    assert set(devices) == {"items", "total"}
    assert all(set(d) == DEVICE_FIELDS for d in devices["items"])
    detail = get("/api/v1/devices/pj1?agent_id=ag-jkp-1")
    assert set(detail) == DEVICE_FIELDS | {"status", "history", "history_total", "events", "inventory"}
    assert detail["history"] and all(set(h) == TRANSITION_FIELDS for h in detail["history"])
    assert detail["events"] and all(set(e) == EVENT_FIELDS for e in detail["events"])
    assert detail["inventory"] and all(set(i) == INVENTORY_FIELDS for i in detail["inventory"])
    assert (detail["id"], detail["agent_id"], detail["faults"], detail["municipality"]) == (
        "pj1", "ag-jkp-1", ["lamp"], "Jönköping")
    history = get("/api/v1/devices/pj1/history?agent_id=ag-jkp-1")
    assert set(history) == {"items", "total"} and all(set(h) == TRANSITION_FIELDS for h in history["items"])
    agents = get("/api/v1/agents")
    assert all(set(a) == AGENT_FIELDS for a in agents["items"])
    agent = get("/api/v1/agents/ag-jkp-1")
    assert set(agent) == AGENT_FIELDS | {"configured_devices", "boot_id"}
    assert (agent["id"], agent["devices"], agent["state"]) == ("ag-jkp-1", 2, "online")
    command = client.post("/api/v1/commands", headers=AUTH,
                          json={"action": "power_on", "device_id": "pj3"}).json()
    assert set(command) == {"id", "agent_id", "device_id", "action", "args", "issued_at", "expires_at", "status",
                            "detail", "result_at"}
