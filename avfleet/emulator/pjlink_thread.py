"""Emulated projectors served from a background thread, for synchronous callers (subprocess tests, scripts).

    with EmulatorThread(lambda: EmulatedFleet.from_count(3)) as fleet_thread:
        port = fleet_thread.fleet[0].port
        fleet_thread.call(lambda: fleet_thread.fleet[0].inject_fault("fan", 2))
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from avfleet.emulator.pjlink_fleet import EmulatedFleet

T = TypeVar("T")


class EmulatorThread:
    """Runs an EmulatedFleet (built by `factory` inside the thread's loop) until `stop()`."""

    def __init__(self, factory: Callable[[], EmulatedFleet], *, start_timeout: float = 30.0) -> None:
        self._factory = factory
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.fleet: EmulatedFleet | None = None

    def start(self) -> EmulatorThread:
        self._thread = threading.Thread(target=self._run, name="pjlink-emulators", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError("emulated projectors did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.fleet = await self._factory().start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.fleet.stop()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn` in the emulators' loop (their state is not thread-safe) and return its result."""
        if self._loop is None:
            raise RuntimeError("not started")

        async def run() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
