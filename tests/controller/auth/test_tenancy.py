"""A viewer (and a technician) of Habo gets nothing of Jönköping through any GET route, the stream or the metrics.

The data come from contract messages through the real ingest writer: an agent with a faulty projector
in each municipality (so tickets and notification rows exist in both), and a command to each.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from avfleet.controller.api.stream import change_events
from avfleet.controller.auth.policy import RULES
from avfleet.controller.auth.principal import Scope
from tests.controller.auth.support import HABO_AGENT, JKPG_AGENT, World, feed_two_municipalities, make_world

# Any of these in an answer to a Habo caller is a leak.
JKPG_MARKS = ("Jönköping", "J\\u00f6nk\\u00f6ping", JKPG_AGENT, "Ekhagens")
YEAR = datetime.now(UTC).year


@pytest.fixture
def world(db_url, engine) -> Iterator[tuple[World, dict]]:
    w, settings = make_world(db_url, engine)
    feed_two_municipalities(settings, engine)
    with w.client:
        ids: dict = {}
        for agent in (HABO_AGENT, JKPG_AGENT):
            body = {"action": "power_off", "device_id": "pj-1", "agent_id": agent}
            res = w.client.post("/api/v1/commands", json=body, headers=w.auth("bootstrap"))
            assert res.status_code == 202, res.text
            ids[(agent, "command")] = res.json()["id"]
        tickets = w.client.get("/api/v1/tickets", headers=w.auth("bootstrap")).json()["items"]
        for t in tickets:
            ids.setdefault((t["agent_id"], "ticket"), t["id"])
        assert {(HABO_AGENT, "ticket"), (JKPG_AGENT, "ticket")} <= ids.keys()
        notes = w.client.get("/api/v1/notifications", headers=w.auth("bootstrap")).json()
        assert notes["total"] >= 2  # deliveries of both municipalities' tickets exist
        yield w, ids


def _fill(route_path: str, ids: dict) -> tuple[str, dict]:
    """The route with Jönköping's identifiers in it (what a curious Habo caller would try)."""
    values = {"agent_id": JKPG_AGENT, "device_id": "pj-1", "command_id": ids[(JKPG_AGENT, "command")],
              "ticket_id": str(ids[(JKPG_AGENT, "ticket")]), "municipality": "Jönköping"}
    path = re.sub(r"\{([^}]+)\}", lambda m: str(values.get(m.group(1), "1")), route_path)
    params: dict = {"agent_id": JKPG_AGENT} if "{device_id}" in route_path else {}
    if "/energy" in route_path:
        params.update({"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31", "level": "device"})
    return path, params


@pytest.mark.parametrize("caller", ["viewhabo", "techhabo"])
def test_every_get_route_shows_nothing_of_another_municipality(world, caller: str) -> None:
    w, ids = world
    checked = 0
    for (method, route_path), rule in sorted(RULES.items()):
        if method != "GET" or rule not in ("read", "any", "county", "read_scoped") or route_path.endswith("/stream"):
            continue
        path, params = _fill(route_path, ids)
        res = w.client.get(path, params=params, headers=w.auth(caller))
        assert res.status_code in (200, 403, 404, 422), (route_path, res.status_code, res.text)
        text = res.text
        if res.status_code != 200:
            # A refusal may repeat what the caller asked for (its own words), nothing more.
            for asked in (*path.split("/"), *map(str, params.values())):
                text = text.replace(asked, "")
        for mark in JKPG_MARKS:
            assert mark not in text, (caller, route_path, res.status_code, mark, res.text[:500])
        checked += 1
    assert checked >= 20


def test_lists_keep_their_own_municipality_and_direct_requests_answer_404(world) -> None:
    w, ids = world
    viewer, everyone = w.auth("viewhabo"), w.auth("bootstrap")
    for resource in ("agents", "devices", "commands", "tickets", "notifications"):
        mine = w.client.get(f"/api/v1/{resource}", headers=viewer).json()
        every = w.client.get(f"/api/v1/{resource}", headers=everyone).json()
        assert 0 < mine["total"] < every["total"], resource
        assert len(mine["items"]) == mine["total"]
    for path in (f"/api/v1/agents/{JKPG_AGENT}", f"/api/v1/devices/pj-1?agent_id={JKPG_AGENT}",
                 f"/api/v1/devices/pj-1/history?agent_id={JKPG_AGENT}",
                 f"/api/v1/commands/{ids[(JKPG_AGENT, 'command')]}", f"/api/v1/tickets/{ids[(JKPG_AGENT, 'ticket')]}"):
        assert w.client.get(path, headers=viewer).status_code == 404, path
        assert w.client.get(path, headers=everyone).status_code == 200, path
    # pj-1 exists on both agents: the Habo viewer sees one, not "several agents" (which would tell).
    mine = w.client.get("/api/v1/devices/pj-1", headers=viewer)
    assert mine.status_code == 200 and mine.json()["agent_id"] == HABO_AGENT
    assert w.client.get("/api/v1/devices/pj-1", headers=everyone).status_code == 409
    # A technician of Habo can act in Habo only: Jönköping's ticket and device are 404, not 403.
    tech = w.auth("techhabo")
    assert w.client.post(f"/api/v1/tickets/{ids[(JKPG_AGENT, 'ticket')]}/acknowledge", headers=tech).status_code == 404
    assert w.client.post(f"/api/v1/tickets/{ids[(HABO_AGENT, 'ticket')]}/acknowledge", headers=tech).status_code == 200
    res = w.client.post("/api/v1/commands", json={"action": "power_on", "device_id": "pj-1", "agent_id": JKPG_AGENT},
                        headers=tech)
    assert res.status_code == 404 and JKPG_AGENT in res.json()["detail"]  # its own words, nothing more
    assert w.client.get("/metrics", headers=viewer).status_code == 403
    assert w.client.get("/metrics", headers=w.auth("tech")).status_code == 200


class _Client:
    """The one thing change_events asks of the request: whether the client is still there."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    async def is_disconnected(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def test_the_stream_tells_a_limited_caller_of_its_municipalities_only(world) -> None:
    w, _ids = world
    ctx = w.client.app.state.context

    async def collect(scope: Scope) -> str:
        chunks = []
        events = change_events(_Client(2), ctx, 0.01, scope)
        async for chunk in events:
            chunks.append(chunk)
            if chunk.startswith("event: hello"):
                # Move everything's change time past the stream's start, so the poll reports it.
                _touch_everything(w)
        return "".join(chunks)

    habo = asyncio.run(collect(Scope(frozenset({"Habo"}))))
    county = asyncio.run(collect(Scope()))
    assert HABO_AGENT in habo and "event: ticket" in habo and "event: device" in habo
    assert JKPG_AGENT in county
    for mark in JKPG_MARKS:
        assert mark not in habo


def _touch_everything(w: World) -> None:
    import sqlalchemy as sa

    from avfleet.controller.fleet.models import Agent, Device
    from avfleet.controller.tickets.models import Ticket

    later = datetime.now(UTC) + timedelta(seconds=1)
    with w.engine.begin() as conn:
        for table, column in ((Agent.__table__, "changed_at"), (Device.__table__, "changed_at"),
                              (Ticket.__table__, "updated_at")):
            conn.execute(sa.update(table).values({column: later}))
