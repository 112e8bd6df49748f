"""Every route of the app against every role: a route without a rule in RULES fails the test.

Rules: public (no caller needed), any (any authenticated caller, viewers too), read (GET of every
role), write (technicians and admins; viewers 403), admin (admins only), county (county-wide callers).
An allowed caller's answer may be anything but 401/403 (an empty body or an unknown id answers
422/404 after the check); a refused one is exactly 403, and no caller at all is 401.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.controller.auth.support import World, make_world

RULES = {
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/assets/swagger-init.js"): "public",
    ("GET", "/docs/assets/{name}"): "public",
    ("GET", "/health"): "public",
    ("GET", "/metrics"): "county",
    ("GET", "/"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("GET", "/api/v1/auth/me"): "any",
    ("POST", "/api/v1/auth/logout"): "any",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users/{name}/disable"): "admin",
    ("POST", "/api/v1/users/{name}/enable"): "admin",
    ("POST", "/api/v1/users/{name}/unlock"): "admin",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{token_id}"): "admin",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/audit.csv"): "admin",
    ("GET", "/api/v1/agents"): "read",
    ("GET", "/api/v1/agents/{agent_id}"): "read",
    ("GET", "/api/v1/devices"): "read",
    ("GET", "/api/v1/devices/{device_id}"): "read",
    ("GET", "/api/v1/devices/{device_id}/history"): "read",
    ("POST", "/api/v1/commands"): "write",
    ("GET", "/api/v1/commands"): "read",
    ("GET", "/api/v1/commands/{command_id}"): "read",
    ("GET", "/api/v1/stream"): "read",
    ("GET", "/api/v1/tickets"): "read",
    ("GET", "/api/v1/tickets/{ticket_id}"): "read",
    ("POST", "/api/v1/tickets/{ticket_id}/acknowledge"): "write",
    ("POST", "/api/v1/tickets/{ticket_id}/resolve"): "write",
    ("POST", "/api/v1/tickets/{ticket_id}/close"): "write",
    ("POST", "/api/v1/tickets/{ticket_id}/comments"): "write",
    ("GET", "/api/v1/notifications"): "read",
    ("GET", "/api/v1/inventory"): "county",
    ("GET", "/api/v1/inventory/unplaced"): "county",
    ("GET", "/api/v1/inventory/models"): "county",
    ("GET", "/api/v1/inventory/export.csv"): "county",
    ("POST", "/api/v1/inventory/import"): "county",
    ("GET", "/api/v1/inventory/{unit_id}"): "county",
    ("PATCH", "/api/v1/inventory/{unit_id}"): "county",
    ("POST", "/api/v1/inventory/{unit_id}/retire"): "county",
    ("POST", "/api/v1/inventory/{unit_id}/reuse"): "county",
    ("POST", "/api/v1/inventory/{unit_id}/recycle"): "county",
    ("GET", "/api/v1/repairs"): "county",
    ("POST", "/api/v1/repairs"): "county",
    ("GET", "/api/v1/repairs/{case_id}"): "county",
    ("PATCH", "/api/v1/repairs/{case_id}"): "county",
    ("POST", "/api/v1/repairs/{case_id}/close"): "county",
    ("GET", "/api/v1/calendars/{municipality}"): "read",
    ("PUT", "/api/v1/calendars/{municipality}"): "write",
    ("GET", "/api/v1/schedules"): "county",
    ("POST", "/api/v1/schedules"): "county",
    ("GET", "/api/v1/schedules/{schedule_id}"): "county",
    ("PUT", "/api/v1/schedules/{schedule_id}"): "county",
    ("DELETE", "/api/v1/schedules/{schedule_id}"): "county",
    ("GET", "/api/v1/schedules/{schedule_id}/occurrences"): "county",
    ("POST", "/api/v1/schedules/{schedule_id}/run"): "county",
    ("GET", "/api/v1/schedules/{schedule_id}/runs"): "county",
    ("POST", "/api/v1/power"): "county",
    ("GET", "/api/v1/power/runs"): "county",
    ("GET", "/api/v1/runs/{run_id}"): "county",
    ("GET", "/api/v1/energy"): "read",
    ("GET", "/api/v1/energy.csv"): "read",
}
# Who may call a route of each rule (callers: bootstrap token, admin, technicians county-wide and of
# Habo, a viewer of Habo).
ALLOWED = {
    "any": {"bootstrap", "boss", "tech", "techhabo", "viewhabo"},
    "read": {"bootstrap", "boss", "tech", "techhabo", "viewhabo"},
    "write": {"bootstrap", "boss", "tech", "techhabo"},
    "admin": {"bootstrap", "boss"},
    "county": {"bootstrap", "boss", "tech"},  # inventory and schedules too, until they take a Scope
}
CALLERS = ("bootstrap", "boss", "tech", "techhabo", "viewhabo")


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, included routers walked with their prefixes."""
    def walk(routes: list, prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            context = getattr(route, "include_context", None)
            if context is not None:
                yield from walk(context.included_router.routes, prefix + context.prefix)
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, prefix + route.path
    return walk(app.routes, "")


@pytest.fixture
def world(db_url, engine) -> Iterator[World]:
    w, _settings = make_world(db_url, engine)
    with w.client:
        yield w


def test_every_route_has_a_rule(world: World) -> None:
    routes = set(app_routes(world.client.app))
    assert len(routes) >= 40
    unruled = sorted(routes - RULES.keys())
    assert not unruled, f"routes without an authorization rule (add them to RULES): {unruled}"
    assert not RULES.keys() - routes, f"rules of routes that are gone: {sorted(RULES.keys() - routes)}"


def test_every_route_against_every_role(world: World) -> None:
    checked = 0
    for (method, route_path), rule in sorted(RULES.items()):
        if rule == "public":
            continue
        # Path parameters get a value no row has ("x" is no integer id: 422, after the role check).
        path = re.sub(r"\{[^}]+\}", "x", route_path)
        # The stream would never end: poll_ms=1 fails validation, which comes after the role check.
        params = {"poll_ms": "1"} if route_path.endswith("/stream") else None
        nobody = world.client.request(method, path, params=params, json={})
        assert nobody.status_code == 401, (method, route_path, nobody.text)
        for caller in CALLERS:
            res = world.client.request(method, path, params=params, json={}, headers=world.auth(caller))
            if caller in ALLOWED[rule]:
                assert res.status_code not in (401, 403), (caller, method, route_path, res.status_code, res.text)
            else:
                assert res.status_code == 403, (caller, method, route_path, res.status_code, res.text)
                assert isinstance(res.json()["detail"], str)
            checked += 1
    assert checked >= 5 * 50


def test_a_viewer_posts_only_its_logout(world: World) -> None:
    me = world.client.get("/api/v1/auth/me", headers=world.auth("viewhabo")).json()
    assert me == {"name": "viewhabo", "role": "viewer", "municipalities": ["Habo"], "via": "token"}
    assert world.client.get("/api/v1/auth/me", headers=world.auth("tech")).json()["municipalities"] is None
    res = world.client.post("/api/v1/commands", json={"action": "power_off", "device_id": "pj-1"},
                            headers=world.auth("viewhabo"))
    assert res.status_code == 403 and "read" in res.json()["detail"]
    assert world.client.post("/api/v1/auth/logout", headers=world.auth("viewhabo")).status_code == 204
