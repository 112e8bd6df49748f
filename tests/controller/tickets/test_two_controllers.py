"""Two controller processes on one shared subscription and PostgreSQL: one ticket per fault, and one
webhook delivery per ticket event, whichever process handled the states and ran the jobs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine
from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.controller.tickets.models import Ticket
from tests.controller import support
from tests.controller.conftest import _truncate
from tests.controller.ingest.test_worker import wait_for
from tests.controller.processes import ControllerProcess, GeneratedBroker
from tests.controller.test_crash_recovery import controller_config, count
from tests.support.receivers import WebhookInbox

DEVICES = 20
REPEATS = 30  # states per device, each repeating its fault, so the processes share every device's states


@pytest.mark.slow
def test_two_controllers_one_ticket_and_one_delivery(tmp_path: Path, pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    _truncate(engine)
    inbox = WebhookInbox().start()
    broker = GeneratedBroker(tmp_path).start()
    hooks = json.dumps([{"url": inbox.url, "secret": "a-webhook-secret-for-tests"}])
    controllers = [
        ControllerProcess(controller_config(tmp_path, broker, pg_url, f"avfleet-ingest-{i}", shared_subscription="true",
                                            webhooks=hooks, notify_min_interval_s="0",
                                            agent_lost_after_s=str(10 * 365 * 86400)),  # old test timestamps
                          tmp_path / f"controller-{i}.log")
        for i in (1, 2)
    ]
    try:
        for c in controllers:
            c.start()
        agent_id = "shared-tickets-agent"
        pub = support.Publisher(broker.port, client_id=agent_id, username=agent_id,
                                password=broker.add_agent(agent_id))
        messages = [support.birth(agent_id, 1, municipality="Gislaved", school="Åsenskolan", room="C3",
                                  devices=[f"pj{n}" for n in range(DEVICES)]),
                    support.status(agent_id, 2, "online")]
        seq = 2
        for r in range(REPEATS):
            for n in range(DEVICES):
                seq += 1
                messages.append(support.state(agent_id, f"pj{n}", seq, at=seq,
                                              faults={"lamp": "error", "fan": "warning" if r % 2 else "ok"}))
        pub.publish_all(messages)
        pub.flush()
        pub.close()
        wait_for(lambda: count(engine, ReceivedMessage.__table__) >= len(messages), timeout=120, what="all ingested")
        t = Ticket.__table__
        with engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.device_id, t.c.kind, t.c.state)).all()
        per_condition = Counter((r.device_id, r.kind) for r in rows)
        assert set(per_condition) == {(f"pj{n}", k) for n in range(DEVICES) for k in ("lamp", "fan")}
        assert max(per_condition.values()) == 1, per_condition.most_common(3)
        opened = len(rows)
        received = inbox.wait_for(opened, timeout=60)
        deliveries = Counter(r.headers["x-avfleet-delivery"] for r in received)
        assert max(deliveries.values()) == 1
        ticket_ids = Counter(r.json()["ticket"]["id"] for r in received if r.json()["event"] == "ticket.opened")
        assert len(ticket_ids) == opened and max(ticket_ids.values()) == 1
        for c in controllers:
            assert c.interrupt() == 0
    finally:
        for c in controllers:
            c.kill()
        broker.stop()
        inbox.stop()
        engine.dispose()
