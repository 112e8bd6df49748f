"""Which of two states of one device is newer, by what the controller can trust.

An agent numbers every message from its outbox: within one epoch (one outbox file) `seq` grows
strictly in the order the agent produced its messages, across restarts, whatever its clock says.
So within an epoch the higher seq is the newer state, and a replayed older state (lower seq) never
overwrites a newer current one. Across epochs (a reinstalled agent, or the first state after this
rule arrived) the seqs say nothing: a live (not replayed) state of another epoch wins, since an
agent's epoch changes only when its outbox is new and its live states are the truth now, even when
a fresh SD card's clock still lags (no RTC, NTP not yet answered); a replayed one wins only with a
newer `observed_at`. The ingest has already clamped an `observed_at` from the future to the time it
was received (ingest/clock.py), so one state stamped 2099 cannot pin a device.
"""

from __future__ import annotations

from datetime import datetime

from avfleet.protocols.mqtt.payloads import StateMessage


def is_newer(m: StateMessage, epoch: str | None, seq: int | None, observed_at: datetime | None) -> bool:
    """True when `m` should replace the current state (epoch, seq, observed_at); None = no state yet."""
    if observed_at is None:
        return True
    if epoch is not None and seq is not None and m.epoch == epoch:
        return m.seq > seq
    return not m.replayed or m.observed_at > observed_at


def in_order(messages: list[StateMessage]) -> list[StateMessage]:
    """One device's states of a batch (in arrival order), oldest first: by seq within an epoch, and
    the epochs in the order they arrived (one agent's messages come through one broker session)."""
    first: dict[str, int] = {}
    for i, m in enumerate(messages):
        first.setdefault(m.epoch, i)
    return sorted(messages, key=lambda m: (first[m.epoch], m.seq))


def newer_guard(mark: str) -> str:
    """The SQL condition of `is_newer` on a devices row; its parameters: `guard_params(...)`."""
    return (f"(observed_at IS NULL OR (state_epoch = {mark} AND state_seq < {mark}) "
            f"OR ((state_epoch IS NULL OR state_epoch <> {mark}) AND (NOT {mark} OR observed_at < {mark})))")


def guard_params(epoch: str, seq: int, replayed: bool, observed_at: object) -> tuple[object, ...]:
    return (epoch, seq, epoch, replayed, observed_at)
