"""Server-sent events of device and agent changes.

The stream polls the database for rows whose `changed_at` moved, rather than listening to this
process's ingest, so it shows changes ingested by any controller process (DESIGN.md scale-out).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth.scope import Scope, get_scope
from avfleet.controller.fleet import queries
from avfleet.controller.tickets.queries import ticket_changes

HEARTBEAT_S = 15.0
# Rows committed by a slower transaction may carry a changed_at a little behind the cursor.
OVERLAP = timedelta(seconds=2)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=_json_default, separators=(',', ':'))}\n\n"


async def change_events(request: Request, ctx: ApiContext, poll_s: float, scope: Scope) -> AsyncIterator[str]:
    cursor = datetime.now(UTC)
    sent: dict[tuple[str, str], str] = {}  # what each client already has, to skip the overlap's repeats
    yield _event("hello", {"since": cursor})
    idle = 0.0
    while not await request.is_disconnected():
        await asyncio.sleep(poll_s)

        def fetch(since: datetime = cursor - OVERLAP) -> tuple[list[dict], list[dict], list[dict]]:
            with ctx.engine.connect() as conn:
                # The caller's scope, like every list: a limited caller hears of its municipalities only.
                return (*queries.changes_since(conn, since, scope=scope), ticket_changes(conn, since, scope=scope))

        devices, agents, tickets = await run_in_threadpool(fetch)
        out: list[str] = []
        for kind, items, key in (("device", devices, "id"), ("agent", agents, "id"), ("ticket", tickets, "id")):
            for item in items:
                ident = (kind, f"{item.get('agent_id', '')}/{item[key]}")
                chunk = _event(kind, item)
                if sent.get(ident) == chunk:
                    continue
                sent[ident] = chunk
                out.append(chunk)
        if out:
            idle = 0.0
            cursor = datetime.now(UTC)
            for chunk in out:
                yield chunk
            if len(sent) > 100_000:
                sent.clear()
        else:
            idle += poll_s
            if idle >= HEARTBEAT_S:
                idle = 0.0
                yield ": keep-alive\n\n"


def build_router() -> APIRouter:
    router = APIRouter(tags=["stream"])

    @router.get("/stream", summary="Live changes (text/event-stream): events `device`, `agent` and `ticket`",
                response_class=StreamingResponse)
    async def stream(request: Request, poll_ms: int = Query(1000, ge=100, le=10_000),
                     ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> StreamingResponse:
        return StreamingResponse(change_events(request, ctx, poll_ms / 1000, scope), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
