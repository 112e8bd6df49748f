"""Which ticket conditions one device status raises or clears: pure functions, no database.

A condition is a ticket kind with a severity. A status says a condition is *active* (raise or keep
its ticket) or *clear* (start its quiet period); a reading it could not make (a flag `unknown`,
a device that did not answer) says neither, so an unreachable projector never resolves its lamp
ticket and never opens one either. Standby is not a condition: only what the device reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from avfleet.protocols.status import FAULT_COMPONENTS, Availability, DeviceStatus, FaultLevel

ONE_SHOT = ("command_failed", "unit_swapped")  # raised by an event, clear at once (quiet period applies)
DEVICE_LEVEL = (*FAULT_COMPONENTS, "lamp_life", "filter_life", "unreachable", "auth_failed")


@dataclass(frozen=True)
class LifeThresholds:
    lamp_warning: float = 0.9
    lamp_error: float = 1.0
    filter_warning: float = 0.9
    filter_error: float = 1.0


@dataclass(frozen=True)
class RatedLife:
    """Rated hours of the device's model (from its profile), None when the profile gives none."""

    lamp_h: int | None = None
    filter_h: int | None = None


@dataclass(frozen=True)
class Conditions:
    active: dict[str, str] = field(default_factory=dict)  # kind -> severity
    clear: frozenset[str] = frozenset()

    def key(self) -> tuple:
        return (tuple(sorted(self.active.items())), tuple(sorted(self.clear)))


def _life(hours: int | None, rated: int | None, warning: float, error: float) -> str | None:
    """'error', 'warning' or 'ok' for hours against rated life; None when either is unknown."""
    if hours is None or not rated:
        return None
    ratio = hours / rated
    if ratio >= error:
        return "error"
    if ratio >= warning:
        return "warning"
    return "ok"


def band(hours: int | None, rated: int | None, warning: float, error: float) -> tuple[float, float] | None:
    """The range of hours within which the life condition stays what it is for `hours` (None: unknown)."""
    if hours is None:
        return None
    if not rated:
        return (0.0, float("inf"))
    for lo, hi in ((0.0, rated * warning), (rated * warning, rated * error), (rated * error, float("inf"))):
        if lo <= hours < hi:
            return (lo, hi)
    return (0.0, float("inf"))


def lamp_hours(status: DeviceStatus) -> int | None:
    return max((lamp.hours for lamp in status.lamps), default=None)


def device_conditions(status: DeviceStatus, life: RatedLife, limits: LifeThresholds) -> Conditions:
    active: dict[str, str] = {}
    clear: set[str] = set()
    availability = status.availability
    if availability == Availability.unreachable:
        active["unreachable"] = "error"
        clear.add("auth_failed")
        return Conditions(active, frozenset(clear))
    if availability == Availability.auth_failed:
        active["auth_failed"] = "error"
        clear.add("unreachable")
        return Conditions(active, frozenset(clear))
    clear.update(("unreachable", "auth_failed"))  # it answered
    if availability != Availability.online:
        return Conditions(active, frozenset(clear))  # answered but not understood: no flag is known
    for component in FAULT_COMPONENTS:
        level = getattr(status.faults, component)
        if level in (FaultLevel.warning, FaultLevel.error):
            active[component] = level.value
        elif level == FaultLevel.ok:
            clear.add(component)
    for kind, level in (
        ("lamp_life", _life(lamp_hours(status), life.lamp_h, limits.lamp_warning, limits.lamp_error)),
        ("filter_life", _life(status.filter_hours, life.filter_h, limits.filter_warning, limits.filter_error)),
    ):
        if level in ("warning", "error"):
            active[kind] = level
        elif level == "ok":
            clear.add(kind)
    return Conditions(active, frozenset(clear))


def forecast_date(hours: int | None, rated: int | None, daily_on_hours: float | None, today: date) -> date | None:
    """The day `hours` reach `rated` at `daily_on_hours` a day; today when already past; None when unknown."""
    if hours is None or not rated or daily_on_hours is None:
        return None
    remaining = rated - hours
    if remaining <= 0:
        return today
    if daily_on_hours <= 0:
        return None
    days = remaining / daily_on_hours
    if days > 36_500:  # a device barely used: no meaningful date within a century
        return None
    return today + timedelta(days=int(days))


SEVERITY_RANK = {"warning": 1, "error": 2}


def worse(a: str, b: str) -> str:
    return a if SEVERITY_RANK.get(a, 0) >= SEVERITY_RANK.get(b, 0) else b
