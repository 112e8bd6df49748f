"""The fleet's periodic work: dedup rows past the retention are pruned by a job under its lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.fleet import jobs as fleet_jobs
from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.controller.jobs.registry import all_jobs
from avfleet.controller.jobs.runner import JobRunner
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN


def test_dedup_rows_past_the_retention_are_pruned_once_by_the_lease_holder(db_url: str, engine: Engine) -> None:
    settings = load_settings(database_url=db_url, dedup_retention_days=3, api_tokens=[API_TOKEN],
                             broker_password="x" * 20)
    assert "fleet.prune_dedup" in {job.name for job in all_jobs(settings)}
    now = datetime.now(UTC)
    table = ReceivedMessage.__table__
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            {"agent_id": agent, "seq": seq, "epoch": "0", "kind": "state", "received_at": now - age}
            for agent, seq, age in (("ag1", 1, timedelta(days=4)), ("ag1", 2, timedelta(days=2, hours=23)),
                                    ("ag2", 1, timedelta(0)))
        ])
    holder = JobRunner(engine, fleet_jobs.jobs(settings), holder="a")
    other = JobRunner(engine, fleet_jobs.jobs(settings), holder="b")
    assert holder.run_due() == ["fleet.prune_dedup"]
    assert other.run_due() == []  # the lease is held: a second controller does not run it too
    with engine.connect() as conn:
        left = conn.execute(sa.select(table.c.agent_id, table.c.seq).order_by("agent_id", "seq")).all()
    assert [tuple(r) for r in left] == [("ag1", 2), ("ag2", 1)]
