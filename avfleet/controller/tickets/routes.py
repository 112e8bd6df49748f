"""/api/v1/tickets and /api/v1/notifications: HTTP only; the rules live in service.py."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import MAX_ID, offset_query
from avfleet.controller.auth.audit import audited
from avfleet.controller.auth.principal import COUNTY
from avfleet.controller.auth.scope import Principal, Scope, get_principal, get_scope
from avfleet.controller.errors import NotFound
from avfleet.controller.notifications import service as outbox
from avfleet.controller.tickets.models import KINDS, SEVERITIES, STATES, Ticket, TicketNote
from avfleet.controller.tickets.schemas import (
    NotificationList,
    TicketAction,
    TicketComment,
    TicketDetail,
    TicketList,
    public_ticket,
)
from avfleet.controller.tickets.service import TicketService
from avfleet.protocols.status import utc_now

TICKETS = Ticket.__table__
NOTES = TicketNote.__table__

TicketState = Literal[STATES]  # type: ignore[valid-type]
TicketKind = Literal[KINDS]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]


def _detail(conn: sa.Connection, ticket_id: int, scope: Scope = COUNTY) -> dict:
    row = conn.execute(sa.select(TICKETS).where(TICKETS.c.id == ticket_id,
                                                *scope.clauses(TICKETS.c.municipality))).first()
    if row is None:
        raise NotFound(f"no ticket {ticket_id}")
    n = NOTES.c
    notes = conn.execute(sa.select(n.at, n.by, n.action, n.text).where(n.ticket_id == ticket_id)
                         .order_by(n.id)).all()
    return {**public_ticket(row), "notes": [dict(r._mapping) for r in notes]}


def build_router() -> APIRouter:
    router = APIRouter(tags=["tickets"])

    @router.get("/tickets", response_model=TicketList, summary="Tickets, newest change first")
    def list_tickets(state: TicketState | None = None, kind: TicketKind | None = None,
                     severity: Severity | None = None, agent_id: str | None = Query(None, max_length=64),
                     device_id: str | None = Query(None, max_length=64),
                     municipality: str | None = Query(None, max_length=128),
                     school: str | None = Query(None, max_length=128), room: str | None = Query(None, max_length=128),
                     limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                     ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        t = TICKETS.c
        filters = scope.clauses(t.municipality) + [column == value for column, value in (
            (t.state, state), (t.kind, kind), (t.severity, severity), (t.agent_id, agent_id),
            (t.device_id, device_id), (t.municipality, municipality), (t.school, school), (t.room, room))
            if value is not None]
        with ctx.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(TICKETS).where(*filters)).scalar_one()
            rows = conn.execute(sa.select(TICKETS).where(*filters).order_by(t.updated_at.desc(), t.id.desc())
                                .limit(limit).offset(offset)).all()
        return {"items": [public_ticket(r) for r in rows], "total": total}

    @router.get("/tickets/{ticket_id}", response_model=TicketDetail, summary="One ticket with its journal")
    def get_ticket(ticket_id: int, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return _detail(conn, _bounded(ticket_id), scope)

    def _act(ctx: ApiContext, principal: Principal, ticket_id: int, action: str, text: str | None) -> dict:
        service = TicketService(ctx.settings)
        with audited(ctx.engine, principal, f"ticket.{action}", str(ticket_id)) as conn:
            _detail(conn, ticket_id, principal.scope)  # NotFound outside the caller's municipalities
            getattr(service, action)(conn, ticket_id, principal.name, utc_now(), text)
            return _detail(conn, ticket_id)

    @router.post("/tickets/{ticket_id}/acknowledge", response_model=TicketDetail, summary="Acknowledge (open only)")
    def acknowledge(ticket_id: int, body: TicketAction | None = None, ctx: ApiContext = Depends(get_context),
                    principal: Principal = Depends(get_principal)) -> dict:
        return _act(ctx, principal, _bounded(ticket_id), "acknowledge", body.comment if body else None)

    @router.post("/tickets/{ticket_id}/resolve", response_model=TicketDetail, summary="Resolve by hand")
    def resolve(ticket_id: int, body: TicketAction | None = None, ctx: ApiContext = Depends(get_context),
                principal: Principal = Depends(get_principal)) -> dict:
        return _act(ctx, principal, _bounded(ticket_id), "resolve", body.comment if body else None)

    @router.post("/tickets/{ticket_id}/close", response_model=TicketDetail, summary="Close: nothing reopens it")
    def close(ticket_id: int, body: TicketAction | None = None, ctx: ApiContext = Depends(get_context),
              principal: Principal = Depends(get_principal)) -> dict:
        return _act(ctx, principal, _bounded(ticket_id), "close", body.comment if body else None)

    @router.post("/tickets/{ticket_id}/comments", response_model=TicketDetail, summary="Add a comment")
    def comment(ticket_id: int, body: TicketComment, ctx: ApiContext = Depends(get_context),
                principal: Principal = Depends(get_principal)) -> dict:
        return _act(ctx, principal, _bounded(ticket_id), "comment", body.text)

    @router.get("/notifications", response_model=NotificationList,
                summary="The notification outbox: pending, sent and dead deliveries")
    def list_notifications(state: Literal["pending", "sent", "dead", "digest"] | None = None,
                           channel: Literal["webhook", "email", "topdesk"] | None = None,
                           ticket_id: int | None = Query(None, ge=1, le=MAX_ID),
                           limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                           ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        # A limited caller sees the deliveries of its municipalities' tickets (no county digests).
        mine = None if scope.county_wide else outbox.OUTBOX.c.ticket_id.in_(
            sa.select(TICKETS.c.id).where(*scope.clauses(TICKETS.c.municipality)))
        with ctx.engine.connect() as conn:
            items, total = outbox.list_notifications(conn, state=state, channel=channel, ticket_id=ticket_id,
                                                     limit=limit, offset=offset, ticket_filter=mine)
        return {"items": items, "total": total}

    return router


def _bounded(ticket_id: int) -> int:
    if not 1 <= ticket_id <= MAX_ID:
        raise NotFound(f"no ticket {ticket_id}")
    return ticket_id
