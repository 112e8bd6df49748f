"""Kept for imports of earlier code: authentication lives in avfleet.controller.auth.scope (docs/users.md)."""

from __future__ import annotations

from avfleet.controller.auth.scope import authorize as require_token
from avfleet.controller.auth.scope import settings_token_matches as token_matches

__all__ = ["require_token", "token_matches"]
