"""Slow and idle HTTP clients are closed: uvicorn's h11 protocol with a deadline for the request head.

uvicorn closes a connection idle after a response (`timeout_keep_alive`), but it has no limit on
reading a request's line and headers: a client that connects and sends nothing, or half a request
line (slowloris), holds its connection and socket forever. This protocol arms a deadline whenever
the server waits for a request head (on connect, and after each response) and closes the
connection when the head has not fully arrived in time. A request's body is not covered: its size
is bounded by `max_request_bytes` (api/limits.py), and the app reads it at its own pace.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadlineH11Protocol(H11Protocol):
    """H11Protocol closing the connection when a request head takes longer than `head_timeout_s`."""

    head_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._check_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._check_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _check_head(self) -> None:
        # IDLE: h11 still waits for (the rest of) a request line and headers.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_head_deadline()
        else:
            self._disarm_head_deadline()

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_class(head_timeout_s: float) -> type[HeadDeadlineH11Protocol]:
    """A protocol class for uvicorn's `http=` with this deadline (uvicorn builds one per connection)."""
    return type("HeadDeadlineH11", (HeadDeadlineH11Protocol,), {"head_timeout_s": head_timeout_s})
