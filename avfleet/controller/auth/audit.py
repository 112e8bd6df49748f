"""The audit trail: one helper, `record`, used by every route that changes something or logs in.

`audited` wraps a route's write transaction: the change and its `ok` entry commit together, and a
refused change (a DomainError) is still recorded, as `failed`, in a transaction of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from avfleet.controller.auth.models import AuditEntry
from avfleet.controller.auth.principal import Principal
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import DomainError
from avfleet.protocols.status import utc_now

AUDIT = AuditEntry.__table__
COLUMNS = ("id", "at", "actor", "role", "via", "client_ip", "action", "target", "result", "detail")


def record(conn: Connection, principal: Principal, action: str, target: str, result: str,
           detail: dict[str, Any] | None = None) -> None:
    """One audit row: who (principal), what (action on target), when (now), from where, result."""
    conn.execute(AUDIT.insert().values(
        at=utc_now(), actor=principal.name[:64], role=principal.role, via=principal.via,
        client_ip=(principal.client_ip or "")[:64] or None, action=action[:64], target=str(target)[:256],
        result=result[:16], detail=detail))


@contextmanager
def audited(engine: Engine, principal: Principal, action: str, target: str,
            detail: dict[str, Any] | None = None) -> Iterator[Connection]:
    try:
        with write_transaction(engine) as conn:
            yield conn
            record(conn, principal, action, target, "ok", detail)
    except DomainError as exc:
        with write_transaction(engine) as conn:
            record(conn, principal, action, target, "failed", {**(detail or {}), "error": str(exc)[:512]})
        raise


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _where(f: AuditFilters) -> list[Any]:
    a = AUDIT.c
    clauses = [col == value for col, value in ((a.actor, f.actor), (a.result, f.result)) if value is not None]
    if f.action is not None:
        # "ticket" matches ticket.acknowledge, ticket.close, ...
        clauses.append(sa.or_(a.action == f.action, a.action.like(f.action.replace("%", "") + ".%")))
    if f.since is not None:
        clauses.append(a.at >= f.since)
    if f.until is not None:
        clauses.append(a.at < f.until)
    return clauses


def list_entries(conn: Connection, f: AuditFilters, limit: int, offset: int) -> tuple[list[dict], int]:
    where = _where(f)
    total = conn.execute(sa.select(sa.func.count()).select_from(AUDIT).where(*where)).scalar_one()
    rows = conn.execute(sa.select(AUDIT).where(*where).order_by(AUDIT.c.id.desc()).limit(limit).offset(offset))
    return [{k: r._mapping[k] for k in COLUMNS} for r in rows], total


def csv_text(items: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([_cell(item[k]) for k in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
