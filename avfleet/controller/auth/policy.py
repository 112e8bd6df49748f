"""Who may call each route: the one table (docs/users.md "Routes and their rules").

The app does not read this table; its routers carry the dependencies that enforce it (scope.authorize,
require_admin, require_county, and each domain's Scope in its queries). The table states the intent,
and tests/controller/auth/test_route_rules.py walks every route of the app, fails on a route that has
no rule here, and calls each route as every role to check the answer matches its rule. A new route
gets its line here in the same commit.

Rules:

* ``public``: no caller needed (the login, /health, the API description and its assets, static files).
* ``any``: any authenticated caller, viewers too (who am I, logout).
* ``read``: a GET for every role; a limited caller's answer covers its municipalities only (lists
  leave the others out, a direct lookup of another's thing is 404).
* ``read_scoped``: like read, but a limited caller may also be refused what spans the county
  (403) — the reports, whose county report a limited caller may not ask for.
* ``write``: technicians and admins (viewers 403); a limited technician's change of another
  municipality's thing is 404.
* ``admin``: admins only (403 for everyone else).
* ``county``: county-wide callers only (admins, county technicians; limited callers 403): figures
  that cannot be split by municipality (/metrics).
* ``page``: a dashboard page: no session is a 303 to /login, every role sees it, scoped.
* ``admin_page``: an admin page of the dashboard: no session 303, admins see it, others 404.
"""

from __future__ import annotations

RULE_NAMES = ("public", "any", "read", "read_scoped", "write", "admin", "county", "page", "admin_page")

V1 = "/api/v1"

RULES: dict[tuple[str, str], str] = {
    # The service and the API's own description.
    ("GET", "/health"): "public",
    ("GET", "/metrics"): "county",
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/docs/assets/swagger-init.js"): "public",
    ("GET", "/docs/assets/{name}"): "public",
    # Auth, users, tokens, the audit trail.
    ("POST", f"{V1}/auth/login"): "public",
    ("GET", f"{V1}/auth/me"): "any",
    ("POST", f"{V1}/auth/logout"): "any",
    ("GET", f"{V1}/users"): "admin",
    ("POST", f"{V1}/users"): "admin",
    ("POST", f"{V1}/users/{{name}}/disable"): "admin",
    ("POST", f"{V1}/users/{{name}}/enable"): "admin",
    ("POST", f"{V1}/users/{{name}}/unlock"): "admin",
    ("GET", f"{V1}/tokens"): "admin",
    ("POST", f"{V1}/tokens"): "admin",
    ("DELETE", f"{V1}/tokens/{{token_id}}"): "admin",
    ("GET", f"{V1}/audit"): "admin",
    ("GET", f"{V1}/audit.csv"): "admin",
    # The fleet, commands, the stream, tickets, notifications.
    ("GET", f"{V1}/agents"): "read",
    ("GET", f"{V1}/agents/{{agent_id}}"): "read",
    ("GET", f"{V1}/devices"): "read",
    ("GET", f"{V1}/devices/{{device_id}}"): "read",
    ("GET", f"{V1}/devices/{{device_id}}/history"): "read",
    ("POST", f"{V1}/commands"): "write",
    ("GET", f"{V1}/commands"): "read",
    ("GET", f"{V1}/commands/{{command_id}}"): "read",
    ("GET", f"{V1}/stream"): "read",
    ("GET", f"{V1}/tickets"): "read",
    ("GET", f"{V1}/tickets/{{ticket_id}}"): "read",
    ("POST", f"{V1}/tickets/{{ticket_id}}/acknowledge"): "write",
    ("POST", f"{V1}/tickets/{{ticket_id}}/resolve"): "write",
    ("POST", f"{V1}/tickets/{{ticket_id}}/close"): "write",
    ("POST", f"{V1}/tickets/{{ticket_id}}/comments"): "write",
    ("GET", f"{V1}/notifications"): "read",
    # Inventory and repairs: scoped by the unit's municipality.
    ("GET", f"{V1}/inventory"): "read",
    ("GET", f"{V1}/inventory/unplaced"): "read",
    ("GET", f"{V1}/inventory/models"): "read",
    ("GET", f"{V1}/inventory/export.csv"): "read",
    ("POST", f"{V1}/inventory/import"): "write",
    ("GET", f"{V1}/inventory/{{unit_id}}"): "read",
    ("PATCH", f"{V1}/inventory/{{unit_id}}"): "write",
    ("POST", f"{V1}/inventory/{{unit_id}}/retire"): "write",
    ("POST", f"{V1}/inventory/{{unit_id}}/reuse"): "write",
    ("POST", f"{V1}/inventory/{{unit_id}}/recycle"): "write",
    ("GET", f"{V1}/repairs"): "read",
    ("POST", f"{V1}/repairs"): "write",
    ("GET", f"{V1}/repairs/{{case_id}}"): "read",
    ("PATCH", f"{V1}/repairs/{{case_id}}"): "write",
    ("POST", f"{V1}/repairs/{{case_id}}/close"): "write",
    # Calendars, schedules and runs: scoped by the municipality (schedules/tenancy.py).
    ("GET", f"{V1}/calendars/{{municipality}}"): "read",
    ("PUT", f"{V1}/calendars/{{municipality}}"): "write",
    ("GET", f"{V1}/schedules"): "read",
    ("POST", f"{V1}/schedules"): "write",
    ("GET", f"{V1}/schedules/{{schedule_id}}"): "read",
    ("PUT", f"{V1}/schedules/{{schedule_id}}"): "write",
    ("DELETE", f"{V1}/schedules/{{schedule_id}}"): "write",
    ("GET", f"{V1}/schedules/{{schedule_id}}/occurrences"): "read",
    ("POST", f"{V1}/schedules/{{schedule_id}}/run"): "write",
    ("GET", f"{V1}/schedules/{{schedule_id}}/runs"): "read",
    ("POST", f"{V1}/power"): "write",
    ("GET", f"{V1}/power/runs"): "read",
    ("GET", f"{V1}/runs/{{run_id}}"): "read",
    # Energy.
    ("GET", f"{V1}/energy"): "read",
    ("GET", f"{V1}/energy.csv"): "read",
    # Reports (controller/reports/routes.py): a limited caller gets its municipalities' only.
    ("GET", f"{V1}/reports/inventory"): "read_scoped",
    ("GET", f"{V1}/reports/equity"): "read_scoped",
    ("GET", f"{V1}/reports/procurement"): "read_scoped",
    # The dashboard (controller/dashboard/, docs/dashboard.md): pages behind the session.
    ("GET", "/"): "page",
    ("GET", "/login"): "public",
    ("GET", "/m/{municipality}"): "page",
    ("GET", "/m/{municipality}/s/{school}"): "page",
    ("GET", "/devices"): "page",
    ("GET", "/d/{agent_id}/{device_id}"): "page",
    ("GET", "/tickets"): "page",
    ("GET", "/energy"): "page",
    ("GET", "/schedules"): "page",
    ("GET", "/inventory"): "page",
    ("GET", "/admin/users"): "admin_page",
    ("GET", "/admin/tokens"): "admin_page",
    ("GET", "/admin/agents"): "admin_page",
}

# Mounted sub-applications (StaticFiles): everything under the prefix has the rule.
MOUNTS: dict[str, str] = {
    "/static": "public",
}

# Rules of routes announced but being built in parallel (reports, dashboard pages, the vendored
# /docs): the walk tolerates their absence; once a route exists it is checked like any other.
PLANNED: frozenset[tuple[str, str]] = frozenset(
    key for key in RULES
    if key[1].startswith((f"{V1}/reports/", "/m/", "/d/", "/admin/", "/docs/"))
    or key[1] in ("/login", "/devices", "/tickets", "/energy", "/schedules", "/inventory", "/docs", "/redoc"))

assert set(RULES.values()) <= set(RULE_NAMES)


def rule_of(method: str, path: str) -> str | None:
    """The rule of a route (its path as declared, with {params}), or None when it has none."""
    found = RULES.get((method, path))
    if found is not None:
        return found
    for prefix, rule in MOUNTS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return rule
    return None
