"""Who may see a page: the session cookie's principal, or a 303 to the login page.

Pages authenticate through the same `get_principal` as the API (so the same sessions, lockouts and
roles apply) and read through the principal's Scope; only the answer to "nobody" differs: a browser
is sent to /login with the page it wanted, instead of a 401.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, status

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth.principal import Principal
from avfleet.controller.auth.scope import get_principal


def login_location(request: Request) -> str:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(wanted, safe="/")


def page_principal(request: Request, ctx: ApiContext = Depends(get_context)) -> Principal:
    # Pages use the session cookie only (a browser has no bearer token to send).
    try:
        return get_principal(request, None, ctx)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        # FastAPI answers an HTTPException with its status and headers: a plain 303 redirect.
        raise HTTPException(status.HTTP_303_SEE_OTHER, "log in first",
                            headers={"Location": login_location(request)}) from None


def safe_next(target: str | None) -> str:
    """Where to go after the login: a path of this site only (no //host or scheme: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
