"""Tables of the auth domain: users, their API tokens, dashboard sessions, login failures, the audit trail.

Secrets are never stored: a password as its Argon2 hash, a token and a session as the SHA-256 of
32 random bytes (a fast hash is right for those: they cannot be guessed, unlike a password).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UserBase(SQLModel):
    """User columns the API shows under their own names."""

    name: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16, description="admin | technician | viewer")
    # Empty: county-wide (admin, or a county-wide technician); a viewer always names some.
    municipalities: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    disabled: bool = False
    locked: bool = Field(default=False, description="too many failed logins; an admin lifts it")
    created_at: datetime = Field(sa_type=UTCDateTime)


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str | None = Field(default=None, max_length=255)  # None: token-only user
    failed_logins: int = 0


class ApiTokenBase(SQLModel):
    """Token columns the API shows (never the token nor its hash)."""

    label: str = Field(default="", max_length=128)
    prefix: str = Field(max_length=12, description="the token's first characters, to tell tokens apart")
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(ApiTokenBase, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)


class WebSession(SQLModel, table=True):
    """A dashboard login; user_id NULL is the settings' admin (admin_user/admin_password)."""

    __tablename__ = "web_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    csrf_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The last request of the session (kept to the minute): idle longer than session_idle_s, it ends.
    # NULL: a session from before migration 0011, judged by its creation time.
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One failed login: the rate limit counts these per client address (in the database, so every
    controller process sees the same count)."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    username: str = Field(max_length=64)
    client_ip: str = Field(max_length=64, index=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)


class AuditEntryBase(SQLModel):
    """Who did what, when, from where, and how it ended."""

    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    via: str = Field(max_length=16, description="bootstrap | token | session | anonymous")
    client_ip: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=256)
    result: str = Field(max_length=16, description="ok | failed | refused")
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class AuditEntry(AuditEntryBase, table=True):
    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
