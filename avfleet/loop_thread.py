"""An asyncio event loop on a background thread, for synchronous callers.

The one helper for this mechanism (DESIGN.md "Habits"): the demo runs its emulated fleet, agents and
embedded broker with it, tests and scripts run emulators with it. The loop owns one resource, an
async context manager built *inside* the loop (asyncio objects belong to the loop that made them):

    with LoopThread(lambda: EmulatedFleet.from_count(3), name="emulators") as thread:
        fleet = thread.value
        thread.call(lambda: fleet[0].inject_fault("fan", 2))

`start()` returns once the resource has been entered and raises, in the caller's thread, whatever
entering it raised. `stop()` exits the resource in the loop, joins the thread and raises what the
exit raised. A leaf module: standard library only, so anything may import it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class LoopThreadError(RuntimeError):
    """The loop thread is not in a state that allows the call (not started, or stopped)."""


class LoopThread(Generic[T]):
    """Runs `resource()` entered in a new event loop on a daemon thread until `stop()`."""

    def __init__(
        self,
        resource: Callable[[], AbstractAsyncContextManager[T]],
        *,
        name: str = "asyncio-loop",
        start_timeout: float = 30.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self._resource = resource
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._entered = False
        self._start_error: BaseException | None = None
        self._exit_error: BaseException | None = None
        self._value: T | None = None

    @property
    def value(self) -> T:
        """What entering the resource returned."""
        if not self._entered:
            raise LoopThreadError(f"{self.name} is not running")
        return self._value  # type: ignore[return-value]

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise LoopThreadError(f"{self.name} is not started")
        return self._loop

    def start(self) -> T:
        """Start the thread, enter the resource; its start error is raised here."""
        if self._thread is not None:
            raise LoopThreadError(f"{self.name} was already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            self._cancel()
            self._thread.join(self._stop_timeout)
            raise TimeoutError(f"{self.name} did not start within {self._start_timeout:g} s")
        if self._start_error is not None:
            self._thread.join(self._stop_timeout)
            raise self._start_error
        return self._value  # type: ignore[return-value]

    def submit(self, coro: Coroutine[Any, Any, R]) -> concurrent.futures.Future[R]:
        """Schedule a coroutine in the loop; the returned future is safe to wait on from any thread."""
        if self._loop is None or self._loop.is_closed():
            coro.close()
            raise LoopThreadError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def call(self, fn: Callable[[], R | Awaitable[R]], timeout: float = 10.0) -> R:
        """Run `fn` in the loop (the loop's objects are not thread-safe) and return its (awaited) result."""

        async def run() -> Any:
            result = fn()
            if asyncio.isfuture(result) or asyncio.iscoroutine(result):
                result = await result
            return result

        return self.submit(run()).result(timeout)

    def stop(self) -> None:
        """Exit the resource in the loop and join the thread; raises what exiting raised. Idempotent."""
        if self._thread is None:
            return
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(event.set)
        self._thread.join(self._stop_timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.name} did not stop within {self._stop_timeout:g} s")
        error, self._exit_error = self._exit_error, None
        if error is not None:
            raise error

    def _cancel(self) -> None:
        loop, task = self._loop, self._main_task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        finally:
            self._entered = False
            self._ready.set()  # never leave start() waiting, whatever happened

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._main_task = asyncio.current_task()  # type: ignore[assignment]
        self._stop_event = asyncio.Event()
        try:
            async with self._resource() as value:
                self._value = value
                self._entered = True
                self._ready.set()
                await self._stop_event.wait()
        except BaseException as exc:  # handed to the caller's thread: start() or stop() raises it
            if self._entered or self._ready.is_set():
                self._exit_error = exc
            else:
                self._start_error = exc

    def __enter__(self) -> LoopThread[T]:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
