"""Issue 9.5: a wrong agent clock cannot freeze the picture. Real Mosquitto, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.fleet.models import Agent, Device, DeviceTransition
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.ingest.worker import IngestService
from tests.controller import support
from tests.controller.ingest.test_worker import ingest_settings, wait_for
from tests.support.mosquitto import MosquittoBroker

YEAR_2099 = (datetime(2099, 6, 1, tzinfo=UTC) - support.EPOCH).total_seconds()


def test_a_state_stamped_2099_is_clamped_counted_and_the_next_normal_state_wins(
        db_url: str, engine: Engine, mosquitto: MosquittoBroker) -> None:
    settings = ingest_settings(db_url, mosquitto.port, client_id="ingest-clock", writer_process=False)
    service = IngestService(settings, engine, IngestMetrics())
    service.start()
    pub = support.Publisher(mosquitto.port)
    try:
        pub.publish(*support.state("ag1", "pj1", 1, at=YEAR_2099, power="on"))  # a Pi whose clock ran away
        pub.publish(*support.state("ag1", "pj1", 2, at=10, power="standby"))  # the clock fixed (Jan 2026)
        pub.flush()
        wait_for(lambda: service.committed == 2, timeout=90, what="both states committed")
        received = datetime.now(UTC)
        d, h, a = Device.__table__, DeviceTransition.__table__, Agent.__table__
        with engine.connect() as conn:
            dev = conn.execute(sa.select(d)).one()
            rows = conn.execute(sa.select(h).order_by(h.c.seq)).all()
            agent = conn.execute(sa.select(a)).one()
        assert (dev.power, dev.observed_at) == ("standby", support.EPOCH + timedelta(seconds=10))
        assert (dev.state_seq, dev.status["seq"]) == (2, 2)
        # The 2099 state is filed at the time it was received, not in 2099; so is the agent's last_seen.
        assert [r.power for r in rows] == ["on", "standby"]
        assert rows[0].observed_at <= received and agent.last_seen <= received
        metric = service.metrics.clock_skew.labels(kind="state")._value.get()
        assert metric == 1

        # A replayed older state (lower seq) still never overwrites the newer current one.
        pub.publish(*support.state("ag1", "pj1", 4, at=40, power="on"))
        pub.publish(*support.state("ag1", "pj1", 3, at=30, power="standby", replayed=True))
        pub.flush()
        wait_for(lambda: service.committed == 4, timeout=90, what="two more states")
        with engine.connect() as conn:
            dev = conn.execute(sa.select(d)).one()
        assert (dev.power, dev.state_seq) == ("on", 4)
        assert service.metrics.clock_skew.labels(kind="state")._value.get() == 1  # normal times are not counted
    finally:
        pub.close()
        service.stop()
