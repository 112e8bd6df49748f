"""DeviceCoordinator decisions, fed statuses directly (no device needed): failure threshold, backoff,
jitter, heartbeat, and which events each transition gives."""

from __future__ import annotations

import random

from avfleet.agent.config import PollingConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.protocols.status import Availability, DeviceStatus, FaultLevel, Faults, Identity, Kind, Power


class Collect:
    def __init__(self) -> None:
        self.states: list[DeviceStatus] = []
        self.events: list[tuple] = []

    def state(self, status: DeviceStatus) -> None:
        self.states.append(status)

    def event(self, device_id, event, *, component=None, old=None, new=None, observed_at=None, detail=None) -> None:
        self.events.append((event.value, component, old, new))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(polling: PollingConfig | None = None, interval: float = 10.0):
    out, clock = Collect(), Clock()
    coordinator = DeviceCoordinator("pj", poller=None, reporter=out, polling=polling or PollingConfig(),
                                    interval_s=interval, clock=clock, rng=random.Random(1))
    return coordinator, out, clock


def online(**fields) -> DeviceStatus:
    return DeviceStatus(device_id="pj", kind=Kind.projector, protocol="pjlink", availability=Availability.online,
                        **fields)


def unreachable(detail: str = "timeout") -> DeviceStatus:
    return DeviceStatus(device_id="pj", kind=Kind.projector, protocol="pjlink",
                        availability=Availability.unreachable, detail=detail)


def test_unreachable_only_after_n_consecutive_failures_and_backoff_doubles() -> None:
    polling = PollingConfig(failure_threshold=3, jitter=0.0, max_backoff_s=80)
    c, out, _clock = make(polling)
    c.handle(online(power=Power.on))
    assert [s.availability for s in out.states] == ["online"]
    c.handle(unreachable())
    c.handle(unreachable())
    assert len(out.states) == 1 and c.next_delay() == 10  # still the last good state, normal interval
    c.handle(online(power=Power.on))  # one success resets the count
    c.handle(unreachable())
    c.handle(unreachable())
    assert len(out.states) == 1
    c.handle(unreachable())
    assert [s.availability for s in out.states] == ["online", "unreachable"]
    assert out.events == [("availability", None, "online", "unreachable")]
    delays = []
    for _ in range(4):
        delays.append(c.next_delay())
        c.handle(unreachable())
    assert delays == [20, 40, 80, 80]
    assert len(out.states) == 2  # unchanged while unreachable (the heartbeat is 300 s)


def test_never_seen_device_is_not_reported_before_the_threshold() -> None:
    c, out, _clock = make(PollingConfig(failure_threshold=2))
    c.handle(unreachable())
    assert out.states == []
    c.handle(unreachable())
    assert [s.availability for s in out.states] == ["unreachable"]


def test_auth_failure_is_reported_at_once() -> None:
    c, out, _clock = make(PollingConfig(failure_threshold=5))
    c.handle(online())
    c.handle(DeviceStatus(device_id="pj", kind=Kind.projector, protocol="pjlink",
                          availability=Availability.auth_failed, detail="ERRA"))
    assert [s.availability for s in out.states] == ["online", "auth_failed"]


def test_heartbeat_republishes_an_unchanged_state() -> None:
    c, out, clock = make(PollingConfig(heartbeat_s=60))
    c.handle(online(power=Power.standby))
    clock.now += 30
    c.handle(online(power=Power.standby))
    assert len(out.states) == 1
    clock.now += 31
    c.handle(online(power=Power.standby))
    assert len(out.states) == 2 and out.events == []


def test_jitter_spreads_waits_within_bounds() -> None:
    c, _out, _clock = make(PollingConfig(jitter=0.2), interval=10)
    delays = [c.next_delay() for _ in range(200)]
    assert min(delays) >= 8 and max(delays) <= 12 and len(set(delays)) > 100


def test_transition_events() -> None:
    c, out, _clock = make()
    c.handle(online(power=Power.standby, faults=Faults(fan=FaultLevel.ok, lamp=FaultLevel.warning),
                    identity=Identity(serial="A1", model="X")))
    assert out.events == []  # a first observation only publishes the state
    c.handle(online(power=Power.warming, faults=Faults(fan=FaultLevel.error, lamp=FaultLevel.warning),
                    identity=Identity(serial="A1", model="X")))
    c.handle(online(power=Power.on, faults=Faults(fan=FaultLevel.ok, lamp=FaultLevel.ok),
                    identity=Identity(serial="B2", model="X")))
    assert out.events == [
        ("power", None, "standby", "warming"),
        ("fault_raised", "fan", "ok", "error"),
        ("power", None, "warming", "on"),
        ("fault_cleared", "fan", "error", "ok"),
        ("fault_cleared", "lamp", "warning", "ok"),
        ("identity_changed", "serial", "A1", "B2"),
    ]
    assert [s.power for s in out.states] == ["standby", "warming", "on"]


def test_unknown_levels_and_unreachable_power_raise_no_events() -> None:
    c, out, _clock = make(PollingConfig(failure_threshold=1))
    c.handle(online(power=Power.on, faults=Faults(lamp=FaultLevel.error)))
    c.handle(unreachable())  # power unknown, faults unknown: not a power-off, not a fault clearing
    c.handle(online(power=Power.on, faults=Faults(lamp=FaultLevel.error)))
    assert out.events == [("availability", None, "online", "unreachable"),
                          ("availability", None, "unreachable", "online")]
