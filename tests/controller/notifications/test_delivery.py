"""Notification delivery against real local receivers: an HTTP inbox, aiosmtpd, and a fake TOPdesk.

A receiver that is down gets its messages later (none lost, none twice); the webhook signature and
delivery id are checked as a receiver would; a controller killed between TOPdesk's answer and our
record does not create a second incident.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.notifications import jobs as delivery
from avfleet.controller.notifications.models import Notification
from avfleet.controller.settings import load_settings
from avfleet.controller.tickets.models import Ticket
from avfleet.controller.tickets.service import TicketService
from tests.support.receivers import FakeTopdesk, SmtpInbox, WebhookInbox

SECRET = "webhook-secret-0123456789"
OUTBOX = Notification.__table__


def open_ticket(engine, settings, *, kind="lamp", device="pj-a12-1", municipality="Habo") -> int:
    from avfleet.controller.fleet.models import Agent

    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(Agent.__table__.insert().values(
            agent_id="habo-furu-a1", state="online", first_seen=now, changed_at=now, municipality=municipality,
            school="Furuskolan", room="A1"))
        ticket_id = TicketService(settings).raise_condition(conn, "habo-furu-a1", device, kind, "error", now)
    assert ticket_id is not None
    return ticket_id


def outbox_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).all()


def run_due(engine, settings, at: datetime | None = None) -> dict:
    return delivery.deliver_due(engine, settings, at or datetime.now(UTC))


@pytest.fixture
def engine(db_url):
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


def test_webhook_signed_and_retried_with_the_same_delivery_id(db_url, engine):
    inbox = WebhookInbox()
    settings = load_settings(demo=True, database_url=db_url, notify_retry_base_s=1,
                             webhooks=[{"url": f"{inbox.url}/avfleet", "secret": SECRET}])
    ticket_id = open_ticket(engine, settings)
    # The receiver is down: the try fails and is scheduled again; nothing is lost.
    assert run_due(engine, settings) == {"sent": 0, "retry": 1, "dead": 0}
    (row,) = outbox_rows(engine)
    assert row.state == "pending" and row.attempts == 1 and "unreachable" in row.last_error
    assert row.next_attempt_at > datetime.now(UTC)
    assert run_due(engine, settings) == {"sent": 0, "retry": 0, "dead": 0}  # not due yet
    inbox.start()
    try:
        assert run_due(engine, settings, row.next_attempt_at + timedelta(seconds=1))["sent"] == 1
        assert run_due(engine, settings, row.next_attempt_at + timedelta(seconds=2))["sent"] == 0  # never twice
        (request,) = inbox.wait_for(1)
    finally:
        inbox.stop()
    assert request.path == "/avfleet"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-avfleet-signature"] == expected
    assert request.headers["x-avfleet-delivery"] == row.delivery_id
    body = request.json()
    assert body["event"] == "ticket.opened" and body["ticket"]["id"] == ticket_id
    assert body["ticket"]["kind"] == "lamp" and body["ticket"]["context"]["municipality"] == "Habo"
    (row,) = outbox_rows(engine)
    assert row.state == "sent" and row.attempts == 2


def test_webhook_gives_up_after_max_attempts_and_is_visible(db_url, engine):
    inbox = WebhookInbox(status=500).start()
    try:
        settings = load_settings(demo=True, database_url=db_url, notify_max_attempts=2, notify_retry_base_s=1,
                                 webhooks=[{"url": inbox.url, "secret": SECRET}])
        open_ticket(engine, settings)
        later = datetime.now(UTC) + timedelta(hours=2)
        assert run_due(engine, settings)["retry"] == 1
        assert run_due(engine, settings, later)["dead"] == 1
        inbox.wait_for(2)
    finally:
        inbox.stop()
    (row,) = outbox_rows(engine)
    assert row.state == "dead" and row.last_error == "webhook answered HTTP 500"


def test_email_per_municipality_in_swedish_and_english(db_url, engine):
    smtp = SmtpInbox().start()
    try:
        settings = load_settings(demo=True, database_url=db_url, smtp={"host": "127.0.0.1", "port": smtp.port},
                                 email=[{"to": ["it@habo.se"], "municipality": "Habo"},
                                        {"to": ["drift@mediacentrum.se"], "language": "en"},
                                        {"to": ["it@aneby.se"], "municipality": "Aneby"}])
        open_ticket(engine, settings)
        assert run_due(engine, settings)["sent"] == 2  # Habo's and the county's; not Aneby's
        messages = smtp.wait_for(2)
    finally:
        smtp.stop()
    by_rcpt = {tuple(rcpt): msg for rcpt, msg in messages}
    sv = by_rcpt[("it@habo.se",)]
    assert sv["Subject"].startswith("[avfleet] Nytt ärende: Lampfel: pj-a12-1 i A1, Furuskolan")
    plain = sv.get_body(("plain",)).get_content()
    html = sv.get_body(("html",)).get_content()
    assert "Plats: Habo, Furuskolan, A1" in plain and "Allvarlighet: fel" in plain
    assert "<th" in html and "Furuskolan" in html
    en = by_rcpt[("drift@mediacentrum.se",)]
    assert "Place: Habo, Furuskolan, A1" in en.get_body(("plain",)).get_content()
    assert sv["Message-ID"] != en["Message-ID"]


def test_daily_digest_collects_the_day_into_one_message(db_url, engine):
    smtp = SmtpInbox().start()
    try:
        settings = load_settings(demo=True, database_url=db_url, smtp={"host": "127.0.0.1", "port": smtp.port},
                                 email=[{"to": ["it@habo.se"], "mode": "digest", "digest_at": "00:00"}])
        open_ticket(engine, settings, kind="lamp")
        with write_transaction(engine) as conn:
            TicketService(settings).raise_condition(conn, "habo-furu-a1", "pj-a12-2", "fan", "error",
                                                    datetime.now(UTC))
        assert run_due(engine, settings)["sent"] == 0  # waiting for the digest
        now = datetime.now(UTC)
        assert delivery.build_digests(engine, settings, now) == 1
        assert delivery.build_digests(engine, settings, now) == 0  # once a day
        assert run_due(engine, settings)["sent"] == 1
        ((rcpt, message),) = smtp.wait_for(1)
        assert rcpt == ["it@habo.se"]
    finally:
        smtp.stop()
    assert "2 ärenden" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "pj-a12-1" in body and "pj-a12-2" in body


def _topdesk_settings(db_url, desk: FakeTopdesk, **extra):
    return load_settings(demo=True, database_url=db_url, topdesk={
        "url": desk.url, "username": desk.username, "application_password": desk.password,
        "caller_email": "it@habo.se", "category": "AV-utrustning", "subcategory": "Projektor",
        "priority_by_severity": {"error": "P2"}, "closed_processing_status": "Avslutad"}, **extra)


def test_topdesk_incident_created_updated_and_closed(db_url, engine):
    desk = FakeTopdesk().start()
    try:
        settings = _topdesk_settings(db_url, desk)
        ticket_id = open_ticket(engine, settings, device="pj-with-a-rather-long-name-" + "x" * 30)
        assert run_due(engine, settings)["sent"] == 1
        (incident,) = desk.incidents.values()
        assert len(incident["briefDescription"]) <= 80
        assert incident["externalNumber"] == f"avfleet-{ticket_id}"
        assert incident["callerLookup"] == {"email": "it@habo.se"}
        assert incident["category"] == {"name": "AV-utrustning"} and incident["priority"] == {"name": "P2"}
        assert "<br>" in incident["request"] and "<script" not in incident["request"]
        with engine.connect() as conn:
            stored = conn.execute(sa.select(Ticket.__table__.c.topdesk_incident_number)
                                  .where(Ticket.__table__.c.id == ticket_id)).scalar()
        assert stored == incident["number"]
        now = datetime.now(UTC)
        with write_transaction(engine) as conn:
            TicketService(settings).resolve(conn, ticket_id, "anna", now)
        assert run_due(engine, settings)["sent"] == 1
        assert incident["closed"] is True and incident["processingStatus"] == {"name": "Avslutad"}
        assert len(desk.incidents) == 1
    finally:
        desk.stop()


def test_topdesk_wrong_password_is_retried_not_lost(db_url, engine):
    desk = FakeTopdesk().start()
    try:
        settings = _topdesk_settings(db_url, desk)
        bad = settings.model_copy(update={"topdesk": settings.topdesk.model_copy(
            update={"application_password": type(settings.topdesk.application_password)("wrong-password")})})
        open_ticket(engine, bad)
        assert run_due(engine, bad)["retry"] == 1
        (row,) = outbox_rows(engine)
        assert "refused the login" in row.last_error and "wrong-password" not in row.last_error
        assert run_due(engine, settings, row.next_attempt_at)["sent"] == 1
        assert len(desk.incidents) == 1
    finally:
        desk.stop()


KILLED_DELIVERY = """
import sys
from datetime import UTC, datetime
from avfleet.controller.db import create_db_engine
from avfleet.controller.notifications.jobs import deliver_due
from avfleet.controller.settings import load_settings
settings = load_settings(demo=True, database_url=sys.argv[1], topdesk={
    "url": sys.argv[2], "username": "avfleet-operator", "application_password": "app-password-for-tests"})
deliver_due(create_db_engine(sys.argv[1]), settings, datetime.now(UTC))
"""


def test_killed_between_create_and_record_makes_no_second_incident(db_url, engine):
    desk = FakeTopdesk(hold_create=threading.Event()).start()
    try:
        settings = _topdesk_settings(db_url, desk)
        ticket_id = open_ticket(engine, settings)
        process = subprocess.Popen([sys.executable, "-c", KILLED_DELIVERY, db_url, desk.url],
                                   env={**os.environ, "PYTHONPATH": os.getcwd()})
        try:
            assert desk.created.wait(30), "the delivery process never reached TOPdesk"
            os.kill(process.pid, signal.SIGKILL)  # TOPdesk has the incident; we never recorded it
            process.wait(10)
        finally:
            desk.hold_create.set()
        (row,) = outbox_rows(engine)
        assert row.state == "pending"
        assert run_due(engine, settings)["sent"] == 1
        assert len(desk.incidents) == 1, "a second incident was created"
        with engine.connect() as conn:
            stored = conn.execute(sa.select(Ticket.__table__.c.topdesk_incident_id)
                                  .where(Ticket.__table__.c.id == ticket_id)).scalar()
        assert stored == next(iter(desk.incidents))
        searches = [r for r in desk.received if r.method == "GET"]
        assert searches and 'externalNumber=="avfleet-' in searches[-1].path.replace("%3D", "=").replace("%22", '"')
    finally:
        desk.stop()
