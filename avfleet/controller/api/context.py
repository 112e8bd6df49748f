"""What the API's routes share: settings, the engine, metrics and the broker link of this process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from sqlalchemy.engine import Engine

from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.settings import ControllerSettings


class BrokerLink(Protocol):
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, expiry_s: int | None = None) -> bool: ...

    def wait_connected(self, timeout: float) -> bool: ...


@dataclass
class ApiContext:
    settings: ControllerSettings
    engine: Engine
    metrics: IngestMetrics
    broker: BrokerLink | None = None


def get_context(request: Request) -> ApiContext:
    return request.app.state.context
