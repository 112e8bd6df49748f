"""The outbox table of notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

CHANNELS = ("webhook", "email", "topdesk")
STATES = ("pending", "sent", "dead", "digest")  # digest: waits for its recipients' daily digest


class NotificationBase(SQLModel):
    channel: str = Field(max_length=16, index=True)
    target: str = Field(max_length=500)  # webhook URL, comma-joined recipients, or the TOPdesk URL
    event: str = Field(max_length=32)
    ticket_id: int | None = Field(default=None, index=True)
    delivery_id: str = Field(max_length=64, unique=True)
    state: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, index=True)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    language: str = Field(default="sv", max_length=2)


class Notification(NotificationBase, table=True):
    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    # The body as it will be sent (the ticket as it was when the change happened).
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
