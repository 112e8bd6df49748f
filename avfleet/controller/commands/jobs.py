"""Periodic work of the commands domain: commands past their expiry without a result become expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from avfleet.controller.commands import service
from avfleet.controller.db import write_transaction
from avfleet.controller.jobs.runner import Job
from avfleet.controller.settings import ControllerSettings


def expire_commands(engine: Engine, now: datetime) -> None:
    with write_transaction(engine) as conn:
        service.expire_overdue(conn, now)


def jobs(settings: ControllerSettings) -> list[Job]:
    return [Job("commands.expire", 5.0, expire_commands)]
