"""The reports' one table: each schedule run's kWh saved, split per municipality once (jobs.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime


class RunSaving(SQLModel, table=True):
    """A finished run's kwh_saved, shared out over the municipalities of the devices it powered off.

    A county-wide run names every device of the county in its results, every school day: splitting it
    once here spares each report from unpacking a year of those lists (seconds per report).
    """

    __tablename__ = "report_run_savings"

    run_id: int = Field(foreign_key="schedule_runs.id", primary_key=True)
    municipality: str = Field(primary_key=True, max_length=128)  # "" for devices of no municipality
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)  # the run's, to select a period
    devices: int = 0  # powered off in this municipality
    kwh_saved: float = 0.0
