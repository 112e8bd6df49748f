"""/api/v1/auth, /api/v1/users, /api/v1/tokens and /api/v1/audit: HTTP only (rules in service.py).

build_public_router: the login (no token needed). build_router: who am I and logout (any caller).
build_admin_router: users, tokens and the audit trail; the API app registers it behind require_admin.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request, Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import MAX_ID, offset_query, query_time_in_utc
from avfleet.controller.auth import audit, hashing, service
from avfleet.controller.auth.principal import Principal, anonymous
from avfleet.controller.auth.schemas import (
    AuditList,
    LoginAnswer,
    LoginBody,
    Me,
    TokenCreate,
    TokenCreated,
    TokenItem,
    TokenList,
    UserCreate,
    UserItem,
    UserList,
)
from avfleet.controller.auth.scope import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    bootstrap_admin,
    client_ip,
    get_principal,
)
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import DomainError, NotFound


def _secure(request: Request, ctx: ApiContext) -> bool:
    public = ctx.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https:")


def _login(ctx: ApiContext, body: LoginBody, ip: str) -> tuple[Principal, str, str]:
    """Check the password (users table first, then the settings' admin); record the outcome."""
    refusal: DomainError | None = None
    with write_transaction(ctx.engine) as conn:
        who = anonymous(body.username, ip)
        if service.recent_failures(conn, ip) >= service.RATE_LIMIT:
            audit.record(conn, who, "login", body.username, "refused", {"reason": "rate limited"})
            refusal = service.RateLimited("too many failed logins from this address; try again in a few minutes")
        else:
            principal, user_id, refusal = _check(conn, ctx, body, ip)
            if refusal is None:
                secret, csrf = service.open_session(conn, user_id,
                                                    ttl=timedelta(seconds=ctx.settings.session_ttl_s))
                audit.record(conn, principal, "login", body.username, "ok")
                return principal, secret, csrf
            locked = service.record_failure(conn, body.username, ip, user_id)
            audit.record(conn, who, "login", body.username, "failed",
                         {"reason": str(refusal), **({"locked": True} if locked else {})})
    raise refusal


def _check(conn, ctx: ApiContext, body: LoginBody, ip: str) -> tuple[Principal, int | None, DomainError | None]:
    wrong = service.LoginFailed("wrong user or password")
    row = service.find_login_user(conn, body.username)
    if row is not None:
        matches = hashing.verify_password(row.password_hash, body.password)
        if row.locked:
            return anonymous(body.username, ip), row.id, service.Locked(
                "this user is locked after repeated failed logins; an admin can unlock it")
        if not matches or row.disabled:
            return anonymous(body.username, ip), row.id, wrong
        return service._user_principal(row, "session", ip), row.id, None
    hashing.verify_password(None, body.password)  # the same time as a real user's check
    s = ctx.settings
    if s.admin_password is not None and s.api_tokens:
        user_ok = hmac.compare_digest(body.username.encode(), s.admin_user.encode())
        password_ok = hmac.compare_digest(body.password.encode(), s.admin_password.get_secret_value().encode())
        if user_ok and password_ok:
            return bootstrap_admin(ctx, ip, "session"), None, None
    return anonymous(body.username, ip), None, wrong


def build_public_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post("/auth/login", response_model=LoginAnswer,
                 summary="Log in: sets the session cookie (dashboard) and answers a bearer token and the CSRF token")
    def login(body: LoginBody, request: Request, response: Response,
              ctx: ApiContext = Depends(get_context)) -> dict:
        principal, secret, csrf = _login(ctx, body, client_ip(request))
        secure = _secure(request, ctx)
        max_age = ctx.settings.session_ttl_s
        response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="strict",
                            secure=secure, path="/")
        # Readable by the page's script (not HttpOnly): it echoes it in X-CSRF-Token.
        response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict",
                            secure=secure, path="/")
        # The settings' admin gets the bootstrap token, as before users existed; a user its session secret.
        token = ctx.settings.api_tokens[0].get_secret_value() if principal.user_id is None else secret
        return {"token": token, "csrf": csrf, "user": principal.name, "role": principal.role}

    return router


def build_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.get("/auth/me", response_model=Me, summary="Who the token or session is")
    def me(principal: Principal = Depends(get_principal)) -> dict:
        return {"name": principal.name, "role": principal.role, "via": principal.via,
                "municipalities": None if principal.scope.county_wide else sorted(principal.municipalities or ())}

    @router.post("/auth/logout", status_code=204, summary="End the session of the cookie (any role)")
    def logout(request: Request, response: Response, principal: Principal = Depends(get_principal),
               ctx: ApiContext = Depends(get_context)) -> Response:
        with write_transaction(ctx.engine) as conn:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                service.close_session(conn, cookie)
            audit.record(conn, principal, "logout", principal.name, "ok")
        out = Response(status_code=204)
        out.delete_cookie(SESSION_COOKIE, path="/")
        out.delete_cookie(CSRF_COOKIE, path="/")
        return out

    return router


def build_admin_router() -> APIRouter:
    router = APIRouter(tags=["users"])

    @router.get("/users", response_model=UserList, summary="Users (admins only)")
    def list_users(ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items = service.list_users(conn)
        return {"items": items, "total": len(items)}

    @router.post("/users", response_model=UserItem, status_code=201, summary="Add a user (admins only)")
    def add_user(body: UserCreate, principal: Principal = Depends(get_principal),
                 ctx: ApiContext = Depends(get_context)) -> dict:
        detail = {"role": body.role, "municipalities": body.municipalities}
        with audit.audited(ctx.engine, principal, "user.add", body.name, detail) as conn:
            return service.create_user(conn, body.name, body.role, body.municipalities, body.password)

    def _flag(ctx: ApiContext, principal: Principal, name: str, action: str, **flags: bool) -> dict:
        with audit.audited(ctx.engine, principal, action, name) as conn:
            return service.set_user_flags(conn, name, **flags)

    @router.post("/users/{name}/disable", response_model=UserItem, summary="Disable a user: its sessions end, "
                 "its tokens stop working")
    def disable(name: str, principal: Principal = Depends(get_principal), ctx: ApiContext = Depends(get_context)):
        return _flag(ctx, principal, name, "user.disable", disabled=True)

    @router.post("/users/{name}/enable", response_model=UserItem, summary="Enable a disabled user")
    def enable(name: str, principal: Principal = Depends(get_principal), ctx: ApiContext = Depends(get_context)):
        return _flag(ctx, principal, name, "user.enable", disabled=False)

    @router.post("/users/{name}/unlock", response_model=UserItem, summary="Lift a login lockout")
    def unlock(name: str, principal: Principal = Depends(get_principal), ctx: ApiContext = Depends(get_context)):
        return _flag(ctx, principal, name, "user.unlock", locked=False)

    @router.get("/tokens", response_model=TokenList, summary="API tokens (never the token itself)")
    def list_tokens(user: str | None = Query(None, max_length=64), ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items = service.list_tokens(conn, user)
        return {"items": items, "total": len(items)}

    @router.post("/tokens", response_model=TokenCreated, status_code=201,
                 summary="Create a token for a user: the answer shows it once")
    def create_token(body: TokenCreate, principal: Principal = Depends(get_principal),
                     ctx: ApiContext = Depends(get_context)) -> dict:
        with audit.audited(ctx.engine, principal, "token.create", body.user, {"label": body.label}) as conn:
            secret, item = service.create_token(conn, body.user, body.label)
        return {**item, "token": secret}

    @router.delete("/tokens/{token_id}", response_model=TokenItem, summary="Revoke a token")
    def revoke_token(token_id: int, principal: Principal = Depends(get_principal),
                     ctx: ApiContext = Depends(get_context)) -> dict:
        if not 1 <= token_id <= MAX_ID:
            raise NotFound(f"no token {token_id}")
        with audit.audited(ctx.engine, principal, "token.revoke", str(token_id)) as conn:
            return service.revoke_token(conn, token_id)

    def _audit_page(ctx: ApiContext, filters: audit.AuditFilters, limit: int, offset: int) -> tuple[list, int]:
        with ctx.engine.connect() as conn:
            return audit.list_entries(conn, filters, limit, offset)

    def _filters(actor: str | None = Query(None, max_length=64),
                 action: str | None = Query(None, max_length=64, description="an action, or its domain: ticket"),
                 result: str | None = Query(None, max_length=16, description="ok | failed | refused"),
                 since: datetime | None = None, until: datetime | None = None) -> audit.AuditFilters:
        return audit.AuditFilters(actor, action, result, query_time_in_utc("since", since),
                                  query_time_in_utc("until", until))

    @router.get("/audit", response_model=AuditList, summary="The audit trail, newest first (admins only)")
    def list_audit(filters: audit.AuditFilters = Depends(_filters), limit: int = Query(100, ge=1, le=1000),
                   offset: int = offset_query(), ctx: ApiContext = Depends(get_context)) -> dict:
        items, total = _audit_page(ctx, filters, limit, offset)
        return {"items": items, "total": total}

    @router.get("/audit.csv", response_class=Response, summary="The audit trail as CSV (same filters; "
                "up to 100,000 rows)")
    def export_audit(filters: audit.AuditFilters = Depends(_filters), limit: int = Query(100_000, ge=1, le=100_000),
                     offset: int = offset_query(), ctx: ApiContext = Depends(get_context)) -> Response:
        items, _total = _audit_page(ctx, filters, limit, offset)
        return Response(audit.csv_text(items), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})

    return router
