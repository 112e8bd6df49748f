"""Schedule tables: the schedule itself, and one row per run (scheduled, manual, or missed).

The contract's fields (DESIGN.md "Schedules and calendars") are declared once, in the base classes;
the tables add what only the controller needs (who made it, how far the scheduler got).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

ACTIONS = ("power_off", "power_on")
DAY_RULES = ("school_days", "non_school_days", "every_day")


class ScheduleBase(SQLModel):
    name: str = Field(max_length=128)
    action: str = Field(max_length=16, description="power_off | power_on")
    times: list[str] = Field(default_factory=list, sa_type=sa.JSON, description='["HH:MM", ...] Europe/Stockholm')
    days: Any = Field(default="every_day", sa_type=sa.JSON,
                      description="school_days | non_school_days | every_day | [1..7 ISO weekdays]")
    scope: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON,
                                  description="{municipality?, school?, room?, devices?: [{agent_id, device_id}]}")
    enabled: bool = True
    exceptions: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON,
                                             description="one-off skips: [{date, municipality?, school?, room?, "
                                             "reason?}]; without a place the whole occurrence is skipped")


class Schedule(ScheduleBase, table=True):
    __tablename__ = "schedules"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(default="avfleet", max_length=128)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # Every occurrence at or before this instant has been run or recorded as missed (jobs.py).
    handled_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ScheduleRunBase(SQLModel):
    schedule_id: int | None = Field(default=None, foreign_key="schedules.id", index=True,
                                    description="null for a technician's scope power command")
    action: str = Field(max_length=16)
    occurrence_at: datetime | None = Field(default=None, sa_type=UTCDateTime,
                                           description="the scheduled time this run is for; null when run by hand")
    state: str = Field(default="running", max_length=16, index=True, description="running | finished | missed")
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    requested_by: str = Field(default="avfleet", max_length=128, description="the scheduler, or who asked for it")
    targeted: int = 0
    already_off: int = 0
    already_on: int = 0
    powered_off: int = 0
    powered_on: int = 0
    failed: int = 0
    unreachable: int = 0
    expired: int = 0
    not_today: int = Field(default=0, description="devices of the scope whose own calendar excludes the day, "
                           "or excluded by an exception")
    kwh_saved: float = 0.0
    results: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    detail: str | None = Field(default=None, max_length=500)


class ScheduleRun(ScheduleRunBase, table=True):
    __tablename__ = "schedule_runs"
    # The database itself keeps one run per occurrence, whichever controller process starts it.
    __table_args__ = (sa.UniqueConstraint("schedule_id", "occurrence_at", name="uq_schedule_runs_occurrence"),)

    id: int | None = Field(default=None, primary_key=True)
