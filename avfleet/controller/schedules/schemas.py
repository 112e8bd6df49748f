"""API bodies of the schedules domain (DESIGN.md "Schedules and calendars").

`ScheduleIn` is models.ScheduleBase with its JSON columns given their real shapes, so a bad time,
day rule or scope is a 422 naming the item before anything is stored.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from avfleet.controller.schedules.models import ScheduleBase, ScheduleRunBase

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class DeviceRef(BaseModel):
    agent_id: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)


class Scope(BaseModel):
    municipality: str | None = Field(default=None, max_length=128)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)
    devices: list[DeviceRef] | None = Field(default=None, max_length=10_000)


class ScheduleException(BaseModel):
    date: date
    municipality: str | None = Field(default=None, max_length=128)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)
    reason: str | None = Field(default=None, max_length=200)


class ScheduleIn(ScheduleBase):
    action: Literal["power_off", "power_on"]
    times: list[str] = Field(min_length=1, max_length=48)
    days: Literal["school_days", "non_school_days", "every_day"] | list[int] = "every_day"
    scope: Scope = Field(default_factory=Scope)
    exceptions: list[ScheduleException] = Field(default_factory=list, max_length=1000)

    @field_validator("times")
    @classmethod
    def _times(cls, times: list[str]) -> list[str]:
        for n, value in enumerate(times):
            if not TIME.match(value):
                raise ValueError(f"times[{n}]: {value!r} is not HH:MM (00:00 to 23:59)")
        return sorted(set(times))

    @field_validator("days")
    @classmethod
    def _days(cls, days: str | list[int]) -> str | list[int]:
        if isinstance(days, list):
            if not days:
                raise ValueError("days: name at least one ISO weekday (1 = Monday .. 7 = Sunday)")
            for n, value in enumerate(days):
                if not 1 <= value <= 7:
                    raise ValueError(f"days[{n}]: {value} is not an ISO weekday 1..7")
            return sorted(set(days))
        return days


class ScheduleOut(ScheduleIn):
    id: int


class Occurrence(BaseModel):
    at: str = Field(description="local ISO time, Europe/Stockholm, with its UTC offset")
    skipped: bool
    reason: str | None = None


class Occurrences(BaseModel):
    items: list[Occurrence]
    total: int


class RunResult(BaseModel):
    agent_id: str
    device_id: str
    result: str = Field(description="pending | powered_off | powered_on | already_off | already_on | failed | "
                        "unreachable | expired | not_today")
    detail: str | None = None


class RunOut(ScheduleRunBase):
    id: int
    results: list[RunResult] = Field(default_factory=list)


class PowerRequest(BaseModel):
    """A technician's power command for a whole scope: a run without a schedule."""

    action: Literal["power_off", "power_on"]
    scope: Scope
