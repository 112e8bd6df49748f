"""Waiting for a condition of a real component, with a bound and a message that says what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll `predicate` every 0.1 s until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
