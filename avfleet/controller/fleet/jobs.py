"""Periodic work of the fleet domain: dedup rows past their retention are pruned, once county-wide.

This ran inside every ingest process before; as a job it runs in one controller at a time (its
lease row) and never on the ingest's hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.controller.jobs.runner import Job
from avfleet.controller.settings import ControllerSettings

log = logging.getLogger("avfleet.controller.fleet")

PRUNE_EVERY_S = 3600.0


def prune_received(engine: Engine, now: datetime, retention: timedelta) -> int:
    """Delete dedup rows received before `now - retention`; how many.

    A redelivery never comes that late: the broker's session expiry is far shorter than the retention.
    """
    table = ReceivedMessage.__table__
    with write_transaction(engine) as conn:
        gone = conn.execute(sa.delete(table).where(table.c.received_at < now - retention)).rowcount
    if gone:
        log.info("pruned %d dedup rows", gone)
    return gone


def _pruner(retention: timedelta) -> Callable[[Engine, datetime], None]:
    def run(engine: Engine, now: datetime) -> None:
        prune_received(engine, now, retention)

    return run


def jobs(settings: ControllerSettings) -> list[Job]:
    return [Job("fleet.prune_dedup", PRUNE_EVERY_S, _pruner(timedelta(days=settings.dedup_retention_days)))]
