"""The lease table: one row per periodic job, held by one controller process at a time."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime


class Lease(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
