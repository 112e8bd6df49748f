"""Finding the real components the tests run against.

Outside CI a missing component skips the test with a reason; with CI=true it fails, because CI
installs everything and a skip there would hide a broken set-up.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because a real component is absent."""
    if in_ci():
        pytest.fail(f"required component missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, *candidates: str) -> str:
    """The path of an executable, looked up on PATH and in the given candidate paths."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate)
        if found:
            return found
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    missing(f"{name} is not installed (apt-get install it, or run .ci/run)")
    raise AssertionError("unreachable")


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 a moment ago (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    """`count` distinct free ports, held open together while they are picked."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, kind)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
