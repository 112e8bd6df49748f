"""Agent timestamps from the future are clamped to the time the controller received them.

An agent with a wrong clock (a Raspberry Pi has no RTC; a bad NTP answer) or a stray message can
stamp a state 2099. Newer-wins on such a time would pin the device (and `last_seen`, the agent's
status) forever, so a `ts` or `observed_at` more than `clock_skew_max_s` ahead of the receive time
is set to the receive time and counted (`avfleet_ingest_clock_skew_total`). Times in the past are
left alone: a replay after an outage or a controller's backlog is legitimately old, and states of
one agent epoch are ordered by seq anyway (fleet/ordering.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from avfleet.protocols.mqtt.payloads import AgentMessage

_KIND = {"StatusMessage": "status", "BirthMessage": "birth", "StateMessage": "state", "EventMessage": "event",
         "HealthMessage": "health", "CommandResult": "cmd_result"}


def clamp_future(messages: list[AgentMessage], received_at: datetime, max_skew_s: float,
                 payloads: dict[int, bytes]) -> dict[str, int]:
    """Clamp in place; returns clamped messages by kind. A clamped message's raw payload is dropped
    from `payloads`, so what is stored as its status carries the clamped time, not the agent's."""
    limit = received_at + timedelta(seconds=max_skew_s)
    clamped: dict[str, int] = {}
    for m in messages:
        hit = False
        if m.ts > limit:
            m.ts, hit = received_at, True
        observed = getattr(m, "observed_at", None)
        if observed is not None and observed > limit:
            m.observed_at, hit = received_at, True
        if hit:
            kind = _KIND.get(type(m).__name__, "other")
            clamped[kind] = clamped.get(kind, 0) + 1
            payloads.pop(id(m), None)
    return clamped
