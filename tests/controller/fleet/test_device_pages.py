"""The device list's pages (queries.list_devices: keys first, then the rows; a count without the join
when nothing needs the agents) on SQLite and PostgreSQL: every page in order, totals under filters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.db import write_transaction
from avfleet.controller.fleet import queries
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.fleet.queries import Filters

T = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
# Agent ids that sort differently from their municipalities, and device ids that repeat across agents.
AGENTS = {"a-habo": "Habo", "b-jkpg": "Jönköping", "c-habo": "Habo"}


def fill(engine: Engine) -> list[tuple[str, str]]:
    pairs = [(agent, f"pj-{n:02d}") for agent in AGENTS for n in range(7)]
    with write_transaction(engine) as conn:
        conn.execute(Agent.__table__.insert(), [
            {"agent_id": a, "municipality": m, "school": "S", "room": "R", "state": "online", "first_seen": T,
             "changed_at": T} for a, m in AGENTS.items()])
        conn.execute(Device.__table__.insert(), [
            {"agent_id": a, "device_id": dev, "kind": "projector", "changed_at": T,
             "power": "on" if n % 3 == 0 else "standby", "availability": "online"}
            for n, (a, dev) in enumerate(pairs)])
    return pairs


def pages(engine: Engine, f: Filters, size: int, scope: Scope = COUNTY) -> tuple[list[tuple[str, str]], set[int]]:
    seen, totals, offset = [], set(), 0
    with engine.connect() as conn:
        while True:
            items, total = queries.list_devices(conn, f, size, offset, scope)
            totals.add(total)
            if not items:
                return seen, totals
            seen += [(i["agent_id"], i["id"]) for i in items]
            offset += size


def test_pages_cover_the_ordered_list_once_with_and_without_place_filters(engine: Engine) -> None:
    pairs = fill(engine)
    everything, totals = pages(engine, Filters(), 4)
    assert everything == sorted(pairs) and totals == {21}
    habo, totals = pages(engine, Filters(municipality="Habo"), 3)
    assert habo == sorted(p for p in pairs if AGENTS[p[0]] == "Habo") and totals == {14}
    on = [p for n, p in enumerate(pairs) if n % 3 == 0]
    assert pages(engine, Filters(state="on"), 2) == (sorted(on), {len(on)})
    jkpg_on = sorted(p for p in on if AGENTS[p[0]] == "Jönköping")
    assert pages(engine, Filters(state="on"), 2, Scope(frozenset({"Jönköping"}))) == (jkpg_on, {len(jkpg_on)})
    with engine.connect() as conn:
        items, total = queries.list_devices(conn, Filters(), 5, 19)
        assert [(i["agent_id"], i["id"], i["municipality"]) for i in items] == [
            ("c-habo", "pj-05", "Habo"), ("c-habo", "pj-06", "Habo")] and total == 21
