"""Every route of the app has a rule in auth/policy.py, and every role really gets what its rule says.

The walk reads `app.routes` (so routes added later, the reports' and the dashboard's pages too, are
walked without anyone listing them here) and fails on a route without a rule. Then it calls each
route as anonymous, a viewer and a technician of Jönköping, a county technician, an admin user and
the bootstrap token, with path parameters filled with Jönköping's real ids and minimal bodies:
refused callers get exactly 401/403 (or a page's 303 to /login, an admin page's 404), allowed ones
never 401/403 and never a 5xx, and an allowed GET answers 2xx. API routes are called with bearer
tokens, the dashboard's pages with each user's session cookie from a real login.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from avfleet.controller.auth import policy
from tests.controller.auth.support import ADMIN_PASSWORD, PASSWORD
from tests.controller.auth.world import DEVICE, JKPG, World, open_world

CALLERS = ("anonymous", "viewjkpg", "techjkpg", "tech", "boss", "bootstrap")
LIMITED = {"viewjkpg", "techjkpg"}
# Who may call a route of each rule.
ALLOWED = {
    "public": set(CALLERS),
    "any": set(CALLERS) - {"anonymous"},
    "read": set(CALLERS) - {"anonymous"},
    "read_scoped": set(CALLERS) - {"anonymous"},
    "write": {"techjkpg", "tech", "boss", "bootstrap"},
    "admin": {"boss", "bootstrap"},
    "county": {"tech", "boss", "bootstrap"},
    "page": set(CALLERS) - {"anonymous"},
    "admin_page": {"boss", "bootstrap"},
}
YEAR = datetime.now(UTC).year


def app_routes(app: FastAPI) -> Iterator[tuple[str, str, object]]:
    """(method, path, route) of every route (included routers walked with their prefixes) and mount."""
    def walk(routes: list, prefix: str) -> Iterator[tuple[str, str, object]]:
        for route in routes:
            context = getattr(route, "include_context", None)
            if context is not None:
                yield from walk(context.included_router.routes, prefix + context.prefix)
            elif isinstance(route, Mount):
                yield "GET", prefix + route.path, route
            else:
                for method in sorted(getattr(route, "methods", None) or ()):
                    if method != "HEAD":
                        yield method, prefix + route.path, route
    return walk(app.routes, "")


def rule_for(method: str, path: str, route: object) -> str | None:
    rule = policy.rule_of(method, path)
    if (method, path) == ("GET", "/") and getattr(route, "endpoint", None).__module__ == "avfleet.controller.api.app":
        return "public"  # the old static page (it holds no data) until the dashboard's pages replace it
    return rule


def fill(world: World, method: str, path: str, municipality: str = JKPG) -> tuple[str, dict]:
    """The path with real ids of `municipality` in it, and the query parameters the route needs."""
    values = {"agent_id": world.id(municipality, "agent_id"), "device_id": DEVICE, "municipality": municipality,
              "school": world.id(municipality, "school"), "name": "spare", "token_id": world.id("spare", "token_id")}
    for key in ("command_id", "ticket_id", "unit_id", "case_id", "schedule_id", "run_id"):
        values[key] = world.id(municipality, key)
    if method != "GET":
        # Changes go to things the walk may change (a spare unit, a schedule to delete).
        values["unit_id"] = world.id(municipality, "spare_unit_id")
        if method == "DELETE" and municipality == JKPG:
            values["schedule_id"] = world.id(JKPG, "spare_schedule_id")
    filled = re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: str(values.get(m.group(1), "x")), path)
    params: dict = {}
    if "{device_id}" in path:
        params["agent_id"] = values["agent_id"]
    if path.endswith("/occurrences"):
        params.update({"from": f"{YEAR}-01-01", "to": f"{YEAR}-01-31"})
    if "/energy" in path:
        params.update({"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31", "level": "device"})
    if "/reports/" in path:
        params.update({"year": YEAR, "municipality": municipality, "format": "csv"})  # csv: the quick one
    if path.endswith("/stream"):
        params["poll_ms"] = "1"  # fails validation after the role check: the stream would never end
    return filled, params


@pytest.fixture(scope="module")
def world(tmp_path_factory, request) -> Iterator[World]:
    yield from open_world("sqlite", tmp_path_factory, request)


@pytest.fixture(scope="module")
def sessions(world: World) -> dict[str, str]:
    """Each caller's session cookie, from a real login (the bootstrap admin: the settings' admin_user)."""
    cookies = {}
    for caller in CALLERS[1:]:
        name, password = ("admin", ADMIN_PASSWORD) if caller == "bootstrap" else (caller, PASSWORD)
        res = world.client.post("/api/v1/auth/login", json={"username": name, "password": password})
        assert res.status_code == 200, res.text
        cookies[caller] = res.cookies["avfleet_session"]
    world.client.cookies.clear()  # each call below sends its own credentials, nothing else
    return cookies


def test_every_route_has_a_rule(world: World) -> None:
    routes = {(m, p): r for m, p, r in app_routes(world.client.app)}
    assert len(routes) >= 60
    unruled = sorted(k for k, r in routes.items() if rule_for(*k, r) is None)
    assert not unruled, f"routes without a rule (add them to avfleet/controller/auth/policy.py RULES): {unruled}"
    gone = sorted(policy.RULES.keys() - routes.keys() - policy.PLANNED)
    assert not gone, f"rules of routes that are gone (remove them from policy.RULES): {gone}"


def _call(world: World, sessions: dict[str, str], caller: str, method: str, path: str, params: dict, page: bool):
    headers = {}
    if caller != "anonymous":
        if page:
            headers["Cookie"] = f"avfleet_session={sessions[caller]}"
        else:
            headers["Authorization"] = f"Bearer {world.tokens[caller]}"
    return world.client.request(method, path, params=params, json=None if method == "GET" else {},
                                headers=headers, follow_redirects=False)


def test_every_route_against_every_role(world: World, sessions: dict[str, str]) -> None:
    checked = 0
    for method, route_path, route in sorted(app_routes(world.client.app), key=lambda x: (x[1], x[0])):
        rule = rule_for(method, route_path, route)
        assert rule is not None, (method, route_path)
        if isinstance(route, Mount):
            continue  # static files: public, nothing to fill in
        path, params = fill(world, method, route_path)
        page = rule in ("page", "admin_page")
        # Refused callers first: an allowed one may change what the route finds (a deleted schedule).
        for caller in sorted(CALLERS, key=lambda c: c in ALLOWED[rule]):
            res = _call(world, sessions, caller, method, path, params, page)
            where = (caller, rule, method, route_path, res.status_code, res.text[:300])
            assert res.status_code < 500, where
            if caller not in ALLOWED[rule]:
                if caller == "anonymous":
                    if page:
                        assert res.status_code == 303 and "/login" in res.headers["location"], where
                    else:
                        assert res.status_code == 401, where
                elif rule == "admin_page":
                    assert res.status_code == 404, where
                else:
                    assert res.status_code == 403, where
                    assert isinstance(res.json()["detail"], str), where
            else:
                assert res.status_code not in (401, 403) or (rule == "read_scoped" and caller in LIMITED), where
                if method == "GET" and rule != "public" and not route_path.endswith("/stream"):
                    # An allowed read of Jönköping's own things answers them.
                    refusable = rule == "read_scoped" and caller in LIMITED
                    assert 200 <= res.status_code < 300 or (refusable and res.status_code in (403, 404)), where
            checked += 1
    assert checked >= 6 * 60


def test_a_viewer_reads_and_posts_only_its_logout(world: World) -> None:
    me = world.client.get("/api/v1/auth/me", headers=world.auth("viewjkpg")).json()
    assert me == {"name": "viewjkpg", "role": "viewer", "municipalities": [JKPG], "via": "token"}
    assert world.client.get("/api/v1/auth/me", headers=world.auth("tech")).json()["municipalities"] is None
    res = world.client.post("/api/v1/commands", json={"action": "power_off", "device_id": DEVICE,
                                                      "agent_id": world.id(JKPG, "agent_id")},
                            headers=world.auth("viewjkpg"))
    assert res.status_code == 403 and "read" in res.json()["detail"]
    assert world.client.post("/api/v1/auth/logout", headers=world.auth("viewjkpg")).status_code == 204
    # The refusal is in the audit trail: who tried what, from where.
    trail = world.client.get("/api/v1/audit", params={"actor": "viewjkpg", "action": "request"},
                             headers=world.auth("boss")).json()["items"]
    tried = [e for e in trail if e["target"] == "POST /api/v1/commands"]
    assert tried and tried[0]["result"] == "refused" and tried[0]["client_ip"] and tried[0]["role"] == "viewer"
