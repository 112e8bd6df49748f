"""After a (re)start: publish again every command that is still open and not expired.

A controller killed between committing commands and publishing them (a schedule run stores its
commands as `sent` first and publishes after the commit, service.py `store_many`/`send_stored`)
leaves commands the agent never saw: they would only expire, and their run close as `expired` with
the devices still on (docs/reliability.md). Publishing every open command again is safe: the agent
runs a command id once (its outbox keeps the ids, across restarts) and answers a repeat with the
first result, and the controller files an answer only while its command is open.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.commands.models import OPEN_STATES, CommandRecord
from avfleet.controller.commands.service import Publisher, send_stored
from avfleet.protocols.mqtt.payloads import Action, Command

log = logging.getLogger("avfleet.controller.commands")
COMMANDS = CommandRecord.__table__


def republish_open(engine: Engine, publisher: Publisher | None, now: datetime | None = None) -> int:
    """Publish the open, unexpired commands again (nothing is marked: a refusal leaves them to expire)."""
    if publisher is None:
        return 0
    now = now or datetime.now(UTC)
    c = COMMANDS.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.command_id, c.agent_id, c.device_id, c.action, c.args, c.issued_at,
                                      c.expires_at)
                            .where(c.status.in_(OPEN_STATES), c.expires_at > now).order_by(c.issued_at)).all()
    commands = [(r.agent_id, Command(command_id=r.command_id, device_id=r.device_id, action=Action(r.action),
                                     args=r.args or {}, issued_at=r.issued_at, expires_at=r.expires_at))
                for r in rows]
    sent, failed = send_stored(publisher, commands)
    if commands:
        log.info("published %d open commands again after the start (agents run each command id once)", len(sent))
    if failed:
        log.warning("%d open commands could not be published again (%s); they expire unless answered",
                    len(failed), failed[0][1])
    return len(sent)
