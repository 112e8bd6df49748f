"""API bodies of the calendars domain: `{"days": [{start, end, kind, name}]}`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from avfleet.controller.calendars.models import CalendarDayBase


class CalendarDayItem(CalendarDayBase):
    kind: Literal["break", "study_day", "closing_day"]

    @model_validator(mode="after")
    def _ordered(self) -> CalendarDayItem:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class CalendarBody(BaseModel):
    days: list[CalendarDayItem] = Field(max_length=2000)


class CalendarOut(CalendarBody):
    municipality: str
    school: str | None = None
