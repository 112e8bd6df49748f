"""Validating and committing one batch of received messages: the ingest's CPU-heavy half.

`BatchWriter` runs in the ingest writer process (see sinks.py) or, optionally, in a thread of the
controller process. It only sees (topic, payload) pairs; acknowledging is the MQTT side's job,
done once the result of the batch says it is committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from avfleet.controller.commands import service as commands
from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.fleet.service import FleetService
from avfleet.controller.ingest.clock import clamp_future
from avfleet.controller.settings import ControllerSettings
from avfleet.controller.tickets.service import TicketInputs, TicketService, failed_commands
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import AgentMessage, PayloadError, parse_agent_message

DETAIL_CHARS = 300  # of a rejection's reason: what the log shows, and all that crosses the pipe


@dataclass
class BatchResult:
    """What the MQTT side needs after a commit: counts for metrics, refusals to count and log."""

    messages: int
    by_kind: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    newest_ts: datetime | None = None
    rejections: list[tuple[str, str, str]] = field(default_factory=list)  # (agent, reason, detail)
    clock_skewed: dict[str, int] = field(default_factory=dict)  # timestamps from the future clamped, by kind
    seconds: float = 0.0


class BatchWriter:
    def __init__(self, settings: ControllerSettings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(settings.resolved_database_url)
        self._owns_engine = engine is None
        self.fleet = FleetService()
        self.tickets = TicketService(settings) if settings.ticket_rules else None
        self._topics: dict[str, topics.ParsedTopic] = {}  # parsed topics by name (ParsedTopic is frozen)

    def write(self, items: list[tuple[str, bytes]]) -> BatchResult:
        """Validate and commit; raises when the database fails (the caller retries, nothing is acked)."""
        started = time.perf_counter()
        result = BatchResult(messages=len(items))
        messages, payloads = self._parse(items, result.rejections)
        if messages:
            now = datetime.now(UTC)
            result.clock_skewed = clamp_future(messages, now, self.settings.clock_skew_max_s, payloads)
            with write_transaction(self.engine) as conn:
                outcome = self.fleet.apply(conn, messages, now=now, payloads=payloads)
                commands.file_results(conn, outcome.command_results)
                if self.tickets is not None:
                    self.tickets.on_batch(conn, TicketInputs(
                        states=outcome.current_states, agents_online=outcome.agents_online,
                        failed_commands=failed_commands(conn, outcome.command_results), swaps=outcome.swaps), now)
            if self.tickets is not None:
                self.tickets.committed()
            result.by_kind = outcome.by_kind
            result.duplicates = outcome.duplicates
            result.newest_ts = outcome.newest_ts
        result.seconds = time.perf_counter() - started
        return result

    def _parse(self, items: list[tuple[str, bytes]], rejections: list[tuple[str, str, str]],
               ) -> tuple[list[AgentMessage], dict[int, bytes]]:
        messages: list[AgentMessage] = []
        payloads: dict[int, bytes] = {}
        cache = self._topics
        if len(cache) > 200_000:  # one entry per device topic; bound it against invented topics
            cache.clear()
        for topic, payload in items:
            parsed = cache.get(topic)
            if parsed is None:
                try:
                    parsed = cache[topic] = topics.parse_topic(topic)
                except topics.TopicError as exc:
                    rejections.append((agent_key(topic), "topic", str(exc)[:DETAIL_CHARS]))
                    continue
            try:
                message = parse_agent_message(parsed, payload)
            except PayloadError as exc:
                reason = "agent_mismatch" if "differs from topic" in exc.reason else "payload"
                rejections.append((parsed.agent_id, reason, exc.reason[:DETAIL_CHARS]))
                continue
            messages.append(message)
            payloads[id(message)] = payload
        return messages, payloads

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def agent_key(topic: str) -> str:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 else topic[:80]
