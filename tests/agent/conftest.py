"""Fixtures of the agent tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.helpers import durable_broker
from tests.support.mosquitto import MosquittoBroker


@pytest.fixture
def durable_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = durable_broker(tmp_path / "mosquitto").start()
    try:
        yield broker
    finally:
        broker.kill()
