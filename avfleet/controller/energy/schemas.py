"""API bodies of /api/v1/energy (DESIGN.md "Energy")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from avfleet.controller.energy.models import EnergyFiguresBase


class EnergyItem(EnergyFiguresBase):
    level: Literal["county", "municipality", "school", "room", "device"]
    municipality: str | None = None
    school: str | None = None
    room: str | None = None
    agent_id: str | None = None
    device_id: str | None = None
    period: str = Field(description="YYYY-MM-DD, YYYY-MM or YYYY (local Europe/Stockholm days)")
    co2e_kg: float
    basis: Literal["measured", "rated", "mixed"]
    coverage: float = Field(ge=0, le=1, description="share of the period with data; gaps are never filled")


class Co2eFactorOut(BaseModel):
    g_co2e_per_kwh: float
    source: str


class YearFactor(Co2eFactorOut):
    year: int


class EnergyAnswer(BaseModel):
    items: list[EnergyItem]
    total: int
    factor: Co2eFactorOut
    factors: list[YearFactor] = Field(description="the factor of each year the answer touches")
    previous_year: list[EnergyItem]
    timezone: str
    from_: str = Field(alias="from")
    to: str

    model_config = {"populate_by_name": True}


CSV_COLUMNS = ("series", "level", "municipality", "school", "room", "agent_id", "device_id", "period", "kwh",
               "kwh_school_hours", "kwh_left_on", "kwh_standby", "hours_on", "hours_left_on", "co2e_kg", "basis",
               "coverage", "g_co2e_per_kwh", "co2e_source")
