"""Two municipalities with one of everything, for the route-rule and tenancy walks.

Jönköping and Värnamo each get an agent with a faulty projector (so tickets, notifications and the
status history exist), a command, a register unit that the projector's serial matches, a repair
case, a schedule with a run, a power run, a school calendar, energy rows (the day's roll-up) and
the audit rows all of that wrote. Everything goes in the way it would in production: contract
messages through the real ingest writer, changes through the API as the bootstrap admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from avfleet.controller.api.app import create_app
from avfleet.controller.auth import service
from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.ingest.writer import BatchWriter
from avfleet.controller.migrate import upgrade
from tests.controller.auth.support import PASSWORD, settings_for
from tests.controller.conftest import API_TOKEN, _truncate
from tests.controller.support import EPOCH, birth, state, status

JKPG, VMO = "Jönköping", "Värnamo"
# Per municipality: agent, school, the projector's serial.
PLACES = {
    JKPG: ("jkpg-ekhagen-a12", "Ekhagens skola", "JKPG-SN-0042"),
    VMO: ("vmo-grondal-b7", "Gröndalsskolan", "VMO-SN-0077"),
}
DEVICE = "pj-1"  # the same device id in both: a lookup without an agent must not tell there are two
# Users the walks act as: name -> (role, municipalities).
USERS = {
    "boss": ("admin", []),
    "tech": ("technician", []),
    "techjkpg": ("technician", [JKPG]),
    "viewjkpg": ("viewer", [JKPG]),
    "spare": ("viewer", [JKPG]),  # the one the admin routes disable, enable and unlock
}
# Anything of these in an answer to a Jönköping caller is a leak (JSON may escape the ä).
VMO_AGENT, VMO_SCHOOL, VMO_SERIAL = PLACES[VMO]
VMO_MARKS = (VMO, "V\\u00e4rnamo", VMO_AGENT, VMO_SCHOOL, "Gr\\u00f6ndal", VMO_SERIAL)


@dataclass
class World:
    client: TestClient
    engine: Engine
    settings: object
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[tuple[str, str], object] = field(default_factory=dict)  # (municipality, what) -> id

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user != "anonymous" else {}

    def id(self, municipality: str, what: str) -> object:
        return self.ids[(municipality, what)]


def _ok(res, *codes: int) -> dict:
    assert res.status_code in (codes or (200, 201, 202)), (res.request.method, res.request.url, res.text)
    return res.json() if res.content else {}


def _feed(world: World) -> None:
    writer = BatchWriter(world.settings, world.engine)
    t = (datetime.now(UTC) - EPOCH).total_seconds() - 120
    for municipality, (agent, school, serial) in PLACES.items():
        writer.write([birth(agent, 1, municipality=municipality, school=school, room="Sal 3", devices=[DEVICE], at=t),
                      status(agent, 2, "online", at=t + 1)])
        writer.write([state(agent, DEVICE, 3, at=t + 2, power="on", faults={"lamp": "error"}, lamp_hours=4700,
                            serial=serial)])
        writer.write([state(agent, DEVICE, 4, at=t + 3, power="on", faults={"lamp": "error", "fan": "error"},
                            lamp_hours=4701, serial=serial)])


def _seed(world: World) -> None:
    c, admin = world.client, world.auth("bootstrap")
    _feed(world)
    rows = ["municipality,school,room,kind,manufacturer,model,serial,mac,firmware,install_date,purchase_date,"
            "supplier,warranty_end,lifecycle,notes"]
    for municipality, (_agent, school, serial) in PLACES.items():
        rows.append(f"{municipality},{school},Sal 3,projector,EPSON,EB-2250U,{serial},,,2024-08-15,2024-06-01,"
                    f"Atea Sverige AB,2029-06-01,in_use,")
        rows.append(f"{municipality},{school},Sal 4,projector,EPSON,EB-2250U,{serial}-SPARE,,,2024-08-15,"
                    f"2024-06-01,Atea Sverige AB,2029-06-01,spare,")
    _ok(c.post("/api/v1/inventory/import", content="\n".join(rows).encode(), headers=admin))
    units = _ok(c.get("/api/v1/inventory", headers=admin))["items"]
    tickets = _ok(c.get("/api/v1/tickets", headers=admin))["items"]
    for municipality, (agent, school, serial) in PLACES.items():
        ids = world.ids
        ids[(municipality, "agent_id")] = agent
        ids[(municipality, "school")] = school
        ids[(municipality, "serial")] = serial
        ids[(municipality, "unit_id")] = next(u["id"] for u in units if u["serial"] == serial)
        ids[(municipality, "spare_unit_id")] = next(u["id"] for u in units if u["serial"] == f"{serial}-SPARE")
        ids[(municipality, "ticket_id")] = next(t["id"] for t in tickets if t["agent_id"] == agent)
        ids[(municipality, "command_id")] = _ok(c.post("/api/v1/commands", headers=admin, json={
            "action": "power_off", "device_id": DEVICE, "agent_id": agent}))["id"]
        ids[(municipality, "case_id")] = _ok(c.post("/api/v1/repairs", headers=admin, json={
            "unit_id": ids[(municipality, "unit_id")], "supplier_case": f"{serial}-CASE"}))["id"]
        schedule = _ok(c.post("/api/v1/schedules", headers=admin, json={
            "name": f"Kväll {school}", "action": "power_off", "times": ["17:30"],
            "scope": {"municipality": municipality}}))
        ids[(municipality, "schedule_id")] = schedule["id"]
        ids[(municipality, "run_id")] = _ok(c.post(f"/api/v1/schedules/{schedule['id']}/run", headers=admin))["id"]
        ids[(municipality, "power_run_id")] = _ok(c.post("/api/v1/power", headers=admin, json={
            "action": "power_off", "scope": {"municipality": municipality, "school": school}}))["id"]
        _ok(c.put(f"/api/v1/calendars/{municipality}", headers=admin, json={"days": [
            {"start": f"{datetime.now(UTC).year}-10-26", "end": f"{datetime.now(UTC).year}-10-30",
             "kind": "break", "name": f"Höstlov {municipality}"}]}))
    # One to delete in the route walk, and a county-wide one no limited caller may see.
    world.ids[(JKPG, "spare_schedule_id")] = _ok(c.post("/api/v1/schedules", headers=admin, json={
        "name": "Att ta bort", "action": "power_on", "times": ["07:30"], "scope": {"municipality": JKPG}}))["id"]
    # A county-wide schedule: no limited caller may see it.
    world.ids[("county", "schedule_id")] = _ok(c.post("/api/v1/schedules", headers=admin, json={
        "name": "Hela länet", "action": "power_off", "times": ["18:00"]}))["id"]
    _rollup_today(world)
    with write_transaction(world.engine) as conn:
        world.ids[("spare", "token_id")] = service.create_token(conn, "spare", "walk")[1]["id"]


def _rollup_today(world: World) -> None:
    """energy_daily rows (yesterday's roll-up, as the nightly job writes them) for both projectors."""
    from avfleet.controller.energy.rollup import rollup_days_apart
    from avfleet.controller.energy.watts import WattsResolver

    now = datetime.now(UTC)
    rollup_days_apart(world.engine, [(now - timedelta(days=1)).date()], now, (time(8), time(16)), WattsResolver())


def _users(engine: Engine) -> dict[str, str]:
    tokens = {"bootstrap": API_TOKEN}
    with write_transaction(engine) as conn:
        for name, (role, municipalities) in USERS.items():
            service.create_user(conn, name, role, municipalities, PASSWORD)
            tokens[name] = service.create_token(conn, name, "tests")[0]
    return tokens


def open_world(kind: str, tmp_path_factory, request) -> Iterator[World]:
    """A seeded world on a fresh SQLite file or the session's PostgreSQL database (emptied first)."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'avfleet.db'}"
        engine = create_db_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("pg_url")
        engine = create_db_engine(url)
        _truncate(engine)
    settings = settings_for(url)
    try:
        with TestClient(create_app(settings, engine)) as client:
            world = World(client, engine, settings, _users(engine))
            _seed(world)
            yield world
    finally:
        engine.dispose()
