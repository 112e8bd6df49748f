"""API bodies of users, tokens, logins and the audit trail, derived from the table bases."""

from __future__ import annotations

from pydantic import BaseModel, Field

from avfleet.controller.api.schemas import Page
from avfleet.controller.auth.models import ApiTokenBase, AuditEntryBase, UserBase


class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class LoginAnswer(BaseModel):
    token: str = Field(description="A bearer token for scripts and the dashboard (the session's secret, or "
                       "the bootstrap token for the settings' admin)")
    token_type: str = "bearer"
    csrf: str = Field(description="The CSRF token to echo in X-CSRF-Token when using the session cookie")
    user: str
    role: str


class Me(BaseModel):
    name: str
    role: str
    municipalities: list[str] | None = Field(description="null: county-wide")
    via: str


class UserItem(UserBase):
    pass


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: str = Field(description="admin | technician | viewer")
    municipalities: list[str] = Field(default_factory=list, max_length=100)
    password: str | None = Field(default=None, max_length=1024)


class TokenItem(ApiTokenBase):
    id: int
    user: str


class TokenCreate(BaseModel):
    user: str = Field(max_length=64)
    label: str = Field(default="", max_length=128)


class TokenCreated(TokenItem):
    token: str = Field(description="The token itself: shown this once, stored only as its SHA-256")


class AuditItem(AuditEntryBase):
    id: int


UserList = Page[UserItem]
TokenList = Page[TokenItem]
AuditList = Page[AuditItem]
