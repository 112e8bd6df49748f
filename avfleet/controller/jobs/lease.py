"""Acquire and renew a named lease row: the mechanism that makes periodic work run once county-wide."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.jobs.models import Lease
from avfleet.protocols.status import utc_now


def try_acquire(engine: Engine, name: str, holder: str, ttl_s: float, *, now: datetime | None = None) -> bool:
    """Take (or renew) the lease `name` for `holder` when it is free, expired or already ours.

    A lease of ours with more than half its time left is not renewed: that answer needs only a
    read, and on SQLite every write transaction queues for the one write lock, which the ingest
    writer takes batch after batch during a fan-out (a 1 s job renewed twice per run before).
    Renewed at half time, it never runs out while its holder keeps running.
    """
    now = now or utc_now()
    expires = now + timedelta(seconds=ttl_s)
    table = Lease.__table__
    with engine.connect() as conn:
        mine = conn.execute(sa.select(table.c.expires_at).where(table.c.name == name, table.c.holder == holder)
                            ).scalar_one_or_none()
    if mine is not None and mine > now + timedelta(seconds=ttl_s / 2):
        return True
    with write_transaction(engine) as conn:
        taken = conn.execute(
            sa.update(table)
            .where(table.c.name == name, sa.or_(table.c.holder == holder, table.c.expires_at < now))
            .values(holder=holder, expires_at=expires)
        ).rowcount
        if taken:
            return True
        exists = conn.execute(sa.select(table.c.name).where(table.c.name == name)).first()
        if exists:
            return False
        dialect = conn.dialect.name
        values = {"name": name, "holder": holder, "expires_at": expires}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        inserted = conn.execute(insert(table).values(**values).on_conflict_do_nothing()).rowcount
        return bool(inserted)


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up early (a clean stop), so another process takes over at once."""
    table = Lease.__table__
    with write_transaction(engine) as conn:
        conn.execute(sa.update(table).where(table.c.name == name, table.c.holder == holder)
                     .values(expires_at=utc_now() - timedelta(seconds=1)))


def mark_run(engine: Engine, name: str, holder: str, at: datetime) -> None:
    table = Lease.__table__
    with write_transaction(engine) as conn:
        conn.execute(sa.update(table).where(table.c.name == name, table.c.holder == holder)
                     .values(last_run_at=at))
