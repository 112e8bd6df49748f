"""A municipality's (or one school's) calendar: one row per break, study day or closing day.

A school with rows of its own uses them instead of its municipality's (a school-level override,
docs/schedules.md); rows with `school` NULL are the municipality's calendar.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

KINDS = ("break", "study_day", "closing_day")


class CalendarDayBase(SQLModel):
    start: date
    end: date  # inclusive
    kind: str = Field(max_length=16, description="break | study_day | closing_day")
    name: str = Field(default="", max_length=128)


class CalendarDay(CalendarDayBase, table=True):
    __tablename__ = "calendar_days"

    id: int | None = Field(default=None, primary_key=True)
    municipality: str = Field(max_length=128, index=True)
    school: str | None = Field(default=None, max_length=128)
