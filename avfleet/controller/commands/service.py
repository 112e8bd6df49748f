"""Issuing commands: a row in `commands`, then a PUBLISH on the agent's cmd topic with an expiry.

The agent answers on cmd/result; the ingest writer hands those answers (deduplicated by the fleet
service) to `file_results`, in the batch's transaction. A command whose expiry passed without an
answer is marked expired by `expire_overdue`, which the `commands.expire` job runs (jobs.py): the
broker discarded it, or the agent never saw it in time. Errors are avfleet.controller.errors
classes, mapped to HTTP statuses once by the API app.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.commands.models import FINAL_STATES, OPEN_STATES, CommandRecord
from avfleet.controller.commands.schemas import COMMAND_COLUMNS
from avfleet.controller.errors import DomainError, NotFound
from avfleet.controller.fleet.models import Agent
from avfleet.controller.fleet.queries import Ambiguous, find_device
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import Action, Command, CommandResult

COMMANDS = CommandRecord.__table__
AGENTS = Agent.__table__
# How long past expires_at an agent's "expired" answer may still take before we stop waiting.
RESULT_GRACE = timedelta(seconds=30)


class CommandRejected(DomainError):
    """The request cannot become a command (missing device, bad arguments): 400, as docs/api.md says."""


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, expiry_s: int | None = None) -> bool:
        """True when handed over for delivery. Raises errors.TooLarge (413, nothing stored) when the
        message exceeds the broker's packet limit: Mosquitto would drop the controller's link for it."""
        ...


def issue_command(conn: Connection, publisher: Publisher | None, *, action: Action, device_id: str | None,
                  agent_id: str | None, args: dict[str, Any], ttl_s: int, scope: Scope = COUNTY) -> dict[str, Any]:
    """Store and publish one command; raises NotFound, Ambiguous (409) or CommandRejected."""
    if device_id is None and action is not Action.refresh:
        raise CommandRejected(f"{action.value} needs a device_id")
    if device_id is not None:
        row = find_device(conn, device_id, agent_id, scope)
        agent_id = row.agent_id
    elif agent_id is None:
        raise CommandRejected("refresh without a device_id needs an agent_id")
    elif conn.execute(sa.select(AGENTS.c.agent_id).where(AGENTS.c.agent_id == agent_id,
                                                         *scope.clauses(AGENTS.c.municipality))).first() is None:
        raise NotFound(f"no agent {agent_id!r}")
    if action is Action.set_input and not isinstance(args.get("input"), str):
        raise CommandRejected("set_input needs args.input, e.g. {\"input\": \"31\"}")
    if action is Action.av_mute and not isinstance(args.get("on"), bool):
        raise CommandRejected("av_mute needs args.on, true or false")
    now = datetime.now(UTC)
    command = Command(command_id=uuid.uuid4().hex, device_id=device_id, action=action, args=args,
                      issued_at=now, expires_at=now + timedelta(seconds=ttl_s))
    status, detail = "pending", None
    if publisher is None:
        status, detail = "failed", "this controller process has no broker connection"
    elif publisher.publish(topics.cmd_topic(agent_id), command.model_dump_json().encode(), qos=1, expiry_s=ttl_s):
        status = "sent"
    else:
        status, detail = "failed", "the broker link refused the message (queue full); retry later"
    conn.execute(COMMANDS.insert().values(
        command_id=command.command_id, agent_id=agent_id, device_id=device_id, action=action.value, args=args,
        issued_at=command.issued_at, expires_at=command.expires_at, status=status, detail=detail))
    return get_command(conn, command.command_id)


def store_many(conn: Connection, *, action: Action, targets: list[tuple[str, str]], args: dict[str, Any],
               ttl_s: int) -> list[tuple[str, Command]]:
    """Store one command per (agent_id, device_id), devices the caller already knows (a schedule's run),
    with one INSERT. Publish them with `send_stored` once this transaction committed, so that an
    agent's quick answer always finds its command's row (file_results only updates stored rows).

    They are stored as `sent`: they are handed to this process's broker link right after the commit,
    and marking 5,000 rows sent afterwards took one more write transaction, which on SQLite waited
    behind the ingest filing the first answers. `mark_handed` fails the few the link refuses; a
    command never published (the process died in between) expires like any unanswered one."""
    now = datetime.now(UTC)
    out = [(agent_id, Command(command_id=uuid.uuid4().hex, device_id=device_id, action=action, args=args,
                              issued_at=now, expires_at=now + timedelta(seconds=ttl_s)))
           for agent_id, device_id in targets]
    if out:
        conn.execute(COMMANDS.insert(), [
            {"command_id": c.command_id, "agent_id": agent_id, "device_id": c.device_id, "action": action.value,
             "args": args, "issued_at": c.issued_at, "expires_at": c.expires_at, "status": "sent",
             "detail": None} for agent_id, c in out])
    return out


Handed = tuple[list[str], list[tuple[str, str]]]  # command ids sent; (command id, why) failed


def send_stored(publisher: Publisher | None, commands: list[tuple[str, Command]]) -> Handed:
    """Publish commands stored by `store_many` (committed), outside any transaction: paho queues each
    message and its network thread writes them, so no PUBACK is awaited here, and the database's
    write lock is not held while 5,000 messages are handed over (the ingest files results meanwhile).
    Record the outcome with `mark_handed`."""
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    now = datetime.now(UTC)
    for agent_id, command in commands:
        ttl_s = max(1, int((command.expires_at - now).total_seconds()))
        if publisher is None:
            failed.append((command.command_id, "this controller process has no broker connection"))
        elif publisher.publish(topics.cmd_topic(agent_id), command.model_dump_json().encode(), qos=1, expiry_s=ttl_s):
            sent.append(command.command_id)
        else:
            failed.append((command.command_id, "the broker link refused the message (queue full); retry later"))
    return sent, failed


def mark_handed(conn: Connection, handed: Handed) -> int:
    """Mark what `send_stored` could not send failed (`store_many` stored them as sent); how many sent.

    Only a command still open changes: an answer that came first (done, failed...) stands.
    """
    c = COMMANDS.c
    sent, failed = handed
    if failed:
        conn.execute(COMMANDS.update().where(c.command_id == sa.bindparam("cid"),
                                             sa.or_(*(c.status == state for state in OPEN_STATES)))
                     .values(status="failed", detail=sa.bindparam("why")),
                     [{"cid": command_id, "why": detail} for command_id, detail in failed])
    return len(sent)


def publish_stored(conn: Connection, publisher: Publisher | None, commands: list[tuple[str, Command]]) -> int:
    """`send_stored` then `mark_handed` on `conn` (a caller already in a transaction); how many sent."""
    return mark_handed(conn, send_stored(publisher, commands))


def expire_overdue(conn: Connection, now: datetime | None = None) -> int:
    """Mark open commands past their expiry (plus the grace for a late answer) expired; how many."""
    now = now or datetime.now(UTC)
    c = COMMANDS.c
    return conn.execute(COMMANDS.update().where(c.status.in_(OPEN_STATES), c.expires_at < now - RESULT_GRACE)
                        .values(status="expired", detail="no result from the agent before the command expired")
                        ).rowcount


def file_results(conn: Connection, results: list[CommandResult]) -> None:
    """File the agents' cmd/result answers (already deduplicated by the ingest) on their commands.

    Only an open command (pending or sent) takes a result, so a late or repeated answer never
    overwrites the first final one; the agent_id guard keeps an agent to its own commands.
    """
    if not results:
        return
    c = COMMANDS.c
    # One statement for the batch (executemany): a run's 5,000 results arrive within seconds.
    conn.execute(
        COMMANDS.update()
        # Open states spelled out: an IN list expands per execution, which executemany cannot take.
        .where(c.command_id == sa.bindparam("cid"), c.agent_id == sa.bindparam("aid"),
               sa.or_(*(c.status == state for state in OPEN_STATES)))
        .values(status=sa.bindparam("st"), detail=sa.bindparam("why"), result_at=sa.bindparam("at")),
        [{"cid": m.command_id, "aid": m.agent_id, "st": m.status.value, "why": m.detail, "at": m.ts}
         for m in results],
    )


def mark_undelivered(conn: Connection, command_id: str, detail: str) -> bool:
    """The broker link gave up on the command's message (ingest/outgoing.py): an open command fails
    rather than waiting to expire. False while no such command is stored yet (the caller retries)."""
    c = COMMANDS.c
    conn.execute(COMMANDS.update().where(c.command_id == command_id, c.status.in_(OPEN_STATES))
                 .values(status="failed", detail=detail[:512]))
    return conn.execute(sa.select(c.command_id).where(c.command_id == command_id)).first() is not None


def _item(r: Any) -> dict[str, Any]:
    item = {name: r._mapping[name] for name in COMMAND_COLUMNS}
    item["id"] = r.command_id
    return item


def get_command(conn: Connection, command_id: str, scope: Scope = COUNTY) -> dict[str, Any]:
    row = conn.execute(sa.select(COMMANDS).where(COMMANDS.c.command_id == command_id,
                                                 *scope.agent_clauses(COMMANDS.c.agent_id))).first()
    if row is None:
        raise NotFound(f"no command {command_id!r}")
    return _item(row)


def list_commands(conn: Connection, *, agent_id: str | None, device_id: str | None, status: str | None,
                  limit: int, offset: int, scope: Scope = COUNTY) -> tuple[list[dict[str, Any]], int]:
    c = COMMANDS.c
    clauses = scope.agent_clauses(c.agent_id)
    if agent_id is not None:
        clauses.append(c.agent_id == agent_id)
    if device_id is not None:
        clauses.append(c.device_id == device_id)
    if status is not None:
        clauses.append(c.status == status)
    total = conn.execute(sa.select(sa.func.count()).select_from(COMMANDS).where(*clauses)).scalar_one()
    rows = conn.execute(sa.select(COMMANDS).where(*clauses).order_by(c.issued_at.desc()).limit(limit).offset(offset))
    return [_item(r) for r in rows], total


__all__ = ["FINAL_STATES", "OPEN_STATES", "Ambiguous", "CommandRejected", "NotFound", "Publisher",
           "expire_overdue", "file_results", "get_command", "issue_command", "list_commands", "mark_handed",
           "publish_stored", "send_stored", "store_many"]
