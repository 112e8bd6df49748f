"""Kill the controller with SIGKILL while 100,000 state messages flow; after a restart every
message is in the database exactly once (Mosquitto on the generated config, SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine
from avfleet.controller.fleet.models import DeviceTransition, ReceivedMessage
from avfleet.controller.migrate import upgrade
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.controller.ingest.test_worker import wait_for
from tests.controller.processes import ControllerProcess, GeneratedBroker

TOTAL = 100_000
AGENTS = 4
DEVICES_PER_AGENT = 5


def messages_for(agent_id: str, count: int) -> list[tuple[str, bytes]]:
    """Every message a transition (power alternates), so each must leave exactly one history row."""
    out = []
    for seq in range(1, count + 1):
        device = f"pj{seq % DEVICES_PER_AGENT}"
        out.append(support.state(agent_id, device, seq, at=seq, power="on" if (seq // DEVICES_PER_AGENT) % 2
                                 else "standby"))
    return out


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[GeneratedBroker]:
    b = GeneratedBroker(tmp_path).start()
    try:
        yield b
    finally:
        b.stop()


def controller_config(tmp_path: Path, broker: GeneratedBroker, db_url: str, client_id: str, **extra: str) -> Path:
    cfg = tmp_path / f"{client_id}.yaml"
    lines = [broker.controller_yaml.read_text(), f"database_url: {db_url}", f"api_tokens: ['{API_TOKEN}']",
             "api_port: 0", f"client_id: {client_id}", *(f"{k}: {v}" for k, v in extra.items())]
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, broker: GeneratedBroker) -> None:
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = create_db_engine(db_url)
    upgrade(engine)
    cfg = controller_config(tmp_path, broker, db_url, "avfleet-controller-crash")
    first = ControllerProcess(cfg, tmp_path / "controller-1.log").start()

    per_agent = TOTAL // AGENTS
    publishers = []
    for i in range(AGENTS):
        agent_id = f"crash-agent-{i}"
        publishers.append((support.Publisher(broker.port, client_id=agent_id, username=agent_id,
                                             password=broker.add_agent(agent_id)), messages_for(agent_id, per_agent)))
    threads = [threading.Thread(target=p.publish_all, args=(msgs,), daemon=True) for p, msgs in publishers]
    for t in threads:
        t.start()
    wait_for(lambda: count(engine, ReceivedMessage.__table__) >= TOTAL // 10, timeout=120, what="10% ingested")
    first.kill()
    at_kill = count(engine, ReceivedMessage.__table__)
    published_at_kill = sum(p.acked for p, _ in publishers)
    assert at_kill < TOTAL and published_at_kill < TOTAL, "the kill must land while messages still flow"

    second = ControllerProcess(cfg, tmp_path / "controller-2.log").start()
    try:
        for t in threads:
            t.join(300)
        for p, _ in publishers:
            p.flush()
            p.close()
        assert all(all(code == 0 for code in p.reason_codes) for p, _ in publishers)
        wait_for(lambda: count(engine, ReceivedMessage.__table__) >= TOTAL, timeout=180, what="all messages")
        assert second.interrupt() == 0
    finally:
        second.kill()
    h = DeviceTransition.__table__
    with engine.connect() as conn:
        received = count(engine, ReceivedMessage.__table__)
        history = count(engine, h)
        distinct = conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(h.c.agent_id, h.c.seq).distinct().subquery())).scalar_one()
    assert received == TOTAL
    assert history == TOTAL and distinct == TOTAL  # each transition filed once: no loss, no duplicate
    assert "no stored session" not in (tmp_path / "controller-2.log").read_text()
    engine.dispose()
