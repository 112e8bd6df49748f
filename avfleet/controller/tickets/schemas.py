"""API bodies of the tickets domain: the public ticket is the table's contract fields plus its id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from avfleet.controller.tickets.models import TicketBase


class TicketPublic(TicketBase):
    id: int


class TicketNotePublic(BaseModel):
    at: datetime
    by: str
    action: str
    text: str | None = None


class TicketDetail(TicketPublic):
    notes: list[TicketNotePublic] = Field(default_factory=list)


class TicketList(BaseModel):
    items: list[TicketPublic]
    total: int


class TicketAction(BaseModel):
    """Body of acknowledge / resolve / close: an optional comment for the journal."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=4000)


class TicketComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class NotificationPublic(BaseModel):
    id: int
    channel: str
    target: str
    event: str
    ticket_id: int | None
    delivery_id: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


class NotificationList(BaseModel):
    items: list[NotificationPublic]
    total: int


PUBLIC_FIELDS = tuple(TicketPublic.model_fields)


def public_ticket(row: Any) -> dict[str, Any]:
    """A ticket row as the contract's JSON object (timestamps as ISO text)."""
    data = {name: getattr(row, name) for name in PUBLIC_FIELDS}
    return TicketPublic.model_validate(data).model_dump(mode="json")
