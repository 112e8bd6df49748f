"""Commands issued to devices through their agent, and their results.

The columns the API shows under their own names are declared once, in `CommandBase`; the table and
schemas.CommandItem share it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

OPEN_STATES = ("pending", "sent")
FINAL_STATES = ("done", "failed", "expired", "rejected")


class CommandBase(SQLModel):
    agent_id: str = Field(foreign_key="agents.agent_id", max_length=64, index=True)
    device_id: str | None = Field(default=None, max_length=64, index=True)
    action: str = Field(max_length=32)
    args: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    issued_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="pending", max_length=16, index=True,
                        description="pending | sent | done | failed | expired | rejected")
    detail: str | None = Field(default=None, max_length=512)
    result_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CommandRecord(CommandBase, table=True):
    __tablename__ = "commands"

    command_id: str = Field(primary_key=True, max_length=64)
