"""Hostile input stops at the door: a request size limit, and values no database can hold.

Everything here answers 4xx (a 5xx is always a bug, DESIGN.md): a body over `max_request_bytes`
is refused with 413 before it is parsed and before the token is checked; NUL characters and lone
surrogates (PostgreSQL refuses NUL in text, and a lone surrogate cannot even be encoded as UTF-8),
and non-finite numbers (NaN, Infinity: not JSON, and PostgreSQL's jsonb refuses them) are refused
with 422 and a detail naming the field, in the same "where: what" form as the app's validation
errors. Integers and dates are bounded by their declared type, for every route (the guard reads
the matched route's parameters): an integer path id over PostgreSQL's INTEGER is 404, a query
integer past 64 bits (SQLite overflows at 2**63) or a date at the calendar's ends is 422; routes
may bound tighter with the helpers below. A large integer inside free JSON (command args) is stored
as JSON on both backends and is not refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, date, datetime
from typing import Any, get_args

from fastapi import HTTPException, Query, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

# The largest integer both backends store (SQLite INTEGER, PostgreSQL BIGINT).
MAX_INT = 2**63 - 1
# The largest id of an Integer primary key: PostgreSQL's INTEGER is 32 bits (SQLite's 64).
MAX_ID = 2**31 - 1

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def offset_query(description: str = "Items to skip") -> Any:
    """`offset` of a list: 0 up to the largest integer the database holds."""
    return Query(0, ge=0, le=MAX_INT, description=description)


# Query dates keep a year of room at both ends of the calendar: routes compare with the year before
# (previous_year) and count to the day after; 0001-01-01 minus a year is no date at all (500, not 4xx).
FIRST_QUERY_DATE = date(2, 1, 1)
LAST_QUERY_DATE = date(9998, 12, 31)


def query_date(*, alias: str | None = None, description: str | None = None) -> Any:
    """A required date query parameter inside FIRST_QUERY_DATE .. LAST_QUERY_DATE (422 outside)."""
    return Query(alias=alias, ge=FIRST_QUERY_DATE, le=LAST_QUERY_DATE, description=description)


def query_time_in_utc(name: str, value: datetime | None) -> datetime | None:
    """A query time converted to UTC: 400 without a timezone, 422 when UTC has no such time."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(400, f"{name} needs a timezone, e.g. 2026-01-31T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: a real time, but outside the calendar in UTC.
        raise HTTPException(422, f"query.{name}: is outside the years 1-9999 once converted to UTC") from None


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes the limit; FastAPI lets HTTPException through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodySizeLimit:
    """ASGI middleware: refuse bodies over `max_bytes` (413) by Content-Length, or by counting.

    Installed outside the routing, so it runs before parsing and before authentication. A
    declared length over the limit is answered at once without reading the body; a chunked or
    lying body is counted as it is received and cut off when it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _send_error(send, 400, "Content-Length is not a number")
            return
        if declared is not None and declared > self.max_bytes:
            await _send_error(send, 413, f"request body larger than {self.max_bytes} bytes")
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # Normally the app's exception handling answers it; this covers a read outside a route.
            if started:
                raise
            await _send_error(send, 413, str(exc.detail))


def _content_length(scope: Scope) -> int | None:
    """The declared length, None when absent, -1 when it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) <= 19 else -1
    return None


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (such as \\ud800), which is not valid Unicode"
    return None


def value_problem(value: Any, where: str) -> str | None:
    """The first unstorable value inside decoded JSON, as "where: why", or None (iterative: no recursion)."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if (why := text_problem(item)) is not None:
                return f"{path}: {why}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{path}: NaN and Infinity are not numbers JSON allows"
        elif isinstance(item, dict):
            for key, sub in item.items():
                if (why := text_problem(str(key))) is not None:
                    return f"{path}: key {why}"
                stack.append((f"{path}.{key}", sub))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}", sub) for i, sub in enumerate(item))
    return None


async def refuse_unstorable_input(request: Request) -> None:
    """App-wide dependency: 422 for a path, query or JSON body value no database or encoder can take.

    Runs for every route, including routes added later, so no route has to remember it.
    """
    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in items:
            for text in (name, value):
                if isinstance(text, str) and (why := text_problem(text)) is not None:
                    raise HTTPException(422, printable(f"{location}.{name}: {why}"))
    _refuse_out_of_range(request)
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        return
    body = await request.body()
    if not body:
        return
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        # The route's own body parsing answers malformed JSON; a route without a body ignores it.
        return
    if (why := value_problem(data, "body")) is not None:
        raise HTTPException(422, printable(why))


def _declared_parameters(request: Request) -> Iterator[tuple[str, str, Any]]:
    """(location, name, annotation) of the matched route's path and query parameters, its
    dependencies' included. Read from FastAPI's dependant tree; anything unexpected yields nothing."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    stack = [dependant] if dependant is not None else []
    while stack:
        current = stack.pop()
        for location in ("path", "query"):
            for field in getattr(current, f"{location}_params", ()):
                name = getattr(field, "alias", None) or getattr(field, "name", "")
                yield location, name, getattr(getattr(field, "field_info", None), "annotation", None)
        stack.extend(getattr(current, "dependencies", ()))


def _refuse_out_of_range(request: Request) -> None:
    """Integer ids and dates past what the databases and date arithmetic hold, for every route.

    An integer path id over MAX_ID names no row (404; PostgreSQL's INTEGER would overflow), a
    query integer past 64 bits is 422, and a query date outside FIRST_QUERY_DATE..LAST_QUERY_DATE
    is 422 (a route's "a year before" or "the day after" would leave the calendar).
    """
    for location, name, annotation in _declared_parameters(request):
        raw = (request.path_params if location == "path" else request.query_params).get(name)
        if not isinstance(raw, str):
            continue
        kinds = {annotation, *get_args(annotation)}
        if int in kinds and bool not in kinds:
            try:
                number = int(raw)
            except ValueError:
                continue  # not a number: the route's own validation answers 422
            if location == "path" and not -MAX_ID - 1 <= number <= MAX_ID:
                raise HTTPException(404, f"path.{name}: no such id (ids are at most {MAX_ID})")
            if location == "query" and not -MAX_INT - 1 <= number <= MAX_INT:
                raise HTTPException(422, f"query.{name}: integer outside the 64-bit range")
        elif date in kinds:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                continue
            if not FIRST_QUERY_DATE <= day <= LAST_QUERY_DATE:
                raise HTTPException(422, f"{location}.{name}: dates run from {FIRST_QUERY_DATE} to {LAST_QUERY_DATE}")


def printable(text: str) -> str:
    # The detail may quote a field name; it must itself be encodable in the JSON answer.
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
