"""The ingest against a real Mosquitto and real databases: validation, rejections, acks after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.fleet.models import Agent, Device, DeviceTransition, ReceivedMessage
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.ingest.worker import IngestError, IngestService
from avfleet.controller.settings import ControllerSettings, load_settings
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.support.components import free_port
from tests.support.mosquitto import MosquittoBroker


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def ingest_settings(db_url: str, port: int, **extra: object) -> ControllerSettings:
    return load_settings(database_url=db_url, broker_url=f"mqtt://127.0.0.1:{port}", api_tokens=[API_TOKEN],
                         broker_password="anonymous-broker-ignores-this", **extra)


@pytest.fixture(params=[True, False], ids=["writer-process", "writer-thread"])
def ingest(request: pytest.FixtureRequest, db_url: str, engine: Engine,
           mosquitto: MosquittoBroker) -> Iterator[IngestService]:
    settings = ingest_settings(db_url, mosquitto.port, client_id="ingest-test", writer_process=request.param)
    service = IngestService(settings, engine, IngestMetrics())
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_valid_messages_reach_the_database(ingest: IngestService, engine: Engine, mosquitto: MosquittoBroker) -> None:
    pub = support.Publisher(mosquitto.port)
    pub.publish_all([
        support.birth("ag1", 1, municipality="Habo", school="Furuskolan", room="B2", devices=["pj1"]),
        support.status("ag1", 2, "online"),
        *(support.state("ag1", "pj1", seq, at=seq, power="on" if seq % 2 else "standby") for seq in range(3, 103)),
    ])
    pub.flush()
    pub.close()
    wait_for(lambda: ingest.committed == 102, what="102 committed and acknowledged messages")
    assert count(engine, ReceivedMessage.__table__) == 102
    assert count(engine, DeviceTransition.__table__) == 100
    with engine.connect() as conn:
        dev = conn.execute(sa.select(Device.__table__)).one()
        agent = conn.execute(sa.select(Agent.__table__)).one()
    assert (dev.power, dev.observed_at) == ("standby", support.EPOCH + timedelta(seconds=102))
    assert dev.status["device_id"] == "pj1" and dev.status["power"] == "standby"
    assert (agent.state, agent.school) == ("online", "Furuskolan")
    assert ingest.metrics.received.labels(kind="state")._value.get() == 100


def test_malformed_and_mismatched_payloads_are_counted_logged_once_and_never_stop_ingest(
        ingest: IngestService, engine: Engine, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="avfleet.controller.ingest")
    good_topic, good = support.state("ag1", "pj1", 1, at=1)
    _, other_agent = support.state("intruder", "pj1", 2, at=2)
    bad = [
        (good_topic, b"{not json"),
        (good_topic, good.replace(b'"availability": "online"', b'"availability": "sleepy"')),
        (good_topic, other_agent),  # payload speaks for another agent than its topic
        ("avfleet/v1/agent/ag1/dev/bad$id/state", good),  # device id not allowed by the contract
    ] * 5
    pub = support.Publisher(mosquitto.port)
    pub.publish_all(bad)
    pub.publish(good_topic, good)
    pub.publish(*support.state("ag1", "pj1", 3, at=3, power="standby"))
    pub.flush()
    pub.close()
    wait_for(lambda: count(engine, ReceivedMessage.__table__) == 2, what="the two valid messages")
    wait_for(lambda: ingest.rejections.total == 20, what="20 rejections counted")
    m = ingest.metrics.rejected
    assert m.labels(reason="payload")._value.get() == 10
    assert m.labels(reason="agent_mismatch")._value.get() == 5
    assert m.labels(reason="topic")._value.get() == 5
    logged = [r for r in caplog.records if "rejected message" in r.getMessage()]
    assert len(logged) == 1  # every bad message names agent ag1: one log line per agent per minute
    with engine.connect() as conn:
        assert conn.execute(sa.select(Device.__table__.c.power)).scalar_one() == "standby"


def test_unreachable_broker_fails_start_with_a_clear_error(db_url: str, engine: Engine) -> None:
    port = free_port()  # nothing listens there
    service = IngestService(ingest_settings(db_url, port, client_id="nobody-home"), engine, IngestMetrics())
    with pytest.raises(IngestError, match="did not accept a connection"):
        service.start(connect_timeout=1.5)


def test_a_killed_writer_process_is_restarted_and_nothing_is_lost_or_doubled(
        db_url: str, engine: Engine, mosquitto: MosquittoBroker) -> None:
    settings = ingest_settings(db_url, mosquitto.port, client_id="ingest-killed-writer", writer_process=True)
    service = IngestService(settings, engine, IngestMetrics())
    service.start()
    try:
        pub = support.Publisher(mosquitto.port)
        pub.publish_all(support.state("ag1", f"pj{seq % 4}", seq, at=seq, power="on" if seq % 8 < 4 else "standby")
                        for seq in range(1, 3001))
        wait_for(lambda: count(engine, ReceivedMessage.__table__) > 0, what="the first commits")
        first = service._sink._proc
        first.kill()  # the writer dies with batches in hand
        pub.publish_all(support.state("ag1", f"pj{seq % 4}", seq, at=seq, power="on" if seq % 8 < 4 else "standby")
                        for seq in range(3001, 6001))
        pub.flush()
        pub.close()
        wait_for(lambda: count(engine, ReceivedMessage.__table__) == 6000, timeout=120,
                 what=f"all 6000 messages (committed by the ingest so far: {service.committed})")
        assert service._sink._proc is not first and service._sink._proc.is_alive()
        assert count(engine, DeviceTransition.__table__) == 6000  # each device flips power on every message
    finally:
        service.stop()
