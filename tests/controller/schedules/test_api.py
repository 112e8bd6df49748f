"""Schedules and calendars over the API (no broker): validation, occurrences across DST, holidays, breaks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.db import write_transaction
from avfleet.controller.schedules.service import ensure_defaults
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20)
    with TestClient(create_app(settings, engine), headers=AUTH) as c:
        yield c


def schedule(client: TestClient, **fields: object) -> dict:
    body = {"name": "test", "action": "power_off", "times": ["17:30"], "days": "every_day", "scope": {}, **fields}
    response = client.post("/api/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def occurrences(client: TestClient, schedule_id: int, first: str, last: str) -> list[dict]:
    response = client.get(f"/api/v1/schedules/{schedule_id}/occurrences", params={"from": first, "to": last})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_crud_and_validation(client: TestClient) -> None:
    created = schedule(client, times=["17:30", "08:00"], days=[5, 1], scope={"municipality": "Eksjö", "room": "A1"})
    assert created["times"] == ["08:00", "17:30"] and created["days"] == [1, 5]
    assert created["scope"]["municipality"] == "Eksjö" and created["enabled"] is True
    got = client.get(f"/api/v1/schedules/{created['id']}").json()
    assert got == created
    for bad, where in (({"times": ["24:00"]}, "times"), ({"days": [0]}, "days"), ({"days": "weekends"}, "days"),
                       ({"action": "reboot"}, "action"), ({"times": []}, "times")):
        response = client.post("/api/v1/schedules", json={"name": "x", "action": "power_off", "times": ["17:30"],
                                                          **bad})
        assert response.status_code == 422 and where in response.json()["detail"], (bad, response.text)
    updated = client.put(f"/api/v1/schedules/{created['id']}",
                         json={**created, "enabled": False, "times": ["18:00"]}).json()
    assert updated["enabled"] is False and updated["times"] == ["18:00"]
    assert client.get("/api/v1/schedules").json()["total"] == 1
    assert client.delete(f"/api/v1/schedules/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/schedules/{created['id']}").status_code == 404


def test_occurrences_across_both_dst_changes(client: TestClient) -> None:
    s = schedule(client, times=["01:30", "02:30", "17:30"])
    # 29 March 2026: clocks go 02:00 -> 03:00; 02:30 does not exist and runs at 03:30 (CEST).
    march = occurrences(client, s["id"], "2026-03-28", "2026-03-29")
    assert [o["at"] for o in march] == [
        "2026-03-28T01:30:00+01:00", "2026-03-28T02:30:00+01:00", "2026-03-28T17:30:00+01:00",
        "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-29T17:30:00+02:00"]
    # 25 October 2026: 03:00 -> 02:00; 02:30 happens twice and runs once, the first time (CEST).
    october = occurrences(client, s["id"], "2026-10-25", "2026-10-26")
    assert [o["at"] for o in october] == [
        "2026-10-25T01:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T17:30:00+01:00",
        "2026-10-26T01:30:00+01:00", "2026-10-26T02:30:00+01:00", "2026-10-26T17:30:00+01:00"]
    assert not any(o["skipped"] for o in march + october)


def test_school_day_rules_skip_holidays_breaks_and_exceptions(client: TestClient) -> None:
    put = client.put("/api/v1/calendars/Gislaved", json={"days": [
        {"start": "2026-10-26", "end": "2026-10-30", "kind": "break", "name": "höstlov"}]})
    assert put.status_code == 200 and put.json()["days"][0]["name"] == "höstlov"
    school = schedule(client, days="school_days", scope={"municipality": "Gislaved"},
                      exceptions=[{"date": "2026-11-04", "reason": "kvällskonsert"}])
    got = {o["at"][:10]: o for o in occurrences(client, school["id"], "2026-10-23", "2026-11-04")}
    assert got["2026-10-23"] == {"at": "2026-10-23T17:30:00+02:00", "skipped": False, "reason": None}
    assert got["2026-10-24"]["skipped"] and got["2026-10-24"]["reason"] == "not a school day: lördag"
    assert got["2026-10-28"]["skipped"] and got["2026-10-28"]["reason"] == "not a school day: höstlov"
    assert not got["2026-11-02"]["skipped"]
    assert got["2026-11-04"]["skipped"] and got["2026-11-04"]["reason"] == "exception: kvällskonsert"
    hourly = schedule(client, days="non_school_days", times=["08:00", "12:00"], scope={"municipality": "Gislaved"})
    days = {o["at"][:10]: o["skipped"] for o in occurrences(client, hourly["id"], "2026-12-23", "2026-12-24")}
    assert days == {"2026-12-23": True, "2026-12-24": False}  # julafton is no school day


def test_calendar_put_names_the_bad_item_and_writes_nothing(client: TestClient) -> None:
    good = {"start": "2027-02-15", "end": "2027-02-19", "kind": "break", "name": "sportlov"}
    assert client.put("/api/v1/calendars/Tranås", json={"days": [good]}).status_code == 200
    response = client.put("/api/v1/calendars/Tranås", json={"days": [
        good, {"start": "2027-04-02", "end": "2027-03-29", "kind": "break", "name": "påsklov"}]})
    assert response.status_code == 422 and "days.1" in response.json()["detail"], response.text
    response = client.put("/api/v1/calendars/Tranås", json={"days": [{**good, "kind": "semester"}]})
    assert response.status_code == 422 and "days.0.kind" in response.json()["detail"]
    assert client.get("/api/v1/calendars/Tranås").json()["days"] == [good]


def test_defaults_of_a_new_installation(client: TestClient, engine: Engine) -> None:
    with write_transaction(engine) as conn:
        assert ensure_defaults(conn) == 2
        assert ensure_defaults(conn) == 0
    items = client.get("/api/v1/schedules").json()["items"]
    assert [(s["times"], s["days"], s["action"]) for s in items] == [
        (["17:30"], "every_day", "power_off"),
        ([f"{h:02d}:00" for h in range(8, 17)], "non_school_days", "power_off")]


def test_run_now_is_listed_under_its_schedule(client: TestClient) -> None:
    s = schedule(client, days="school_days", exceptions=[{"date": "2026-01-01"}])
    run = client.post(f"/api/v1/schedules/{s['id']}/run")
    assert run.status_code == 202 and run.json()["schedule_id"] == s["id"]
    assert run.json()["state"] == "finished" and run.json()["targeted"] == 0  # no devices known yet
    listed = client.get(f"/api/v1/schedules/{s['id']}/runs").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run.json()["id"]
    assert client.get("/api/v1/power/runs").json()["total"] == 0
