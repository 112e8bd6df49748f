"""One coordinator per device: polls it, decides what changed, and reports states and events.

- Polls every `interval × (1 ± jitter)`; the first poll waits a random fraction of the interval so
  hundreds of devices do not all poll at once.
- A failed poll (availability `unreachable`) counts; the device is reported unreachable only after
  `failure_threshold` failures in a row. Meanwhile the last good state stands. While unreachable,
  the wait doubles per failure up to `max_backoff_s`.
- A state is published on every change (the status without `observed_at`) and at least every
  `heartbeat_s`; events on transitions: availability, power, fault raised/cleared, identity
  changed, and device notifications. Only transitions are logged.
- Polls and commands share the device's single poller under one lock, so a device sees one
  conversation at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from avfleet.agent.config import PollingConfig
from avfleet.backoff import backoff_delay, exponential, jittered
from avfleet.protocols.mqtt.payloads import EventType
from avfleet.protocols.poller import DevicePoller
from avfleet.protocols.status import FAULT_COMPONENTS, Availability, DeviceStatus, FaultLevel, Kind, Power

log = logging.getLogger("avfleet.agent.coordinator")

_ACTIVE = (FaultLevel.warning, FaultLevel.error)
# At most one notification event and one early poll per device in this time: a device (or anyone on
# the LAN) sending thousands of datagrams a second must not flood the outbox or poll the device non-stop.
NOTIFICATION_GAP_S = 1.0
_IDENTITY_FIELDS = ("manufacturer", "model", "serial", "firmware", "name", "mac", "pjlink_class")


class Reporter(Protocol):
    """Where a coordinator's output goes (the agent's MQTT link through the outbox)."""

    def state(self, status: DeviceStatus) -> None: ...

    def event(
        self,
        device_id: str,
        event: EventType,
        *,
        component: str | None = None,
        old: Any = None,
        new: Any = None,
        observed_at: Any = None,
        detail: str | None = None,
    ) -> None: ...


class DeviceCoordinator:
    def __init__(
        self,
        device_id: str,
        poller: DevicePoller,
        reporter: Reporter,
        *,
        polling: PollingConfig,
        interval_s: float,
        kind: Kind | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        feeds: dict[int, str] | None = None,
    ) -> None:
        self.device_id = device_id
        self.feeds = feeds or {}  # a PDU's outlet index → the device it feeds, named on each reported outlet
        self.poller = poller
        self.reporter = reporter
        self.polling = polling
        self.interval_s = interval_s
        self.kind = kind
        self._clock = clock
        self._rng = rng or random.Random()
        self.lock = asyncio.Lock()
        self._poke = asyncio.Event()
        self._force_publish = False
        self._polled = asyncio.Condition()
        self._polling = False
        self.polls = 0
        self.failures = 0  # consecutive failed polls
        self.reported: DeviceStatus | None = None  # what subscribers were last told
        self._comparable: dict | None = None
        self._last_publish = float("-inf")
        # The last values seen from an answering device, for power/fault/identity transitions.
        self._known_power: Power | None = None
        self._known_faults: dict[str, FaultLevel] = {}
        self._known_identity: dict[str, str | None] = {}
        self._last_notification = float("-inf")
        self.notifications_coalesced = 0  # notifications folded into an earlier one's event (a flood)
        self._coalesced_since_event = 0
        self._trailing: asyncio.TimerHandle | None = None

    # ---- control ------------------------------------------------------------------------------

    def poke(self, *, force_publish: bool = False) -> None:
        """Poll now instead of waiting (a notification, a command, a refresh)."""
        self._force_publish = self._force_publish or force_publish
        self._poke.set()

    async def poll_now(self, *, force_publish: bool = True, timeout: float = 30.0) -> DeviceStatus | None:
        """Poll at once and wait for that poll to be handled; returns the reported status."""
        async with self._polled:
            # A poll already under way may have started before what we want to see; wait for the next.
            target = self.polls + (2 if self._polling else 1)
            self.poke(force_publish=force_publish)
            async with asyncio.timeout(timeout):
                await self._polled.wait_for(lambda: self.polls >= target)
        return self.reported

    async def execute(self, action: str, args: dict[str, Any]) -> None:
        """Run a command on the device between polls; raises the poller's CommandError types."""
        async with self.lock:
            await self.poller.execute(action, args)

    def notification(self, detail: str) -> None:
        """A device notification (PJLink Class 2): report it, then poll the device at once.

        Coalesced: within NOTIFICATION_GAP_S of the last reported one, a notification is only counted
        (the next event says how many it stands for) and one poll follows at the end of the gap, so
        the last of a burst is still seen promptly.
        """
        now = self._clock()
        wait = self._last_notification + NOTIFICATION_GAP_S - now
        if wait > 0:
            self.notifications_coalesced += 1
            self._coalesced_since_event += 1
            if self._trailing is None:
                with contextlib.suppress(RuntimeError):  # no running loop (a unit test): the next poll sees it
                    self._trailing = asyncio.get_running_loop().call_later(wait, self._trailing_poll)
            return
        self._last_notification = now
        if self._coalesced_since_event:
            detail = f"{detail} (+{self._coalesced_since_event} more since the last)"
            log.warning("%s: %d notifications coalesced", self.device_id, self._coalesced_since_event)
            self._coalesced_since_event = 0
        self.reporter.event(self.device_id, EventType.notification, detail=detail)
        self.poke()

    def _trailing_poll(self) -> None:
        self._trailing = None
        self.poke()

    # ---- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        # Full jitter on the first wait: agents that start together do not poll in lock-step.
        first_wait = backoff_delay(0, base=min(self.interval_s, 5.0), cap=5.0, jitter=1.0, rng=self._rng)
        await self._wait(first_wait)
        try:
            while True:
                status = await self._poll_once()
                self.handle(status)
                async with self._polled:
                    self.polls += 1
                    self._polled.notify_all()
                await self._wait(self.next_delay())
        finally:
            try:
                await self.poller.close()
            except Exception:
                log.exception("%s: closing the poller failed", self.device_id)

    async def _wait(self, delay: float) -> None:
        if self._poke.is_set():
            self._poke.clear()
            return
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (cpython gh-86296).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._poke.wait()
        self._poke.clear()

    async def _poll_once(self) -> DeviceStatus:
        async with self.lock:
            self._polling = True
            try:
                return await self.poller.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # poll() must not raise for device trouble; this is a poller bug, reported as `error`.
                log.exception("%s: poller raised", self.device_id)
                return DeviceStatus(
                    device_id=self.device_id,
                    kind=self.kind or Kind.other,
                    protocol=getattr(getattr(self.poller, "target", None), "scheme", None) or "pjlink",
                    availability=Availability.error,
                    detail=f"poller error: {type(exc).__name__}",
                )
            finally:
                self._polling = False

    def next_delay(self) -> float:
        # Past the failure threshold the interval doubles per failure, up to max_backoff_s.
        over = self.failures - self.polling.failure_threshold
        base = exponential(over + 2, base=self.interval_s, cap=self.polling.max_backoff_s)
        return jittered(base, self.polling.jitter, self._rng)

    # ---- deciding what to report --------------------------------------------------------------

    def handle(self, status: DeviceStatus) -> None:
        """Take one poll's result: count failures, publish a state and events when something changed."""
        now = self._clock()
        force, self._force_publish = self._force_publish, False
        if self.feeds and status.outlets:
            status = status.model_copy(update={"outlets": [
                o.model_copy(update={"feeds": self.feeds.get(o.index)}) for o in status.outlets]})
        if status.availability == Availability.unreachable:
            self.failures += 1
            if self.failures < self.polling.failure_threshold:
                # Not yet unreachable: the last good state stands (nothing is said about a device never seen).
                if self.reported is not None and (force or now - self._last_publish >= self.polling.heartbeat_s):
                    self._publish(self.reported, now)
                return
        else:
            self.failures = 0
        comparable = status.comparable()
        changed = comparable != self._comparable
        if changed:
            self._events(status)
            self._comparable = comparable
        if changed or force or now - self._last_publish >= self.polling.heartbeat_s:
            self._publish(status, now)

    def _publish(self, status: DeviceStatus, now: float) -> None:
        self.reported = status
        self._last_publish = now
        self.reporter.state(status)

    def _events(self, new: DeviceStatus) -> None:
        old = self.reported
        emit = self.reporter.event
        at = new.observed_at
        if old is not None and old.availability != new.availability:
            level = logging.WARNING if new.availability != Availability.online else logging.INFO
            log.log(level, "%s: %s → %s%s", self.device_id, old.availability.value, new.availability.value,
                    f" ({new.detail})" if new.detail else "")
            emit(self.device_id, EventType.availability, old=old.availability.value, new=new.availability.value,
                 observed_at=at, detail=new.detail)
        if new.availability != Availability.online:
            return
        if self._known_power is not None and new.power != self._known_power:
            log.info("%s: power %s → %s", self.device_id, self._known_power.value, new.power.value)
            emit(self.device_id, EventType.power, old=self._known_power.value, new=new.power.value, observed_at=at)
        first = self._known_power is None
        self._known_power = new.power
        for component in FAULT_COMPONENTS:
            level: FaultLevel = getattr(new.faults, component)
            before = self._known_faults.get(component)
            if not first and level != before:
                if level in _ACTIVE:
                    log.warning("%s: %s fault %s", self.device_id, component, level.value)
                    emit(self.device_id, EventType.fault_raised, component=component,
                         old=before.value if before else None, new=level.value, observed_at=at)
                elif level == FaultLevel.ok and before in _ACTIVE:
                    log.info("%s: %s fault cleared", self.device_id, component)
                    emit(self.device_id, EventType.fault_cleared, component=component,
                         old=before.value if before else None, new=level.value, observed_at=at)
            if level != FaultLevel.unknown:
                self._known_faults[component] = level
        for name in _IDENTITY_FIELDS:
            value = getattr(new.identity, name)
            if value is None:
                continue
            before_id = self._known_identity.get(name)
            if before_id is not None and before_id != value:
                log.warning("%s: identity %s changed %r → %r", self.device_id, name, before_id, value)
                emit(self.device_id, EventType.identity_changed, component=name, old=before_id, new=value,
                     observed_at=at)
            self._known_identity[name] = value
