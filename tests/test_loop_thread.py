"""The one helper that runs an asyncio loop on a thread (avfleet.loop_thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from avfleet.loop_thread import LoopThread, LoopThreadError


class Boom(Exception):
    pass


def test_start_enters_the_resource_in_the_thread_and_stop_exits_it() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def resource() -> AsyncIterator[dict]:
        events.append(f"enter:{threading.current_thread().name}")
        state = {"loop": asyncio.get_running_loop()}
        yield state
        events.append("exit")

    thread = LoopThread(resource, name="test-loop")
    state = thread.start()
    assert events == ["enter:test-loop"]
    assert thread.value is state
    assert thread.call(lambda: threading.current_thread().name) == "test-loop"

    async def in_loop() -> bool:
        return asyncio.get_running_loop() is state["loop"]

    assert thread.call(in_loop) is True
    assert thread.submit(in_loop()).result(5) is True
    thread.stop()
    assert events == ["enter:test-loop", "exit"]
    thread.stop()  # idempotent
    with pytest.raises(LoopThreadError):
        thread.call(lambda: None)


def test_a_start_error_is_raised_in_the_caller() -> None:
    @asynccontextmanager
    async def resource() -> AsyncIterator[None]:
        raise Boom("port in use")
        yield  # pragma: no cover

    thread = LoopThread(resource)
    with pytest.raises(Boom, match="port in use"):
        thread.start()
    with pytest.raises(LoopThreadError):
        _ = thread.value


def test_an_exit_error_is_raised_by_stop() -> None:
    @asynccontextmanager
    async def resource() -> AsyncIterator[None]:
        yield
        raise Boom("cleanup failed")

    thread = LoopThread(resource)
    thread.start()
    with pytest.raises(Boom, match="cleanup failed"):
        thread.stop()


def test_a_start_that_hangs_times_out_and_the_thread_ends() -> None:
    cancelled = threading.Event()

    @asynccontextmanager
    async def resource() -> AsyncIterator[None]:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield  # pragma: no cover

    thread = LoopThread(resource, name="hangs", start_timeout=0.2)
    with pytest.raises(TimeoutError, match="hangs did not start"):
        thread.start()
    assert cancelled.wait(5)
    assert not any(t.name == "hangs" and t.is_alive() for t in threading.enumerate())


def test_call_before_start_is_refused() -> None:
    @asynccontextmanager
    async def resource() -> AsyncIterator[None]:
        yield

    with pytest.raises(LoopThreadError):
        LoopThread(resource).call(lambda: None)
