"""The fleet rules on real SQLite and PostgreSQL: dedup, no older-over-newer, transitions, inventory swaps."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.commands import service as commands
from avfleet.controller.commands.models import CommandRecord
from avfleet.controller.fleet.models import Agent, Device, DeviceEvent, DeviceTransition
from avfleet.controller.fleet.service import FleetService
from avfleet.controller.inventory.models import InventoryRecord
from avfleet.protocols.mqtt.payloads import parse_agent_message
from avfleet.protocols.mqtt.topics import parse_topic
from tests.controller import support


def parse(*pairs: tuple[str, bytes]) -> list:
    return [parse_agent_message(parse_topic(t), p) for t, p in pairs]


def apply(engine: Engine, *pairs: tuple[str, bytes]):
    """One batch as the ingest writer commits it: the fleet rules, then the commands domain's results."""
    with engine.begin() as conn:
        outcome = FleetService().apply(conn, parse(*pairs))
        commands.file_results(conn, outcome.command_results)
        return outcome


def device(engine: Engine, agent_id: str, device_id: str):
    d = Device.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(d).where(d.c.agent_id == agent_id, d.c.device_id == device_id)).one()


def history(engine: Engine) -> list:
    h = DeviceTransition.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(h).order_by(h.c.observed_at, h.c.id)).all()


def test_duplicate_seq_is_applied_once_in_and_across_batches(engine: Engine) -> None:
    msg = support.event("ag1", "pj1", 7, at=1)
    first = apply(engine, msg, msg)
    second = apply(engine, msg)
    assert (first.received, first.duplicates) == (1, 1)
    assert (second.received, second.duplicates) == (0, 1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(DeviceEvent.__table__)).scalar_one() == 1


def test_history_records_transitions_not_repeats(engine: Engine) -> None:
    apply(engine,
          support.state("ag1", "pj1", 1, at=0, power="standby"),
          support.state("ag1", "pj1", 2, at=30, power="standby"),
          support.state("ag1", "pj1", 3, at=60, power="warming"))
    apply(engine,
          support.state("ag1", "pj1", 4, at=90, power="on"),
          support.state("ag1", "pj1", 5, at=120, power="on"),
          support.state("ag1", "pj1", 6, at=150, power="on", faults={"lamp": "warning"}))
    rows = history(engine)
    assert [(r.power, r.active_faults, r.seq) for r in rows] == [
        ("standby", "", 1), ("warming", "", 3), ("on", "", 4), ("on", "lamp", 6)]
    current = device(engine, "ag1", "pj1")
    assert (current.power, current.active_faults) == ("on", "lamp")
    assert current.last_change == rows[-1].observed_at == support.EPOCH + timedelta(seconds=150)
    assert current.observed_at == rows[-1].observed_at


def test_replayed_older_state_is_filed_but_never_overwrites_newer(engine: Engine) -> None:
    apply(engine, support.state("ag1", "pj1", 10, at=100, power="on"))
    outcome = apply(engine, support.state("ag1", "pj1", 3, at=40, power="standby", availability="online",
                                          replayed=True))
    assert outcome.stale_states == 1
    current = device(engine, "ag1", "pj1")
    assert current.power == "on"
    assert current.status["power"] == "on"
    rows = history(engine)
    assert [(r.power, r.replayed) for r in rows] == [("standby", True), ("on", False)]
    # The same old state again under another seq: not a new transition.
    apply(engine, support.state("ag1", "pj1", 4, at=50, power="standby", replayed=True))
    assert len(history(engine)) == 2


def test_state_with_equal_timestamp_replaces_current_only_by_a_higher_seq_of_the_same_epoch(engine: Engine) -> None:
    apply(engine, support.state("ag1", "pj1", 1, at=10, power="on"))
    apply(engine, support.state("ag1", "pj1", 2, at=10, power="standby"))
    assert device(engine, "ag1", "pj1").power == "standby"  # seq orders the states of one outbox epoch
    # Another epoch (a reinstalled agent): a replayed state needs a newer time, a live one wins.
    apply(engine, support.state("ag1", "pj1", 9, at=10, power="on", epoch="a1", replayed=True))
    assert device(engine, "ag1", "pj1").power == "standby"
    apply(engine, support.state("ag1", "pj1", 1, at=5, power="on", epoch="b2"))  # its clock still lags
    assert device(engine, "ag1", "pj1").power == "on"
    apply(engine, support.state("ag1", "pj1", 2, at=6, power="standby", epoch="b2"))
    assert device(engine, "ag1", "pj1").power == "standby"


def test_new_serial_closes_the_inventory_record_as_swapped(engine: Engine) -> None:
    apply(engine, support.state("ag1", "pj1", 1, at=0, serial="A-100", firmware="1.0"))
    apply(engine, support.state("ag1", "pj1", 2, at=30, serial="A-100", firmware="1.1"))
    outcome = apply(engine, support.state("ag1", "pj1", 3, at=60, serial="B-200", firmware="2.0"))
    assert outcome.swapped_units == 1
    inv = InventoryRecord.__table__
    with engine.connect() as conn:
        records = conn.execute(sa.select(inv).order_by(inv.c.id)).all()
    assert [(r.serial, r.firmware, r.closed_reason) for r in records] == [
        ("A-100", "1.1", "swapped"), ("B-200", "2.0", None)]
    assert records[0].closed_at == records[1].first_seen
    assert device(engine, "ag1", "pj1").serial == "B-200"


def test_birth_status_and_health_fill_the_agent(engine: Engine) -> None:
    apply(engine,
          support.birth("ag1", 1, municipality="Jönköping", school="Ekhagens skola", room="A12",
                        devices=["pj1", "pj2"]),
          support.status("ag1", 2, "online", at=1),
          support.health("ag1", 3, at=2))
    apply(engine, support.status("ag1", 4, "lost", at=0.5))  # older than the online above: ignored
    a = Agent.__table__
    with engine.connect() as conn:
        agent = conn.execute(sa.select(a)).one()
        devices = conn.execute(sa.select(Device.__table__.c.device_id).order_by("device_id")).scalars().all()
    assert (agent.municipality, agent.school, agent.room) == ("Jönköping", "Ekhagens skola", "A12")
    assert agent.state == "online"
    assert agent.health["uptime_s"] == 12.5
    assert agent.last_seen == support.EPOCH + timedelta(seconds=2)
    assert devices == ["pj1", "pj2"]


def test_command_result_closes_an_open_command_only(engine: Engine) -> None:
    apply(engine, support.status("ag1", 1, "online"))
    c = CommandRecord.__table__
    with engine.begin() as conn:
        conn.execute(c.insert().values(command_id="c1", agent_id="ag1", device_id="pj1", action="power_on", args={},
                                       issued_at=support.EPOCH, expires_at=support.EPOCH, status="sent"))
    done = apply(engine, support.command_result("ag1", 2, "c1", "pj1", "done", at=5))
    assert [r.command_id for r in done.command_results] == ["c1"]
    apply(engine, support.command_result("ag1", 3, "c1", "pj1", "failed", at=6))
    repeat = apply(engine, support.command_result("ag1", 2, "c1", "pj1", "done", at=5))
    assert repeat.command_results == []  # a redelivery is deduplicated before it reaches the commands domain
    with engine.connect() as conn:
        row = conn.execute(sa.select(c)).one()
    assert (row.status, row.result_at) == ("done", support.EPOCH + timedelta(seconds=5))


def test_fleet_ingest_leaves_the_commands_table_to_the_commands_domain(engine: Engine) -> None:
    apply(engine, support.status("ag1", 1, "online"))
    c = CommandRecord.__table__
    with engine.begin() as conn:
        conn.execute(c.insert().values(command_id="c1", agent_id="ag1", device_id="pj1", action="power_on", args={},
                                       issued_at=support.EPOCH, expires_at=support.EPOCH, status="sent"))
        FleetService().apply(conn, parse(support.command_result("ag1", 2, "c1", "pj1", "done", at=5)))
        assert conn.execute(sa.select(c.c.status)).scalar_one() == "sent"


def test_late_state_between_two_transitions_is_filed_and_repairs_its_successor(engine: Engine) -> None:
    apply(engine, support.state("ag1", "pj1", 1, at=10, power="standby"))
    apply(engine, support.state("ag1", "pj1", 3, at=30, power="on"))
    # seq 2 (on at t=20) arrives last: it is the real transition; the row at t=30 becomes a repeat.
    apply(engine, support.state("ag1", "pj1", 2, at=20, power="on"))
    rows = history(engine)
    assert [(r.seq, r.power) for r in rows] == [(1, "standby"), (2, "on")]
    current = device(engine, "ag1", "pj1")
    assert current.observed_at == support.EPOCH + timedelta(seconds=30)
    assert current.last_change == support.EPOCH + timedelta(seconds=20)
