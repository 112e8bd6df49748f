"""An API app with one user per role, each with a token; a fleet in two municipalities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.auth import service
from avfleet.controller.db import write_transaction
from avfleet.controller.ingest.writer import BatchWriter
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN
from tests.controller.support import EPOCH, birth, state, status

ADMIN_PASSWORD = "adm1n-passw0rd-long"
PASSWORD = "a-long-enough-password"
HABO_AGENT, JKPG_AGENT = "hab-furu-c3", "jkpg-ekhagen-a12"
# Role name -> (role, municipalities) of the users the tests act as.
USERS = {
    "boss": ("admin", []),
    "tech": ("technician", []),
    "techhabo": ("technician", ["Habo"]),
    "viewhabo": ("viewer", ["Habo"]),
}


def settings_for(db_url: str):
    return load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="x" * 20,
                         admin_password=ADMIN_PASSWORD, agent_lost_after_s=3600, notify_min_interval_s=0,
                         webhooks=[{"url": "http://127.0.0.1:9/hook", "secret": "s3cret-for-the-test"}])


@dataclass
class World:
    client: TestClient
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def make_users(engine: Engine) -> dict[str, str]:
    tokens = {"bootstrap": API_TOKEN}
    with write_transaction(engine) as conn:
        for name, (role, municipalities) in USERS.items():
            service.create_user(conn, name, role, municipalities, PASSWORD)
            tokens[name] = service.create_token(conn, name, "tests")[0]
    return tokens


def feed_two_municipalities(settings, engine: Engine) -> None:
    """An agent with a faulty projector in Habo and one in Jönköping (tickets and outbox rows follow)."""
    writer = BatchWriter(settings, engine)
    t = (datetime.now(UTC) - EPOCH).total_seconds() - 60
    for agent, municipality, school in ((HABO_AGENT, "Habo", "Furuskolan"),
                                        (JKPG_AGENT, "Jönköping", "Ekhagens skola")):
        writer.write([birth(agent, 1, municipality=municipality, school=school, room="R1", devices=["pj-1"], at=t),
                      status(agent, 2, "online", at=t + 1)])
        writer.write([state(agent, "pj-1", 3, at=t + 2, power="on", faults={"lamp": "error"}, lamp_hours=4700)])
        writer.write([state(agent, "pj-1", 4, at=t + 3, power="on", faults={"lamp": "error", "fan": "error"},
                            lamp_hours=4701)])


def make_world(db_url: str, engine: Engine) -> tuple[World, object]:
    settings = settings_for(db_url)
    client = TestClient(create_app(settings, engine))
    return World(client, engine, make_users(engine)), settings
