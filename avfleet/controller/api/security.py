"""Security headers on every answer: API, /health, /docs, the dashboard, errors and 500s alike.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware, which buffers through a memory stream
and breaks the server-sent events of /api/v1/stream). `install()` wraps the whole middleware stack,
outside Starlette's ServerErrorMiddleware, so even an unhandled exception's 500 carries the headers.

The policy allows only this origin: no CDN, no inline script or style (the dashboard and /docs keep
all JS and CSS in files), no framing. HSTS is sent only when the public URL is https, since a
browser told so over plain http would refuse the plain-http controller for a year.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HSTS = "max-age=31536000"

BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware: add the headers to each http.response.start, replacing any of the same name."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        pairs = BASE_HEADERS + ((("strict-transport-security", HSTS),) if hsts else ())
        self._names = {name.encode() for name, _ in pairs}
        self._raw = [(name.encode(), value.encode()) for name, value in pairs]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message["headers"] = kept + self._raw
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, *, public_url: str | None) -> None:
    """Wrap `app`'s whole middleware stack (built lazily by Starlette on the first request)."""
    hsts = bool(public_url and public_url.lower().startswith("https://"))
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), hsts=hsts)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
