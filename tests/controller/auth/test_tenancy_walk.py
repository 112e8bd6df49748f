"""A viewer (and a technician) of Jönköping gets nothing of Värnamo through any GET route, the stream or an error.

The world (world.py) holds one of everything in each municipality. The walk reads `app.routes`, so
the reports' routes and the dashboard's pages are walked as soon as they exist: each GET route once
with Jönköping's ids (it answers, and no Värnamo name, id or serial is anywhere in the body) and,
where it takes an id or a municipality, once with Värnamo's (404, saying no more than was asked).
Then the writes: a limited technician's change of a Värnamo thing is 404 and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from starlette.routing import Mount

from avfleet.controller.api.stream import change_events
from avfleet.controller.auth.principal import Scope
from tests.controller.auth.support import PASSWORD
from tests.controller.auth.test_route_rules import app_routes, fill, rule_for
from tests.controller.auth.world import DEVICE, JKPG, VMO, VMO_AGENT, VMO_MARKS, World, open_world

REFUSED_BY_RULE = {"admin", "county", "admin_page"}  # a limited caller's answer there is 403 (a page's 404)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(tmp_path_factory, request) -> Iterator[World]:
    yield from open_world(request.param, tmp_path_factory, request)


def _leaks(text: str, asked: list[str]) -> list[str]:
    for word in asked:  # a refusal may repeat what the caller sent, nothing more
        text = text.replace(word, "")
    return [mark for mark in VMO_MARKS if mark in text]


def _session(world: World, user: str) -> str:
    res = world.client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert res.status_code == 200, res.text
    world.client.cookies.clear()
    return res.cookies["avfleet_session"]


@pytest.mark.parametrize("caller", ["viewjkpg", "techjkpg"])
def test_every_get_route_shows_nothing_of_varnamo(world: World, caller: str) -> None:
    cookie = {"Cookie": f"avfleet_session={_session(world, caller)}"}
    checked = 0
    for method, route_path, route in sorted(app_routes(world.client.app), key=lambda x: x[1]):
        rule = rule_for(method, route_path, route)
        if method != "GET" or isinstance(route, Mount) or rule == "public" or route_path.endswith("/stream"):
            continue
        headers = cookie if rule in ("page", "admin_page") else world.auth(caller)
        refused = 404 if rule == "admin_page" else 403
        for municipality in (JKPG, VMO):
            path, params = fill(world, method, route_path, municipality)
            names_other = municipality == VMO and ("{" in route_path or "municipality" in params)
            if municipality == VMO and not names_other:
                continue
            res = world.client.get(path, params=params, headers=headers, follow_redirects=False)
            where = (caller, municipality, route_path, res.status_code, res.text[:400])
            if rule in REFUSED_BY_RULE:
                assert res.status_code == refused, where
            elif municipality == JKPG:
                assert res.status_code == 200 or (rule == "read_scoped" and res.status_code in (403, 404)), where
            elif "{" in route_path:
                assert res.status_code == 404, where  # another municipality's thing does not exist
            else:
                assert res.status_code in (200, 403, 404), where  # a list of Värnamo: empty or refused
            asked = [*path.split("/"), *map(str, params.values())] if res.status_code != 200 else []
            assert not _leaks(res.text, asked), (where, _leaks(res.text, asked))
            checked += 1
    assert checked >= 50


def test_lists_leave_varnamo_out_and_direct_lookups_answer_404(world: World) -> None:
    c, viewer, everyone = world.client, world.auth("viewjkpg"), world.auth("bootstrap")
    for resource in ("agents", "devices", "commands", "tickets", "notifications", "inventory", "repairs",
                     "schedules", "power/runs"):
        mine = c.get(f"/api/v1/{resource}", headers=viewer).json()
        every = c.get(f"/api/v1/{resource}", headers=everyone).json()
        assert 0 < mine["total"] < every["total"], resource
        assert len(mine["items"]) == mine["total"], resource
    schedules = {s["id"] for s in c.get("/api/v1/schedules", headers=viewer).json()["items"]}
    assert world.id(JKPG, "schedule_id") in schedules and world.id("county", "schedule_id") not in schedules
    for path in (f"/api/v1/agents/{VMO_AGENT}", f"/api/v1/devices/{DEVICE}?agent_id={VMO_AGENT}",
                 f"/api/v1/commands/{world.id(VMO, 'command_id')}", f"/api/v1/tickets/{world.id(VMO, 'ticket_id')}",
                 f"/api/v1/inventory/{world.id(VMO, 'unit_id')}", f"/api/v1/repairs/{world.id(VMO, 'case_id')}",
                 f"/api/v1/schedules/{world.id(VMO, 'schedule_id')}", f"/api/v1/runs/{world.id(VMO, 'run_id')}",
                 f"/api/v1/runs/{world.id(VMO, 'power_run_id')}", f"/api/v1/calendars/{VMO}",
                 f"/api/v1/schedules/{world.id('county', 'schedule_id')}"):
        assert c.get(path, headers=viewer).status_code == 404, path
        assert c.get(path, headers=everyone).status_code == 200, path
    # pj-1 is on both agents: the viewer sees its own, not "several agents" (which would tell).
    mine = c.get(f"/api/v1/devices/{DEVICE}", headers=viewer)
    assert mine.status_code == 200 and mine.json()["agent_id"] == world.id(JKPG, "agent_id")
    csv = c.get("/api/v1/inventory/export.csv", headers=viewer).text
    assert world.id(JKPG, "serial") in csv and not _leaks(csv, [])
    assert c.get("/metrics", headers=viewer).status_code == 403
    assert c.get("/api/v1/audit.csv", headers=viewer).status_code == 403


def test_a_limited_technician_changes_nothing_of_varnamo(world: World) -> None:
    c, tech = world.client, world.auth("techjkpg")
    unit, spare, case = world.id(VMO, "unit_id"), world.id(VMO, "spare_unit_id"), world.id(VMO, "case_id")
    refused = [
        ("PATCH", f"/api/v1/inventory/{unit}", {"notes": "mine now"}),
        ("POST", f"/api/v1/inventory/{spare}/retire", {}),
        ("POST", f"/api/v1/inventory/{spare}/reuse", {"municipality": JKPG, "school": "Ekhagens skola",
                                                       "room": "Sal 9"}),
        ("POST", "/api/v1/repairs", {"unit_id": spare}),
        ("POST", "/api/v1/repairs", {"ticket_id": world.id(VMO, "ticket_id")}),
        ("PATCH", f"/api/v1/repairs/{case}", {"supplier_case": "X"}),
        ("POST", f"/api/v1/repairs/{case}/close", {"outcome": "returned"}),
        ("PUT", f"/api/v1/schedules/{world.id(VMO, 'schedule_id')}",
         {"name": "x", "action": "power_off", "times": ["17:00"], "scope": {"municipality": JKPG}}),
        ("DELETE", f"/api/v1/schedules/{world.id(VMO, 'schedule_id')}", None),
        ("POST", f"/api/v1/schedules/{world.id(VMO, 'schedule_id')}/run", None),
        ("POST", "/api/v1/schedules", {"name": "x", "action": "power_off", "times": ["17:00"],
                                       "scope": {"municipality": VMO}}),
        ("POST", "/api/v1/schedules", {"name": "x", "action": "power_off", "times": ["17:00"],
                                       "scope": {"devices": [{"agent_id": VMO_AGENT, "device_id": DEVICE}]}}),
        ("POST", "/api/v1/power", {"action": "power_off", "scope": {"municipality": VMO}}),
        ("PUT", f"/api/v1/calendars/{VMO}", {"days": []}),
        ("POST", f"/api/v1/tickets/{world.id(VMO, 'ticket_id')}/acknowledge", None),
        ("POST", "/api/v1/commands", {"action": "power_on", "device_id": DEVICE, "agent_id": VMO_AGENT}),
    ]
    before = _snapshot(world)
    for method, path, body in refused:
        res = c.request(method, path, json=body, headers=tech)
        assert res.status_code == 404, (method, path, res.status_code, res.text)
        asked = [*path.split("/"), *(str(v) for v in (body or {}).values()), VMO_AGENT, DEVICE, VMO]
        assert not _leaks(res.text, asked), (path, res.text)
    # A whole-county scope is not another municipality's thing but no limited caller's either: 403.
    county = c.post("/api/v1/power", json={"action": "power_off", "scope": {}}, headers=tech)
    assert county.status_code == 403, county.text
    assert _snapshot(world) == before
    # Their own municipality they may change, and a Värnamo row in an import is an error row.
    own = c.post("/api/v1/schedules", headers=tech, json={"name": "Egen", "action": "power_off", "times": ["19:00"],
                                                          "scope": {"municipality": JKPG}})
    assert own.status_code == 201, own.text
    assert c.delete(f"/api/v1/schedules/{own.json()['id']}", headers=tech).status_code == 204
    header = "municipality,school,room,kind,manufacturer,model,serial,mac,firmware,install_date,purchase_date," \
             "supplier,warranty_end,lifecycle,notes\n"
    csv = (header + f"{VMO},Gröndalsskolan,Sal 1,projector,,,NEW-1,,,,,,,in_use,\n"
           f"{JKPG},Ekhagens skola,Sal 1,projector,,,{world.id(VMO, 'serial')},,,,,,,in_use,\n")
    res = c.post("/api/v1/inventory/import?dry_run=true", content=csv.encode(), headers=tech)
    report = res.json()
    assert res.status_code == 200, res.text
    assert [r["errors"][0]["field"] for r in report["rows"]] == ["municipality", "serial"], report
    assert not _leaks(str(report), [VMO, world.id(VMO, "serial")])
    # Every refusal is in the audit trail as failed, with who and from where.
    with world.engine.connect() as conn:
        from avfleet.controller.auth.models import AuditEntry

        a = AuditEntry.__table__.c
        failed = conn.execute(sa.select(a.action, a.client_ip).where(a.actor == "techjkpg", a.result == "failed")).all()
    actions = {r.action for r in failed}
    assert {"inventory.edit", "repair.open", "schedule.update", "schedule.create", "power.run",
            "calendar.import", "command.issue", "ticket.acknowledge"} <= actions, actions
    assert all(r.client_ip for r in failed)


def test_a_schedule_spanning_both_municipalities_is_the_countys(world: World) -> None:
    c, admin, tech = world.client, world.auth("bootstrap"), world.auth("techjkpg")
    both = [{"agent_id": world.id(m, "agent_id"), "device_id": DEVICE} for m in (JKPG, VMO)]
    body = {"name": "Två kommuner", "action": "power_off", "times": ["20:00"], "scope": {"devices": both}}
    spanning = c.post("/api/v1/schedules", json=body, headers=admin).json()["id"]
    mine = c.post("/api/v1/schedules", headers=tech, json={**body, "scope": {"devices": both[:1]}})
    assert mine.status_code == 201, mine.text
    listed = {s["id"] for s in c.get("/api/v1/schedules", params={"limit": 1000}, headers=tech).json()["items"]}
    assert mine.json()["id"] in listed and spanning not in listed
    assert c.get(f"/api/v1/schedules/{spanning}", headers=tech).status_code == 404
    assert c.put(f"/api/v1/schedules/{spanning}", json={**body, "scope": {"devices": both[:1]}},
                 headers=tech).status_code == 404
    assert c.get(f"/api/v1/schedules/{spanning}/runs", headers=tech).status_code == 404
    assert c.post("/api/v1/schedules", json=body, headers=tech).status_code == 404  # names Värnamo's device
    for schedule_id in (spanning, mine.json()["id"]):
        assert c.delete(f"/api/v1/schedules/{schedule_id}", headers=admin).status_code == 204


def _snapshot(world: World) -> list:
    from avfleet.controller.inventory.models import InventoryUnit, RepairCase
    from avfleet.controller.schedules.models import Schedule, ScheduleRun

    with world.engine.connect() as conn:
        return [conn.execute(sa.select(t).order_by(t.c.id)).all()
                for t in (InventoryUnit.__table__, RepairCase.__table__, Schedule.__table__, ScheduleRun.__table__)]


class _Client:
    """The one thing change_events asks of the request: whether the client is still there."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    async def is_disconnected(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def test_the_stream_tells_a_limited_caller_of_its_municipality_only(world: World) -> None:
    ctx = world.client.app.state.context

    async def collect(scope: Scope) -> str:
        chunks = []
        async for chunk in change_events(_Client(2), ctx, 0.01, scope):
            chunks.append(chunk)
            if chunk.startswith("event: hello"):
                _touch_everything(world)  # past the stream's start, so its first poll reports everything
        return "".join(chunks)

    mine = asyncio.run(collect(Scope(frozenset({JKPG}))))
    county = asyncio.run(collect(Scope()))
    assert world.id(JKPG, "agent_id") in mine and "event: ticket" in mine and "event: device" in mine
    assert VMO_AGENT in county
    assert not _leaks(mine, [])


def _touch_everything(world: World) -> None:
    from avfleet.controller.fleet.models import Agent, Device
    from avfleet.controller.tickets.models import Ticket

    later = datetime.now(UTC) + timedelta(seconds=1)
    with world.engine.begin() as conn:
        for table, column in ((Agent.__table__, "changed_at"), (Device.__table__, "changed_at"),
                              (Ticket.__table__, "updated_at")):
            conn.execute(sa.update(table).values({column: later}))


def test_a_unit_seen_in_varnamo_is_moved_without_naming_where(world: World) -> None:
    from avfleet.controller.inventory import register

    unit_id, now = world.id(JKPG, "spare_unit_id"), datetime.now(UTC)
    with world.engine.begin() as conn:  # Värnamo's agent reports Jönköping's spare unit (the ingest's call)
        register.follow_observation(conn, register.unit_row(conn, unit_id), agent_id=VMO_AGENT, device_id=DEVICE,
                                    firmware="9.9", manufacturer=None, model=None, serial=None, mac=None, now=now)
    try:
        mine = world.client.get(f"/api/v1/inventory/{unit_id}", headers=world.auth("viewjkpg")).json()
        every = world.client.get(f"/api/v1/inventory/{unit_id}", headers=world.auth("bootstrap")).json()
        assert mine["moved"] and mine["seen_at"] is None and mine["agent_id"] is None, mine
        assert not _leaks(str(mine), []), mine
        assert any(h["by"] == "agent" for h in mine["history"])
        assert every["seen_at"]["municipality"] == VMO and every["agent_id"] == VMO_AGENT
        listed = world.client.get("/api/v1/inventory", headers=world.auth("viewjkpg")).json()
        assert not _leaks(str(listed), [])
    finally:
        with world.engine.begin() as conn:
            register.apply(conn, register.unit_row(conn, unit_id), {"agent_id": None, "device_id": None}, "tests",
                           now)
