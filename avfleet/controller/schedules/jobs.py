"""Periodic work of the schedules domain: start due runs, follow running ones to their report.

Both need this process's broker link to send commands, so `jobs` takes it (jobs/registry.py).
Each job holds its lease (jobs/runner.py), and a run's row is unique per occurrence, so with
several controller processes an occurrence runs once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from avfleet.controller.commands.service import Publisher, mark_handed, send_stored
from avfleet.controller.db import write_transaction
from avfleet.controller.jobs.runner import Job
from avfleet.controller.schedules import service
from avfleet.controller.settings import ControllerSettings


def publish(engine: Engine, publisher: Publisher | None, outbox: service.Outbox) -> None:
    """Publish a committed transaction's commands, so an agent's quick answer finds its row; the write
    lock is taken afterwards only to fail those the broker link refused."""
    if outbox:
        handed = send_stored(publisher, outbox)
        if handed[1]:  # only refusals need a write: the rows were stored as sent
            with write_transaction(engine) as conn:
                mark_handed(conn, handed)


def run_due(engine: Engine, publisher: Publisher | None, settings: ControllerSettings, now: datetime) -> int:
    outbox: service.Outbox = []
    with write_transaction(engine) as conn:
        started = service.run_due(conn, outbox, settings, now)
    publish(engine, publisher, outbox)
    return started


def advance(engine: Engine, publisher: Publisher | None, settings: ControllerSettings, now: datetime) -> int:
    # Every second: a read first, so a tick with nothing new (no run, or no result since the last
    # tick) does not queue for SQLite's write lock behind the ingest writer.
    with engine.connect() as conn:
        if not service.runs_to_advance(conn):
            return 0
    outbox: service.Outbox = []
    with write_transaction(engine) as conn:
        closed = service.advance_runs(conn, outbox, settings, now)
    publish(engine, publisher, outbox)
    return closed


def jobs(settings: ControllerSettings, publisher: Publisher | None = None) -> list[Job]:
    return [
        Job("schedules.due", 10.0, lambda engine, now: run_due(engine, publisher, settings, now)),
        Job("schedules.advance", 1.0, lambda engine, now: advance(engine, publisher, settings, now)),
    ]
