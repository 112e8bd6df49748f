"""Energy arithmetic on one device's transitions: pure, no database (tests build histories by hand).

A device's state holds from one transition to the next. Each stretch of time is cut at the window's
edges and at the school hours, then counted:

- a gap (no energy, not covered) where the device is not `online`, its power is `unknown`, its
  agent has been silent since `cutoff` or was out (lost or stopped) during one of its `outages`,
  or no watts are known for its state;
- measured where the reading carries `power_w`, else rated (the profile's watts for the state).
  A device that answers in standby keeps its network interface up, so standby draws the profile's
  `networked_standby` watts (the eco-standby `standby` figure only where no networked one is rated).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

ON_STATES = frozenset({"on", "warming", "cooling"})
J_PER_KWH = 3_600_000.0


@dataclass(frozen=True)
class Reading:
    observed_at: datetime
    availability: str
    power: str
    power_w: float | None = None


@dataclass(frozen=True)
class Watts:
    """Rated watts per power state (firmware_configs/profiles/*.yaml `rated_watts`)."""

    on: float
    standby: float | None = None
    networked_standby: float | None = None

    def rated(self, power: str) -> float | None:
        if power in ON_STATES:
            return self.on  # warm-up and cool-down draw about the lamp's full power (assumption, docs/energy.md)
        if power == "standby":
            return self.networked_standby if self.networked_standby is not None else self.standby
        return None


@dataclass
class Figures:
    """One device's (or a sum of devices') figures over a period; seconds and kWh add up."""

    period_s: float = 0.0
    measured_s: float = 0.0
    rated_s: float = 0.0
    kwh: float = 0.0
    kwh_school_hours: float = 0.0
    kwh_left_on: float = 0.0
    kwh_standby: float = 0.0
    hours_on: float = 0.0
    hours_left_on: float = 0.0

    def add(self, other: Figures, sign: float = 1.0) -> None:
        """Add `other` (sign -1: take it away); spelled out, a loop over fields() cost 0.1 ms a call."""
        self.period_s += sign * other.period_s
        self.measured_s += sign * other.measured_s
        self.rated_s += sign * other.rated_s
        self.kwh += sign * other.kwh
        self.kwh_school_hours += sign * other.kwh_school_hours
        self.kwh_left_on += sign * other.kwh_left_on
        self.kwh_standby += sign * other.kwh_standby
        self.hours_on += sign * other.hours_on
        self.hours_left_on += sign * other.hours_left_on

    @property
    def coverage(self) -> float:
        if self.period_s <= 0:
            return 0.0
        return min(1.0, (self.measured_s + self.rated_s) / self.period_s)

    @property
    def basis(self) -> str:
        if self.measured_s > 0 and self.rated_s > 0:
            return "mixed"
        return "measured" if self.measured_s > 0 else "rated"


def compute(readings: Sequence[Reading], start: datetime, end: datetime, *, watts: Watts | None,
            school: tuple[datetime, datetime] | None, cutoff: datetime | None = None,
            outages: Sequence[tuple[datetime, datetime]] = ()) -> Figures:
    """Figures of [start, end) from readings sorted by time (the last one before `start` included).

    `school` is the school-hours window of a school day (None on other days); `cutoff` the moment after
    which nothing is known (the agent lost or stopped since then); `outages` the (since, until)
    stretches while the agent was lost or stopped: gaps, whatever state was last reported before them.
    """
    out = Figures(period_s=max(0.0, (end - start).total_seconds()))
    if end <= start:
        return out
    known_until = end if cutoff is None else max(start, min(end, cutoff))
    gaps = [(max(a, start), min(b, known_until)) for a, b in outages if a < known_until and b > start]
    # Every school-hours and outage edge cuts the stretches, so each piece is wholly in or out of both.
    cuts = sorted({t for t in (*(school or ()), *(t for gap in gaps for t in gap)) if start < t < known_until})
    for seg_start, seg_end, reading in _segments(readings, start, known_until):
        edges = [seg_start, *(t for t in cuts if seg_start < t < seg_end), seg_end]
        for a, b in pairwise(edges):
            if gaps and any(g0 <= a and b <= g1 for g0, g1 in gaps):
                continue  # the agent was out: nothing is known of the device then
            in_school = school is not None and school[0] <= a and b <= school[1]
            _count(out, reading, (b - a).total_seconds(), in_school, watts)
    return out


def _segments(readings: Sequence[Reading], start: datetime,
              end: datetime) -> Iterable[tuple[datetime, datetime, Reading]]:
    current: Reading | None = None
    at = start
    for reading in readings:
        if reading.observed_at <= start:
            current = reading
            continue
        if reading.observed_at >= end:
            break
        if current is not None:
            yield at, reading.observed_at, current
        current, at = reading, reading.observed_at
    if current is not None and at < end:
        yield at, end, current


def _count(out: Figures, reading: Reading, seconds: float, in_school: bool, watts: Watts | None) -> None:
    if seconds <= 0 or reading.availability != "online" or reading.power not in ON_STATES | {"standby"}:
        return  # a gap: unreachable, answering but not understood, or power unknown
    if reading.power_w is not None and reading.power_w >= 0:
        w, measured = reading.power_w, True
    else:
        rated = watts.rated(reading.power) if watts is not None else None
        if rated is None:
            return  # no measurement and no rated figure: a gap, not a guess
        w, measured = rated, False
    if measured:
        out.measured_s += seconds
    else:
        out.rated_s += seconds
    kwh = w * seconds / J_PER_KWH
    out.kwh += kwh
    if in_school:
        out.kwh_school_hours += kwh
    if reading.power in ON_STATES:
        out.hours_on += seconds / 3600
        if not in_school:
            out.kwh_left_on += kwh
            out.hours_left_on += seconds / 3600
    else:
        out.kwh_standby += kwh
