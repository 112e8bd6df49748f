"""Server-sent events of device and agent changes.

The stream polls the database for rows whose `changed_at` moved, rather than listening to this
process's ingest, so it shows changes ingested by any controller process (DESIGN.md scale-out). Clients
with the same scope and interval share one poll (ChangeFeed).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth.scope import Scope, get_scope
from avfleet.controller.fleet import queries
from avfleet.controller.tickets.queries import ticket_changes

log = logging.getLogger("avfleet.controller.api")

HEARTBEAT_S = 15.0
# Rows committed by a slower transaction may carry a changed_at a little behind the cursor.
OVERLAP = timedelta(seconds=2)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=_json_default, separators=(',', ':'))}\n\n"


class ChangeFeed:
    """One poll of the database per scope and interval, shared by every client that has them in common.

    Each client used to poll on its own, so fifty dashboards cost fifty queries a second. Now the first
    client of a (scope, interval) starts the feed and the last one's leaving ends it; each round hands
    every subscriber the round's new chunks (possibly none), so a client still checks its connection
    once a round. The scope stays in the SQL (auth/scope.py): clients of different scopes never share.
    """

    QUEUE_ROUNDS = 120  # rounds a client may fall behind before it is dropped (its browser reconnects)

    def __init__(self, ctx: ApiContext, scope: Scope, poll_s: float, key: tuple) -> None:
        self.ctx, self.scope, self.poll_s, self.key = ctx, scope, poll_s, key
        self.subscribers: set[asyncio.Queue[list[str] | None]] = set()
        self.task: asyncio.Task | None = None

    def subscribe(self) -> asyncio.Queue[list[str] | None]:
        queue: asyncio.Queue[list[str] | None] = asyncio.Queue(self.QUEUE_ROUNDS)
        self.subscribers.add(queue)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._guarded(datetime.now(UTC)))
        return queue

    async def _guarded(self, cursor: datetime) -> None:
        try:
            await self._run(cursor)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The database failed: every client's stream ends (their browsers reconnect), and the next
            # client starts a new feed.
            log.exception("the live stream's poll failed; its %d clients are disconnected", len(self.subscribers))
            _FEEDS.pop(self.key, None)
            for queue in list(self.subscribers):
                while queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)
            self.subscribers.clear()

    def unsubscribe(self, queue: asyncio.Queue[list[str] | None]) -> None:
        self.subscribers.discard(queue)
        if not self.subscribers:
            _FEEDS.pop(self.key, None)
            if self.task is not None:
                self.task.cancel()

    async def _run(self, cursor: datetime) -> None:
        sent: dict[tuple[str, str], str] = {}  # what the subscribers already have: the overlap's repeats
        ctx, scope = self.ctx, self.scope
        while True:
            await asyncio.sleep(self.poll_s)

            def fetch(since: datetime = cursor - OVERLAP) -> tuple[list[dict], list[dict], list[dict]]:
                with ctx.engine.connect() as conn:
                    # The feed's scope, like every list: a limited caller hears of its municipalities only.
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
                cursor = datetime.now(UTC)
                if len(sent) > 100_000:
                    sent.clear()
            for queue in list(self.subscribers):
                try:
                    queue.put_nowait(out)
                except asyncio.QueueFull:
                    # A client this far behind is dropped rather than let its queue grow without bound.
                    self.subscribers.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(None)


_FEEDS: dict[tuple, ChangeFeed] = {}


def _feed(ctx: ApiContext, scope: Scope, poll_s: float) -> ChangeFeed:
    key = (id(ctx), id(asyncio.get_running_loop()), scope, poll_s)
    feed = _FEEDS.get(key)
    if feed is None:
        feed = _FEEDS[key] = ChangeFeed(ctx, scope, poll_s, key)
    return feed


async def change_events(request: Request, ctx: ApiContext, poll_s: float, scope: Scope) -> AsyncIterator[str]:
    feed = _feed(ctx, scope, poll_s)
    queue = feed.subscribe()
    try:
        yield _event("hello", {"since": datetime.now(UTC)})
        idle = 0.0
        while not await request.is_disconnected():
            chunks = await queue.get()
            if chunks is None:
                return  # fell too far behind; the browser's EventSource reconnects
            if chunks:
                idle = 0.0
                for chunk in chunks:
                    yield chunk
            else:
                idle += poll_s
                if idle >= HEARTBEAT_S:
                    idle = 0.0
                    yield ": keep-alive\n\n"
    finally:
        feed.unsubscribe(queue)


def build_router() -> APIRouter:
    router = APIRouter(tags=["stream"])

    @router.get("/stream", summary="Live changes (text/event-stream): events `device`, `agent` and `ticket`",
                response_class=StreamingResponse)
    async def stream(request: Request, poll_ms: int = Query(1000, ge=100, le=10_000),
                     ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> StreamingResponse:
        return StreamingResponse(change_events(request, ctx, poll_ms / 1000, scope), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return router
