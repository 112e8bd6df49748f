"""Bearer-token check shared by every route but /health and the API's own description."""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from avfleet.controller.api.context import ApiContext, get_context

_bearer = HTTPBearer(auto_error=False, description="An API token from the controller settings (api_tokens)")


def token_matches(ctx: ApiContext, presented: str) -> bool:
    presented_bytes = presented.encode()
    # Compare against every token without stopping early, in constant time per token.
    matched = False
    for token in ctx.settings.api_tokens:
        matched |= hmac.compare_digest(presented_bytes, token.get_secret_value().encode())
    return matched


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  ctx: ApiContext = Depends(get_context)) -> None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token (Authorization: Bearer TOKEN)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not token_matches(ctx, credentials.credentials):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid token", headers={"WWW-Authenticate": "Bearer"})
