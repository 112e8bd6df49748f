"""Two controller processes on one MQTT 5 shared subscription, writing to PostgreSQL: every message
ingested exactly once, and both processes took a share.

The transition history is not compared with the message count here: the broker splits one
device's consecutive states across the processes, and a state that was skipped as a repeat
cannot be re-filed when an earlier state commits late (docs/controller.md, "Scale-out").
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine
from avfleet.controller.fleet.models import Device, DeviceTransition, ReceivedMessage
from tests.controller import support
from tests.controller.conftest import API_TOKEN, _truncate
from tests.controller.ingest.test_worker import wait_for
from tests.controller.processes import ControllerProcess, GeneratedBroker
from tests.controller.test_crash_recovery import DEVICES_PER_AGENT, controller_config, count, messages_for

TOTAL = 20_000


def ingested_states(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}).text
    match = re.search(r'^avfleet_ingest_messages_total\{kind="state"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.slow
def test_two_controllers_split_ingest_exactly_once(tmp_path: Path, pg_url: str) -> None:
    engine = create_db_engine(pg_url)
    _truncate(engine)
    broker = GeneratedBroker(tmp_path).start()
    controllers = [
        ControllerProcess(controller_config(tmp_path, broker, pg_url, f"avfleet-ingest-{i}",
                                            shared_subscription="true"), tmp_path / f"controller-{i}.log")
        for i in (1, 2)
    ]
    try:
        for c in controllers:
            c.start()
        publishers = []
        for i in range(2):
            agent_id = f"shared-agent-{i}"
            pub = support.Publisher(broker.port, client_id=agent_id, username=agent_id,
                                    password=broker.add_agent(agent_id))
            publishers.append((pub, messages_for(agent_id, TOTAL // 2)))
        threads = [threading.Thread(target=p.publish_all, args=(m,), daemon=True) for p, m in publishers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        for p, _ in publishers:
            p.flush()
            p.close()
        wait_for(lambda: count(engine, ReceivedMessage.__table__) >= TOTAL, timeout=180, what="all messages")
        shares = [ingested_states(c.base_url) for c in controllers]
        h = DeviceTransition.__table__
        d = Device.__table__
        with engine.connect() as conn:
            history = conn.execute(sa.select(h.c.agent_id, h.c.seq)).all()
            current = {(r.agent_id, r.device_id): r.observed_at for r in conn.execute(sa.select(d))}
        assert count(engine, ReceivedMessage.__table__) == TOTAL
        assert sum(shares) == TOTAL, shares  # nobody processed a message twice
        assert min(shares) > TOTAL * 0.1, shares  # the broker really split the stream
        assert len(history) == len(set(history)) <= TOTAL  # no transition filed twice
        # The newest state of every device won, whichever process committed it first.
        per_agent = TOTAL // 2
        for agent_id in ("shared-agent-0", "shared-agent-1"):
            for n in range(DEVICES_PER_AGENT):
                last_seq = max(seq for seq in range(1, per_agent + 1) if seq % DEVICES_PER_AGENT == n)
                assert current[(agent_id, f"pj{n}")] == support.EPOCH + timedelta(seconds=last_seq)
        for c in controllers:
            assert c.interrupt() == 0
    finally:
        for c in controllers:
            c.kill()
        broker.stop()
        engine.dispose()
