"""GET /api/v1/energy and /api/v1/energy.csv on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.energy.school_days import LOCAL
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN
from tests.controller.energy.support import build_county

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20)
    with TestClient(create_app(settings, engine)) as c:
        yield c


def recent_days() -> list:
    today = datetime.now(UTC).astimezone(LOCAL).date()
    return [today - timedelta(days=n) for n in (4, 3, 2, 1)]


def test_energy_answers_the_contract(client: TestClient, engine: Engine) -> None:
    days = recent_days()
    build_county(engine, days)
    params = {"level": "school", "from": days[0].isoformat(), "to": days[-1].isoformat(), "group": "day"}
    res = client.get("/api/v1/energy", params=params, headers=AUTH)
    assert res.status_code == 200, res.text
    body = res.json()
    assert set(body) >= {"items", "factor", "previous_year", "total"}
    assert body["factor"] == {"g_co2e_per_kwh": 59.0, "source": "IVL, Nordic electricity mix incl. trade, 2021–2023"}
    # A year earlier, before the first transition, nothing was known: no items (never guessed zeros).
    assert body["previous_year"] == []
    assert len(body["items"]) == 3 * 4  # three schools × four days
    item = body["items"][0]
    assert set(item) == {"level", "municipality", "school", "room", "agent_id", "device_id", "period", "kwh",
                         "kwh_school_hours", "kwh_left_on", "kwh_standby", "hours_on", "hours_left_on", "co2e_kg",
                         "basis", "coverage"}
    assert item["level"] == "school" and item["room"] is None and item["basis"] == "rated"
    service = EnergyService(load_settings(demo=True))
    with engine.connect() as conn:
        expected = service.items(conn, EnergyQuery("school", days[0], days[-1], "day"), datetime.now(UTC))
    assert body["items"] == expected
    # Device level with its filters.
    res = client.get("/api/v1/energy", headers=AUTH, params={
        "level": "device", "from": days[0].isoformat(), "to": days[-1].isoformat(), "group": "month",
        "agent_id": "jkpg-ek-a1", "device_id": "jkpg-ek-a1-pj1"})
    items = res.json()["items"]
    assert 1 <= len(items) <= 2  # the four days lie in one month or two
    assert all(i["device_id"] == "jkpg-ek-a1-pj1" and i["agent_id"] == "jkpg-ek-a1" for i in items)
    assert sum(i["hours_left_on"] for i in items) > 0
    # Place filters.
    res = client.get("/api/v1/energy", headers=AUTH, params={**params, "municipality": "Habo"})
    assert {i["school"] for i in res.json()["items"]} == {"Furuskolan"}


def test_energy_csv_is_the_same_figures(client: TestClient, engine: Engine) -> None:
    days = recent_days()
    build_county(engine, days)
    params = {"level": "room", "from": days[0].isoformat(), "to": days[-1].isoformat(), "group": "day"}
    body = client.get("/api/v1/energy", params=params, headers=AUTH).json()
    res = client.get("/api/v1/energy.csv", params=params, headers=AUTH)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    every = list(csv.DictReader(io.StringIO(res.text)))
    rows = [r for r in every if r["series"] == "this_year"]
    assert len(rows) == len(body["items"]) == 16
    assert len([r for r in every if r["series"] == "previous_year"]) == len(body["previous_year"])
    for row, item in zip(rows, body["items"], strict=True):
        assert row["series"] == "this_year"
        assert row["period"] == item["period"] and row["room"] == item["room"]
        assert float(row["kwh"]) == item["kwh"] and float(row["coverage"]) == item["coverage"]
        assert row["co2e_source"] == body["factor"]["source"] and float(row["g_co2e_per_kwh"]) == 59.0


def test_energy_refuses_bad_queries_and_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/energy", params={"from": "2026-01-01", "to": "2026-01-31"}).status_code == 401
    for params in ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2026-01-01", "to": "2026-01-02",
                                                                 "level": "planet"},
                   {"from": "2026-01-01"}, {"from": "2026-13-01", "to": "2026-12-01"},
                   {"from": "2026-01-01", "to": "2026-01-02", "level": "room", "agent_id": "x"}):
        res = client.get("/api/v1/energy", params=params, headers=AUTH)
        assert res.status_code in (400, 422), (params, res.status_code, res.text)
