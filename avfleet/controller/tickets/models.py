"""Ticket tables: the ticket itself, and its journal (who did what, when: opened, comments, resolve...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

KINDS = ("lamp", "fan", "temperature", "cover", "filter", "other", "lamp_life", "filter_life", "unreachable",
         "auth_failed", "agent_lost", "command_failed", "unit_swapped")
SEVERITIES = ("warning", "error")
STATES = ("open", "acknowledged", "resolved", "closed")
ACTIVE_STATES = ("open", "acknowledged")


class TicketBase(SQLModel):
    """The contract's fields (DESIGN.md), shared by the table and the API's public model."""

    kind: str = Field(max_length=32, index=True)
    severity: str = Field(max_length=16)
    state: str = Field(default="open", max_length=16, index=True)
    agent_id: str = Field(max_length=64, index=True)
    device_id: str | None = Field(default=None, max_length=64, index=True)
    title: str = Field(max_length=300)
    municipality: str | None = Field(default=None, max_length=128, index=True)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime, index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str | None = Field(default=None, max_length=128)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=128)
    occurrences: int = 1
    context: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    children: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    topdesk_incident_id: str | None = Field(default=None, max_length=64)
    topdesk_incident_number: str | None = Field(default=None, max_length=64)


class Ticket(TicketBase, table=True):
    __tablename__ = "tickets"
    __table_args__ = (sa.Index("ix_tickets_device_kind", "agent_id", "device_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    # "agent|device|kind" while open or acknowledged, else NULL: the database itself keeps at most one
    # active ticket per condition, whichever controller process opens it.
    active_key: str | None = Field(default=None, max_length=200, unique=True)
    clear_since: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notify_pending: bool = False  # a change held back by notify_min_interval_s, sent when it has passed


class TicketNote(SQLModel, table=True):
    """The journal of a ticket: every change with who and when; comments are notes too."""

    __tablename__ = "ticket_notes"
    __table_args__ = (sa.Index("ix_ticket_notes_ticket", "ticket_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id")
    at: datetime = Field(sa_type=UTCDateTime)
    by: str = Field(max_length=128)  # "avfleet" for the rules, else a user or token label
    action: str = Field(max_length=32)  # opened | updated | acknowledged | resolved | reopened | closed | comment
    text: str | None = Field(default=None, max_length=4000)


def active_key(agent_id: str, device_id: str | None, kind: str) -> str:
    return f"{agent_id}|{device_id or ''}|{kind}"
