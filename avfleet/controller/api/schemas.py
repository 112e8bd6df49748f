"""API-wide bodies: the list envelope, health and login.

A domain's own bodies live in its schemas.py (fleet/schemas.py, commands/schemas.py, ...), derived
from the base classes of its tables so each field is written once.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """Every list answers `{"items": [...], "total": N}`; `total` counts all matches, not the page."""

    items: list[T]
    total: int


class LoginRequest(BaseModel):
    username: str
    password: str


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"


class Health(BaseModel):
    status: str
    database: str
    broker: str
