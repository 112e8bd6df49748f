"""Tickets from ingested messages, through the real ingest writer, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from avfleet.controller.db import write_transaction
from avfleet.controller.ingest.writer import BatchWriter
from avfleet.controller.notifications.models import Notification
from avfleet.controller.settings import load_settings
from avfleet.controller.tickets import jobs
from avfleet.controller.tickets.models import Ticket, TicketNote
from avfleet.controller.tickets.service import TicketService
from tests.controller.support import EPOCH, birth, command_result, state, status

A, B = "jkpg-ekhagen-a12", "jkpg-ekhagen-b14"


def settings_for(db_url: str, **extra):
    extra.setdefault("agent_lost_after_s", 3600)  # the tests decide when an agent is lost
    extra.setdefault("notify_min_interval_s", 0)
    return load_settings(demo=True, database_url=db_url,
                         webhooks=[{"url": "http://127.0.0.1:9/hook", "secret": "s3cret-for-the-test"}], **extra)


def tickets(engine, **where) -> list:
    t = Ticket.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(t).where(*[t.c[k] == v for k, v in where.items()]).order_by(t.c.id)).all()


def events(engine) -> list[str]:
    n = Notification.__table__
    with engine.connect() as conn:
        return [r.event for r in conn.execute(sa.select(n.c.event).order_by(n.c.id))]


class Fleet:
    """Feeds contract messages through a BatchWriter with increasing seq numbers."""

    def __init__(self, settings, engine) -> None:
        self.writer = BatchWriter(settings, engine)
        self.seq: dict[str, int] = {}
        # Messages carry times of a minute ago onwards (support.ts counts from its fixed EPOCH).
        self.t = (datetime.now(UTC) - EPOCH).total_seconds() - 60

    def send(self, *builders):
        items = []
        for build in builders:
            items.append(build(self))
        self.writer.write(items)

    def next(self, agent: str) -> int:
        self.seq[agent] = self.seq.get(agent, 0) + 1
        self.t += 1
        return self.seq[agent]

    def birth(self, agent: str, room: str, devices=("pj-1",), school: str = "Ekhagens skola"):
        return lambda f: birth(agent, f.next(agent), municipality="Jönköping", school=school, room=room,
                               devices=devices, at=f.t)

    def online(self, agent: str):
        return lambda f: status(agent, f.next(agent), "online", at=f.t)

    def lost(self, agent: str):
        return lambda f: status(agent, f.next(agent), "lost", at=f.t)

    def state(self, agent: str, device: str = "pj-1", **kw):
        return lambda f: state(agent, device, f.next(agent), at=f.t, **kw)


@pytest.fixture
def fleet(db_url, engine):
    settings = settings_for(db_url)
    f = Fleet(settings, engine)
    f.send(f.birth(A, "A12"), f.online(A))
    return f


def test_one_ticket_per_fault_with_context_and_no_duplicates(fleet, engine):
    fleet.send(fleet.state(A, faults={"lamp": "error"}, lamp_hours=4700))
    fleet.send(fleet.state(A, faults={"lamp": "error"}, lamp_hours=4701))  # a repeat
    fleet.send(fleet.state(A, faults={"lamp": "error", "fan": "warning"}, lamp_hours=4702))
    open_ = tickets(engine, state="open")
    assert sorted((t.kind, t.severity) for t in open_) == [("fan", "warning"), ("lamp", "error"),
                                                           ("lamp_life", "warning")]
    lamp = next(t for t in open_ if t.kind == "lamp")
    assert lamp.device_id == "pj-1" and lamp.agent_id == A and lamp.occurrences == 1
    assert lamp.title == "Lampfel: pj-1 i A12, Ekhagens skola"
    ctx = lamp.context
    assert (ctx["municipality"], ctx["school"], ctx["room"]) == ("Jönköping", "Ekhagens skola", "A12")
    assert (ctx["manufacturer"], ctx["model"], ctx["serial"]) == ("EPSON", "EB-2250U", "SN-1")
    assert ctx["lamp_hours"] == 4700 and ctx["lamp_life_h"] == 5000 and ctx["filter_life_h"] == 10000
    assert ctx["address"] == "127.0.0.1" and ctx["flags"]["lamp"] == "error"
    assert ctx["link"].endswith(f"#device/{A}/pj-1")
    assert events(engine).count("ticket.opened") == 3


def test_clear_resolves_after_quiet_period_and_recurrence_reopens(fleet, engine, db_url):
    fleet.send(fleet.state(A, faults={"fan": "error"}))
    fleet.send(fleet.state(A))  # clear
    (fan,) = tickets(engine, kind="fan")
    assert fan.state == "open" and fan.clear_since is not None
    service = TicketService(fleet.writer.settings)
    with write_transaction(engine) as conn:
        assert service.resolve_quiet(conn, fan.clear_since + timedelta(seconds=599)) == []
        assert service.resolve_quiet(conn, fan.clear_since + timedelta(seconds=600)) == [fan.id]
    (fan,) = tickets(engine, kind="fan")
    assert fan.state == "resolved" and fan.resolved_by == "avfleet" and fan.resolved_at is not None
    fleet.send(fleet.state(A, faults={"fan": "error"}))  # within the reopen window: the same ticket
    (fan,) = tickets(engine, kind="fan")
    assert fan.state == "open" and fan.occurrences == 2 and fan.resolved_at is None
    assert events(engine) == ["ticket.opened", "ticket.resolved", "ticket.reopened"]
    n = TicketNote.__table__
    with engine.connect() as conn:
        actions = [r.action for r in conn.execute(sa.select(n.c.action).where(n.c.ticket_id == fan.id)
                                                  .order_by(n.c.id))]
    assert actions == ["opened", "resolved", "reopened"]


def test_a_recurrence_before_the_quiet_period_keeps_the_ticket_open(fleet, engine):
    fleet.send(fleet.state(A, faults={"fan": "error"}))
    fleet.send(fleet.state(A))
    fleet.send(fleet.state(A, faults={"fan": "error"}))
    (fan,) = tickets(engine, kind="fan")
    assert fan.state == "open" and fan.clear_since is None and fan.occurrences == 2


def test_replayed_old_state_opens_nothing(fleet, engine):
    # The agent made a faulty state (seq n) during an outage, then a good one (n+1) that arrived first;
    # the faulty one comes later out of the outbox: filed in the history, never applied, no ticket.
    older, newer = fleet.next(A), fleet.next(A)
    fleet.writer.write([state(A, "pj-1", newer, at=fleet.t)])
    fleet.writer.write([state(A, "pj-1", older, at=fleet.t - 1, faults={"lamp": "error"}, replayed=True)])
    assert tickets(engine) == []


def test_unreachable_while_online_but_standby_is_no_ticket(fleet, engine):
    fleet.send(fleet.state(A, power="standby"))
    assert tickets(engine) == []
    fleet.send(fleet.state(A, availability="unreachable", power="unknown"))
    (t,) = tickets(engine)
    assert (t.kind, t.severity) == ("unreachable", "error")
    fleet.send(fleet.state(A, availability="auth_failed", power="unknown"))
    kinds = {x.kind: x for x in tickets(engine)}
    assert kinds["auth_failed"].state == "open" and kinds["unreachable"].clear_since is not None


def test_failed_power_command_and_swapped_unit(fleet, engine):
    from avfleet.controller.commands.models import CommandRecord

    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(CommandRecord.__table__.insert().values(
            command_id="c-1", agent_id=A, device_id="pj-1", action="power_off", args={}, issued_at=now,
            expires_at=now + timedelta(minutes=5), status="sent"))
    fleet.send(lambda f: command_result(A, f.next(A), "c-1", "pj-1", "failed", at=f.t))
    fleet.send(fleet.state(A, serial="SN-1"))
    fleet.send(fleet.state(A, serial="SN-2"))
    kinds = {t.kind: t for t in tickets(engine)}
    assert kinds["command_failed"].state == "open" and kinds["command_failed"].clear_since is not None
    assert kinds["unit_swapped"].state == "open"
    assert "SN-1 → SN-2" in _notes(engine, kinds["unit_swapped"].id)


def _notes(engine, ticket_id: int) -> str:
    n = TicketNote.__table__
    with engine.connect() as conn:
        return " | ".join(r.text or "" for r in conn.execute(sa.select(n.c.text).where(n.c.ticket_id == ticket_id)))


def test_lost_agent_gets_one_ticket_standing_for_its_devices(fleet, engine):
    fleet.send(fleet.birth(B, "B14", devices=("pj-2",)), fleet.online(B), fleet.state(B, "pj-2"))
    fleet.send(fleet.state(A))
    fleet.send(fleet.lost(A))
    service = TicketService(fleet.writer.settings)
    now = datetime.now(UTC)
    assert jobs.check_agents(engine, service, now) == 0  # waits agent_lost_group_s for the rest of the school
    assert jobs.check_agents(engine, service, now + timedelta(seconds=61)) == 1
    (lost,) = tickets(engine, kind="agent_lost")
    assert lost.agent_id == A and lost.device_id is None
    assert {(c["agent_id"], c["device_id"]) for c in lost.children} == {(A, None), (A, "pj-1")}
    # While it is open, the agent's devices get no tickets of their own.
    fleet.send(fleet.state(A, faults={"lamp": "error"}))
    assert tickets(engine, kind="lamp") == []
    # The other agent of the school is unaffected.
    fleet.send(fleet.state(B, "pj-2", faults={"lamp": "error"}))
    assert [t.agent_id for t in tickets(engine, kind="lamp")] == [B]
    # Back online: the quiet period starts.
    fleet.send(fleet.online(A))
    jobs.check_agents(engine, service, now + timedelta(seconds=70))
    (lost,) = tickets(engine, kind="agent_lost")
    assert lost.clear_since is not None


def test_a_whole_school_lost_together_is_one_ticket(fleet, engine):
    fleet.send(fleet.birth(B, "B14", devices=("pj-2",)), fleet.online(B))
    fleet.send(fleet.lost(A), fleet.lost(B))
    service = TicketService(fleet.writer.settings)
    jobs.check_agents(engine, service, datetime.now(UTC) + timedelta(seconds=61))
    (school,) = tickets(engine, kind="agent_lost")
    assert school.title == "Alla 2 agenter på Ekhagens skola har tappat kontakten"
    assert {c["agent_id"] for c in school.children} == {A, B}


def test_flapping_device_sends_one_notification_per_interval(db_url, engine):
    f = Fleet(settings_for(db_url, notify_min_interval_s=900), engine)
    f.send(f.birth(A, "A12"), f.online(A))
    for _ in range(10):
        f.send(f.state(A, faults={"fan": "error"}))
        f.send(f.state(A))
    (fan,) = tickets(engine, kind="fan")
    assert fan.occurrences == 10
    assert events(engine) == ["ticket.opened"]  # the rest held back...
    assert fan.notify_pending
    with write_transaction(engine) as conn:  # ...and sent as one update once the interval has passed
        from avfleet.controller.tickets.notify import send_held_back

        assert send_held_back(conn, f.writer.settings, fan.last_notified_at + timedelta(seconds=899)) == 0
        assert send_held_back(conn, f.writer.settings, fan.last_notified_at + timedelta(seconds=900)) == 1
    assert events(engine) == ["ticket.opened", "ticket.updated"]


def test_people_acknowledge_comment_resolve_close(fleet, engine):
    from avfleet.controller.errors import Conflict

    fleet.send(fleet.state(A, faults={"cover": "error"}))
    (t,) = tickets(engine)
    service = TicketService(fleet.writer.settings)
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        service.acknowledge(conn, t.id, "anna", now)
        service.comment(conn, t.id, "anna", now, "Luckan är trasig, beställer ny")
        with pytest.raises(Conflict):
            service.acknowledge(conn, t.id, "anna", now)
        service.resolve(conn, t.id, "anna", now)
        service.close(conn, t.id, "anna", now)
    (t,) = tickets(engine)
    assert (t.state, t.acknowledged_by, t.resolved_by, t.closed_by) == ("closed", "anna", "anna", "anna")
    assert t.active_key is None
    # A closed ticket is never reopened: the same fault now opens a new one.
    fleet.send(fleet.state(A))
    fleet.send(fleet.state(A, faults={"cover": "error"}))
    assert [x.state for x in tickets(engine)] == ["closed", "open"]


def test_silence_past_agent_lost_after_s_is_lost_too(fleet, engine):
    fleet.send(fleet.state(A))
    service = TicketService(fleet.writer.settings)
    now = datetime.now(UTC)
    assert jobs.check_agents(engine, service, now + timedelta(seconds=3500)) == 0
    assert jobs.check_agents(engine, service, now + timedelta(seconds=3700)) == 1
    (lost,) = tickets(engine, kind="agent_lost")
    assert lost.agent_id == A


def test_clean_stop_is_not_lost(fleet, engine):
    fleet.send(lambda f: status(A, f.next(A), "offline", at=f.t))
    service = TicketService(fleet.writer.settings)
    assert jobs.check_agents(engine, service, datetime.now(UTC) + timedelta(days=1)) == 0


def _status(agent: str, seq: int, state_: str, at: float, **extra) -> tuple[str, bytes]:
    import json

    topic, body = status(agent, seq, state_, at=at)
    return topic, json.dumps({**json.loads(body), **extra}).encode()


def test_the_will_of_the_current_connection_marks_the_agent_lost(db_url, engine):
    """A Will carries the connect time, older than the online status after it: matched by seq instead."""
    from avfleet.controller.fleet.models import Agent

    f = Fleet(settings_for(db_url), engine)
    t = f.t
    f.writer.write([_status(A, 11, "online", t + 1, will_seq=10)])  # connection 1, Will reserved as seq 10
    f.writer.write([_status(A, 21, "online", t + 5, will_seq=20)])  # connection 2 (the first one dropped)
    f.writer.write([_status(A, 10, "lost", t)])  # the first connection's Will arrives late: stale
    a = Agent.__table__.c
    with engine.connect() as conn:
        assert conn.execute(sa.select(a.state).where(a.agent_id == A)).scalar() == "online"
    f.writer.write([_status(A, 20, "lost", t + 4)])  # the current connection's Will
    with engine.connect() as conn:
        assert conn.execute(sa.select(a.state).where(a.agent_id == A)).scalar() == "lost"
