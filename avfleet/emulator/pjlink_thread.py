"""Emulated projectors served from a background thread, for synchronous callers (subprocess tests, scripts).

    with EmulatorThread(lambda: EmulatedFleet.from_count(3)) as fleet_thread:
        port = fleet_thread.fleet[0].port
        fleet_thread.call(lambda: fleet_thread.fleet[0].inject_fault("fan", 2))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.loop_thread import LoopThread

T = TypeVar("T")


class EmulatorThread:
    """Runs an EmulatedFleet (built by `factory` inside the thread's loop) until `stop()`."""

    def __init__(self, factory: Callable[[], EmulatedFleet], *, start_timeout: float = 30.0) -> None:
        # EmulatedFleet is an async context manager: entering starts the emulators, exiting stops them.
        self._thread: LoopThread[EmulatedFleet] = LoopThread(factory, name="pjlink-emulators",
                                                             start_timeout=start_timeout, stop_timeout=10.0)
        self.fleet: EmulatedFleet | None = None

    def start(self) -> EmulatorThread:
        self.fleet = self._thread.start()
        return self

    def call(self, fn: Callable[[], T | Awaitable[T]], timeout: float = 10.0) -> T:
        """Run `fn` in the emulators' loop (their state is not thread-safe) and return its result."""
        return self._thread.call(fn, timeout)

    def stop(self) -> None:
        self._thread.stop()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
