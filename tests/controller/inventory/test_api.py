"""/api/v1/inventory and /api/v1/repairs on SQLite and PostgreSQL: lists and filters, detail with history,
PATCH, import and export over HTTP, repair cases (from a fault ticket too) and the life cycle."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.settings import load_settings
from avfleet.controller.tickets.models import Ticket
from avfleet.inventory import csvfile
from tests.controller.conftest import API_TOKEN
from tests.controller.inventory.support import good_row
from tests.controller.inventory.test_matching import A, Fleet
from tests.controller.support import state

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
TODAY = datetime.now(UTC).date()


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20)
    with TestClient(create_app(settings, engine)) as c:
        yield c


def seed(client: TestClient) -> dict[str, int]:
    rows = [{**good_row(1), "municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12",
             "serial": "SN-1", "kind": "projector", "warranty_end": (TODAY + timedelta(days=100)).isoformat()},
            {**good_row(2), "municipality": "Värnamo", "school": "Gröndalsskolan", "room": "B2", "serial": "SN-2",
             "kind": "display", "warranty_end": (TODAY - timedelta(days=10)).isoformat()},
            {**good_row(3), "municipality": "Värnamo", "school": "Gröndalsskolan", "room": "", "serial": "SN-3",
             "kind": "projector", "lifecycle": "spare"}]
    res = client.post("/api/v1/inventory/import", content=csvfile.write(rows).encode(), headers=AUTH)
    assert res.status_code == 200, res.text
    assert res.json()["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0}
    items = client.get("/api/v1/inventory", headers=AUTH).json()["items"]
    return {i["serial"]: i["id"] for i in items}


def test_lists_filters_detail_and_patch(client: TestClient) -> None:
    ids = seed(client)

    def serials(query: str) -> list[str]:
        body = client.get(f"/api/v1/inventory?{query}", headers=AUTH).json()
        assert body["total"] == len(body["items"]) or "limit" in query
        return [i["serial"] for i in body["items"]]
    assert serials("") == ["SN-1", "SN-3", "SN-2"]  # by place: Jönköping, then Värnamo (no room first)
    assert serials("kind=projector") == ["SN-1", "SN-3"]
    assert serials("lifecycle=spare") == ["SN-3"]
    assert serials(f"warranty_before={TODAY.isoformat()}") == ["SN-2"]
    assert serials("municipality=V%C3%A4rnamo&school=Gr%C3%B6ndalsskolan&room=B2") == ["SN-2"]
    page = client.get("/api/v1/inventory?limit=1&offset=1", headers=AUTH).json()
    assert page["total"] == 3 and [i["serial"] for i in page["items"]] == ["SN-3"]
    assert client.get("/api/v1/inventory?lifecycle=broken", headers=AUTH).status_code == 422

    res = client.patch(f"/api/v1/inventory/{ids['SN-1']}", json={"room": "A14", "notes": "  flyttad  "}, headers=AUTH)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["room"] == "A14" and body["notes"] == "flyttad"
    assert [(h["field"], h["old"], h["new"], h["by"]) for h in body["history"][1:]] == [
        ("room", "A12", "A14", "admin"), ("notes", "takmonterad, fjärrkontroll i lådan", "flyttad", "admin")]
    assert set(body) >= {"id", "municipality", "school", "room", "kind", "manufacturer", "model", "serial", "mac",
                         "firmware", "install_date", "purchase_date", "supplier", "warranty_end", "lifecycle",
                         "agent_id", "device_id", "history"}
    bad = client.patch(f"/api/v1/inventory/{ids['SN-1']}", json={"mac": "nope"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("mac:")
    taken = client.patch(f"/api/v1/inventory/{ids['SN-1']}", json={"serial": "SN-2"}, headers=AUTH)
    assert taken.status_code == 409
    assert client.get("/api/v1/inventory/999999", headers=AUTH).status_code == 404
    assert client.get("/api/v1/inventory", headers={}).status_code == 401


def test_import_and_export_over_http(client: TestClient) -> None:
    seed(client)
    export = client.get("/api/v1/inventory/export.csv", headers=AUTH)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    text = export.content.decode("utf-8")
    assert "Värnamo,Gröndalsskolan" in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(csvfile.COLUMNS)
    again = client.post("/api/v1/inventory/import", content=export.content, headers=AUTH).json()
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": 3, "error": 0}

    rows[0]["room"] = "A99"
    rows[1]["kind"] = "beamer"
    body = csvfile.write(rows).encode()
    refused = client.post("/api/v1/inventory/import", content=body, headers=AUTH).json()
    assert refused["written"] is False
    assert [(r["line"], r["fate"]) for r in refused["rows"]] == [(2, "updated"), (3, "error"), (4, "unchanged")]
    assert refused["rows"][1]["errors"][0]["field"] == "kind"
    dry = client.post("/api/v1/inventory/import?partial=true&dry_run=true", content=body, headers=AUTH).json()
    assert dry["written"] is False
    assert "A99" not in client.get("/api/v1/inventory/export.csv", headers=AUTH).text
    partial = client.post("/api/v1/inventory/import?partial=true", content=body, headers=AUTH).json()
    assert partial["written"] is True and partial["rows"][0]["fields"] == ["room"]
    assert "A99" in client.get("/api/v1/inventory/export.csv", headers=AUTH).text
    header = client.post("/api/v1/inventory/import", content=b"a,b\n1,2\n", headers=AUTH)
    assert header.status_code == 422 and "line 1" in header.json()["detail"]
    latin = client.post("/api/v1/inventory/import", content="Jönköping".encode("latin-1"), headers=AUTH)
    assert latin.status_code == 422


def test_repair_life_cycle(client: TestClient) -> None:
    ids = seed(client)
    one = ids["SN-1"]
    res = client.post("/api/v1/repairs", json={"unit_id": one, "supplier_case": "ATEA-4711"}, headers=AUTH)
    assert res.status_code == 201, res.text
    case = res.json()
    assert case["under_warranty"] is True and case["supplier"] == "Atea Sverige AB" and case["closed_at"] is None
    assert client.get(f"/api/v1/inventory/{one}", headers=AUTH).json()["lifecycle"] == "in_repair"
    assert client.post("/api/v1/repairs", json={"unit_id": one}, headers=AUTH).status_code == 409
    assert client.patch(f"/api/v1/inventory/{one}", json={"lifecycle": "in_use"}, headers=AUTH).status_code == 409
    upd = client.patch(f"/api/v1/repairs/{case['id']}", json={"cost_estimate_sek": 1850, "decision": "repair"},
                       headers=AUTH).json()
    assert upd["cost_estimate_sek"] == 1850 and upd["decision"] == "repair" and upd["decided_at"] is not None
    closed = client.post(f"/api/v1/repairs/{case['id']}/close", json={"outcome": "returned"}, headers=AUTH).json()
    assert closed["outcome"] == "returned" and closed["closed_at"] is not None
    assert client.get(f"/api/v1/inventory/{one}", headers=AUTH).json()["lifecycle"] == "in_use"
    assert client.post(f"/api/v1/repairs/{case['id']}/close", json={"outcome": "returned"},
                       headers=AUTH).status_code == 409

    # Past its warranty, replaced: the unit is retired; then reused elsewhere, retired again, recycled.
    two = ids["SN-2"]
    case2 = client.post("/api/v1/repairs", json={"unit_id": two}, headers=AUTH).json()
    assert case2["under_warranty"] is False
    client.post(f"/api/v1/repairs/{case2['id']}/close", json={"outcome": "replaced"}, headers=AUTH)
    unit = client.get(f"/api/v1/inventory/{two}", headers=AUTH).json()
    assert unit["lifecycle"] == "retired" and unit["retired_on"] == TODAY.isoformat()
    assert [r["id"] for r in unit["repairs"]] == [case2["id"]]
    assert client.post(f"/api/v1/inventory/{two}/reuse", json={"municipality": "Habo"},
                       headers=AUTH).status_code == 422
    reused = client.post(f"/api/v1/inventory/{two}/reuse", headers=AUTH, json={
        "municipality": "Habo", "school": "Furuskolan", "room": "A1", "on": "2026-08-10"}).json()
    assert (reused["lifecycle"], reused["school"], reused["reused_on"]) == ("reused", "Furuskolan", "2026-08-10")
    assert client.post(f"/api/v1/inventory/{two}/recycle", headers=AUTH).status_code == 409  # not retired
    client.post(f"/api/v1/inventory/{two}/retire", json={"on": "2027-06-01"}, headers=AUTH)
    done = client.post(f"/api/v1/inventory/{two}/recycle", headers=AUTH).json()
    assert done["lifecycle"] == "recycled" and done["recycled_on"] == TODAY.isoformat()
    assert [h["new"] for h in done["history"] if h["field"] == "lifecycle"] == [
        "in_repair", "retired", "reused", "retired", "recycled"]
    assert client.post("/api/v1/repairs", json={"unit_id": two}, headers=AUTH).status_code == 409
    listed = client.get("/api/v1/repairs?open=false", headers=AUTH).json()
    assert listed["total"] == 2
    assert client.get(f"/api/v1/repairs?unit_id={one}", headers=AUTH).json()["items"][0]["supplier_case"] == "ATEA-4711"
    assert client.get("/api/v1/repairs/424242", headers=AUTH).status_code == 404
    assert client.post("/api/v1/repairs", json={}, headers=AUTH).status_code == 422


def test_a_fault_ticket_opens_a_repair_case(client: TestClient, db_url: str, engine: Engine) -> None:
    ids = seed(client)
    fleet = Fleet(db_url, engine)
    fleet.birth("A12", ("pj-1", "pj-9"))
    fleet.state("pj-1", serial="SN-1")
    fleet.writer.write([state(A, "pj-1", 100, at=fleet.t + 1, serial="SN-1", faults={"lamp": "error"})])
    fleet.state("pj-9", serial="SN-NOT-IN-REGISTER")
    fleet.writer.write([state(A, "pj-9", 101, at=fleet.t + 2, serial="SN-NOT-IN-REGISTER", faults={"fan": "error"})])
    t = Ticket.__table__
    with engine.connect() as conn:
        lamp = conn.execute(sa.select(t.c.id).where(t.c.kind == "lamp")).scalar_one()
        fan = conn.execute(sa.select(t.c.id).where(t.c.kind == "fan")).scalar_one()
    res = client.post("/api/v1/repairs", json={"ticket_id": lamp, "cost_estimate_sek": 0}, headers=AUTH)
    assert res.status_code == 201, res.text
    assert res.json()["unit_id"] == ids["SN-1"] and res.json()["ticket_id"] == lamp
    assert client.get(f"/api/v1/inventory/{ids['SN-1']}", headers=AUTH).json()["lifecycle"] == "in_repair"
    orphan = client.post("/api/v1/repairs", json={"ticket_id": fan}, headers=AUTH)
    assert orphan.status_code == 409 and "no inventory unit" in orphan.json()["detail"]
    assert client.post("/api/v1/repairs", json={"ticket_id": 999999}, headers=AUTH).status_code == 404
    assert client.post("/api/v1/repairs", json={"ticket_id": lamp, "unit_id": ids["SN-1"]},
                       headers=AUTH).status_code == 422
    unplaced = client.get("/api/v1/inventory/unplaced", headers=AUTH).json()
    assert unplaced["total"] == 1 and unplaced["items"][0]["serial"] == "SN-NOT-IN-REGISTER"
    assert date.fromisoformat(client.get(f"/api/v1/inventory/{ids['SN-1']}", headers=AUTH)
                              .json()["warranty_end"]) > TODAY


def test_device_models_are_kept_apart_from_the_units(client: TestClient) -> None:
    seed(client)
    body = client.get("/api/v1/inventory/models", headers=AUTH).json()
    assert body["items"] == [
        {"kind": "display", "manufacturer": "EPSON", "model": "EB-2250U", "units": 1, "in_use": 1, "profile": None},
        {"kind": "projector", "manufacturer": "EPSON", "model": "EB-2250U", "units": 2, "in_use": 1,
         "profile": "epson-eb-2250u"},
    ]
