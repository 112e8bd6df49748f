"""Counting refused payloads and logging them at most once per agent per minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from avfleet.controller.ingest.metrics import IngestMetrics

log = logging.getLogger("avfleet.controller.ingest")


class RejectionLog:
    def __init__(self, metrics: IngestMetrics, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.interval_s = interval_s
        self.clock = clock
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.total = 0

    def reject(self, agent_key: str, reason: str, detail: str) -> None:
        """Count one refused message; log it unless this agent was logged less than a minute ago."""
        self.total += 1
        self.metrics.rejected.labels(reason=reason).inc()
        now = self.clock()
        last = self._last_logged.get(agent_key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[agent_key] = self._suppressed.get(agent_key, 0) + 1
            return
        suppressed = self._suppressed.pop(agent_key, 0)
        self._last_logged[agent_key] = now
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        log.warning("rejected message from %s: %s: %s%s", agent_key, reason, detail[:300], more)
        if len(self._last_logged) > 50_000:  # bound memory against a flood of invented agent ids
            cutoff = now - self.interval_s
            self._last_logged = {k: v for k, v in self._last_logged.items() if v >= cutoff}
