"""The FastAPI dependencies of authentication, roles and tenancy (docs/users.md).

How a route gets them:

* The API app puts `Depends(authorize)` on every protected router: it authenticates the caller
  (bootstrap token from the settings, a user's API token, or the dashboard's session cookie with its
  CSRF header on state-changing requests) and refuses POST/PUT/PATCH/DELETE to viewers (403).
  Admin-only routers add `Depends(require_admin)`.
* A route that reads or changes data takes `scope: Scope = Depends(get_scope)` and passes it to its
  queries, which add `*scope.clauses(table.c.municipality)` (tables with a municipality column) or
  `*scope.agent_clauses(table.c.agent_id)` (tables that name an agent) to their WHERE. Nothing else:
  a limited caller's lists leave other municipalities out and lookups of them raise NotFound (404).
* A route that records who did something takes `principal: Principal = Depends(get_principal)`
  and uses `avfleet.controller.auth.audit.audited(...)` / `record(...)`.

FastAPI caches a dependency per request, so the caller is authenticated once however many of these
a route asks for.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth import audit, hashing, service
from avfleet.controller.auth.principal import COUNTY, Principal, Scope
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import Forbidden

SESSION_COOKIE = "avfleet_session"
CSRF_COOKIE = "avfleet_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = ["COUNTY", "Principal", "Scope", "authorize", "get_principal", "get_scope", "require_admin"]

_bearer = HTTPBearer(auto_error=False, description="An API token: a user's (avfleet tokens create) or a "
                     "bootstrap token of the controller settings (api_tokens)")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def bootstrap_admin(ctx: ApiContext, client: str | None, via: str = "bootstrap") -> Principal:
    return Principal(name=ctx.settings.admin_user, role="admin", via=via, client_ip=client)


def settings_token_matches(ctx: ApiContext, presented: str) -> bool:
    presented_bytes = presented.encode()
    # Compare against every token without stopping early, in constant time per token.
    matched = False
    for token in ctx.settings.api_tokens:
        matched |= hmac.compare_digest(presented_bytes, token.get_secret_value().encode())
    return matched


def _idle(ctx: ApiContext) -> timedelta:
    return timedelta(seconds=ctx.settings.session_idle_s)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def get_principal(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  ctx: ApiContext = Depends(get_context)) -> Principal:
    """The authenticated caller, or 401; a cookie session must send its CSRF header to change anything."""
    ip = client_ip(request)
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise _unauthorized("missing bearer token (Authorization: Bearer TOKEN)")
        if settings_token_matches(ctx, credentials.credentials):
            return bootstrap_admin(ctx, ip)
        with ctx.engine.connect() as conn:
            principal, touch = service.principal_of_token(conn, credentials.credentials, ip, _idle(ctx))
        if principal is None:
            raise _unauthorized("invalid token")
        if touch is not None:
            with write_transaction(ctx.engine) as conn:
                service.touch_token(conn, touch)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise _unauthorized("missing bearer token (Authorization: Bearer TOKEN) or session")
    with ctx.engine.connect() as conn:
        found = service.session_of(conn, cookie, ip, bootstrap_admin(ctx, ip, "session"), idle=_idle(ctx))
    if found is None:
        raise _unauthorized("session expired or unknown; log in again")
    principal, csrf_hash, touch_due = found
    if touch_due:
        with write_transaction(ctx.engine) as conn:
            service.touch_session(conn, cookie)
    if request.method not in SAFE_METHODS:
        # Double submit: the page reads the CSRF cookie and echoes it in a header, which another
        # site's form or fetch cannot do; the server checks it against the session's digest.
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(hashing.digest(sent), csrf_hash):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"CSRF check failed: send the {CSRF_COOKIE} cookie's "
                                f"value in the {CSRF_HEADER} header")
    return principal


def refuse(request: Request, ctx: ApiContext, principal: Principal, reason: str) -> Forbidden:
    """A role refusal (403), recorded in the audit trail as `request` `refused`: who tried what, from where."""
    with write_transaction(ctx.engine) as conn:
        audit.record(conn, principal, "request", f"{request.method} {request.url.path}", "refused",
                     {"reason": reason})
    return Forbidden(reason)


def authorize(request: Request, principal: Principal = Depends(get_principal),
              ctx: ApiContext = Depends(get_context)) -> Principal:
    """Every protected route: viewers read only."""
    if request.method not in SAFE_METHODS and not principal.can_write:
        raise refuse(request, ctx, principal, f"role {principal.role} may only read")
    return principal


def require_admin(request: Request, principal: Principal = Depends(get_principal),
                  ctx: ApiContext = Depends(get_context)) -> Principal:
    if not principal.is_admin:
        raise refuse(request, ctx, principal, f"role {principal.role} may not do this; it needs an admin")
    return principal


def require_county(request: Request, principal: Principal = Depends(get_principal),
                   ctx: ApiContext = Depends(get_context)) -> Principal:
    """Figures that cover the whole county (the Prometheus metrics) are not for a limited caller."""
    if not principal.scope.county_wide:
        raise refuse(request, ctx, principal,
                     "these figures are county-wide; a caller limited to municipalities may not read them")
    return principal


def get_scope(principal: Principal = Depends(get_principal)) -> Scope:
    return principal.scope
