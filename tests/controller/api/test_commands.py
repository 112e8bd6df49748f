"""/api/v1/commands without a broker: errors, and expiry done by the commands.expire job, never by a read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.commands import jobs as command_jobs
from avfleet.controller.commands.models import CommandRecord
from avfleet.controller.jobs.runner import JobRunner
from avfleet.controller.settings import ControllerSettings, load_settings
from tests.controller.api.test_routes import AUTH, seed
from tests.controller.conftest import API_TOKEN


@pytest.fixture
def settings(db_url: str) -> ControllerSettings:
    return load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20)


@pytest.fixture
def client(settings: ControllerSettings, engine: Engine) -> Iterator[TestClient]:
    seed(engine)
    with TestClient(create_app(settings, engine)) as c:
        yield c


def put_command(engine: Engine, command_id: str, *, expired_s_ago: float, status: str = "sent") -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(CommandRecord.__table__.insert().values(
            command_id=command_id, agent_id="ag-jkp-1", device_id="pj1", action="power_on", args={},
            issued_at=now - timedelta(seconds=expired_s_ago + 60), expires_at=now - timedelta(seconds=expired_s_ago),
            status=status))


def test_overdue_command_is_expired_by_the_job_not_by_reading_it(
        client: TestClient, engine: Engine, settings: ControllerSettings) -> None:
    put_command(engine, "c-overdue", expired_s_ago=120)
    put_command(engine, "c-in-grace", expired_s_ago=5)  # an agent's late "expired" may still come
    put_command(engine, "c-done", expired_s_ago=120, status="done")
    for _ in range(2):  # reads change nothing, however often they come
        assert client.get("/api/v1/commands/c-overdue", headers=AUTH).json()["status"] == "sent"
        assert client.get("/api/v1/commands?status=expired", headers=AUTH).json()["total"] == 0

    runner = JobRunner(engine, command_jobs.jobs(settings), holder="test")
    assert runner.run_due() == ["commands.expire"]

    overdue = client.get("/api/v1/commands/c-overdue", headers=AUTH).json()
    assert overdue["status"] == "expired" and "expired" in overdue["detail"]
    assert client.get("/api/v1/commands/c-in-grace", headers=AUTH).json()["status"] == "sent"
    assert client.get("/api/v1/commands/c-done", headers=AUTH).json()["status"] == "done"
    listed = client.get("/api/v1/commands?status=expired", headers=AUTH).json()
    assert [c["id"] for c in listed["items"]] == ["c-overdue"] and listed["total"] == 1


def test_command_without_broker_is_failed_and_targets_are_checked(client: TestClient) -> None:
    res = client.post("/api/v1/commands", headers=AUTH,
                      json={"action": "power_on", "device_id": "pj1", "agent_id": "ag-jkp-1"})
    assert res.status_code == 202
    body = res.json()
    assert (body["status"], body["agent_id"], body["device_id"]) == ("failed", "ag-jkp-1", "pj1")
    assert "broker" in body["detail"]
    assert client.get(f"/api/v1/commands/{body['id']}", headers=AUTH).json() == body
    cases = [
        ({"action": "power_on", "device_id": "pj1"}, 409),  # pj1 is on two agents
        ({"action": "power_on", "device_id": "nope"}, 404),
        ({"action": "refresh", "agent_id": "nope"}, 404),
        ({"action": "refresh"}, 400),
        ({"action": "set_input", "device_id": "pj3"}, 400),
        ({"action": "av_mute", "device_id": "pj3", "args": {"on": "yes"}}, 400),
    ]
    for request, status in cases:
        res = client.post("/api/v1/commands", headers=AUTH, json=request)
        assert res.status_code == status, (request, res.text)
        assert isinstance(res.json()["detail"], str) and res.json()["detail"]
    assert client.get("/api/v1/commands", headers=AUTH).json()["total"] == 1
