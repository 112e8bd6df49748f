"""The dashboard's HTML pages (docs/dashboard.md; URLs and test ids: the page contract).

Every page but /login takes `page_principal` (the session cookie; nobody -> 303 to /login) and reads
through the principal's Scope with the services the API routes use, so tenancy is the one mechanism.
Pages only read: every change (commands, ticket actions, logout) is a fetch from static/app.js to the
API with the CSRF header, checked there like any other call.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from time import monotonic
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth import service as auth_service
from avfleet.controller.auth.principal import Principal
from avfleet.controller.dashboard import counts, device_list, device_view
from avfleet.controller.dashboard.access import page_principal, safe_next
from avfleet.controller.dashboard.render import render
from avfleet.controller.energy.service import EnergyQuery
from avfleet.controller.errors import NotFound
from avfleet.controller.fleet import queries
from avfleet.controller.fleet.queries import Filters
from avfleet.controller.inventory import register
from avfleet.controller.schedules import service as schedules
from avfleet.controller.schedules import tenancy as schedule_tenancy
from avfleet.controller.tickets.models import ACTIVE_STATES, KINDS, SEVERITIES, STATES, Ticket
from avfleet.i18n import STOCKHOLM
from avfleet.protocols.status import utc_now

TICKETS = Ticket.__table__
PAGE = device_list.PAGE_SIZE
ENERGY_PAGE_TTL_S = 60.0
COUNTS_TTL_S = 3.0


def Page() -> Any:
    """A fresh Query per parameter: FastAPI writes the parameter name into it, so one shared default breaks."""
    return Query(1, ge=1, le=100_000)


def Text() -> Any:
    return Query(None, max_length=128)


def _missing(request: Request, who: Principal) -> HTMLResponse:
    """404 as a page with the menu: the same answer for a place outside the caller's scope as for none."""
    return render(request, "not_found.html", who, status_code=404)


def _pages(total: int, page: int) -> dict[str, Any]:
    last = max(1, (total + PAGE - 1) // PAGE)
    return {"page": page, "last_page": last, "total": total,
            "prev_page": page - 1 if page > 1 else None, "next_page": page + 1 if page < last else None}


SUMMED = ("kwh", "kwh_left_on", "kwh_standby", "hours_left_on", "co2e_kg")


def energy_sums(items: list[dict[str, Any]], level: str) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        row = out.setdefault(item[level], {level: item[level], "basis": item["basis"], **dict.fromkeys(SUMMED, 0.0)})
        for name in SUMMED:
            row[name] += item[name]
        if row["basis"] != item["basis"]:
            row["basis"] = "mixed"
    return [out[name] for name in sorted(out, key=lambda n: (n or "").casefold())]


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = Query(None, max_length=2000)) -> HTMLResponse:
        return render(request, "login.html", None, next=safe_next(next))

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, ctx: ApiContext = Depends(get_context),
                 who: Principal = Depends(page_principal)) -> HTMLResponse:
        # The county's counts are one GROUP BY over every device (~0.3 s at 50,000 under load): kept a few
        # seconds per scope, so many open overviews re-reading after live events cost one query.
        cache: dict | None = getattr(request.app.state, "dashboard_counts", None)
        if cache is None:
            cache = request.app.state.dashboard_counts = {}
        kept = cache.get(who.scope.municipalities)
        if kept is not None and monotonic() - kept[0] < COUNTS_TTL_S:
            rows = kept[1]
        else:
            with ctx.engine.connect() as conn:
                rows = counts.place_counts(conn, who.scope, "municipality", ctx.settings.school_hours, utc_now())
            if len(cache) > 200:
                cache.clear()
            cache[who.scope.municipalities] = (monotonic(), rows)
        return render(request, "overview.html", who, rows=rows, total=counts.total_of(rows, ""),
                      fields=counts.FIELDS)

    @router.get("/m/{municipality}", response_class=HTMLResponse)
    def municipality_page(municipality: str, request: Request, ctx: ApiContext = Depends(get_context),
                          who: Principal = Depends(page_principal)) -> HTMLResponse:
        if not who.scope.allows(municipality):
            return _missing(request, who)
        with ctx.engine.connect() as conn:
            rows = counts.place_counts(conn, who.scope, "school", ctx.settings.school_hours, utc_now(),
                                       municipality=municipality)
        if not rows:
            return _missing(request, who)
        return render(request, "municipality.html", who, municipality=municipality, rows=rows,
                      total=counts.total_of(rows, municipality), fields=counts.FIELDS)

    @router.get("/m/{municipality}/s/{school}", response_class=HTMLResponse)
    def school_page(municipality: str, school: str, request: Request, ctx: ApiContext = Depends(get_context),
                    who: Principal = Depends(page_principal)) -> HTMLResponse:
        if not who.scope.allows(municipality):
            return _missing(request, who)
        with ctx.engine.connect() as conn:
            rooms = counts.place_counts(conn, who.scope, "room", ctx.settings.school_hours, utc_now(),
                                        municipality=municipality, school=school)
            items, total = queries.list_devices(conn, Filters(municipality=municipality, school=school), 1000, 0,
                                                who.scope)
        if not rooms:
            return _missing(request, who)
        by_room: dict[str, list[dict]] = {}
        for item in items:
            by_room.setdefault(item["room"] or "", []).append(item)
        return render(request, "school.html", who, municipality=municipality, school=school, rooms=rooms,
                      by_room=by_room, total=total, shown=len(items), fields=counts.FIELDS)

    @router.get("/devices", response_class=HTMLResponse)
    def devices_page(request: Request, q: str | None = Query(None, max_length=100), municipality: str | None = Text(),
                     school: str | None = Text(), room: str | None = Text(), state: str | None = Text(),
                     fault: str | None = Text(), page: int = Page(), ctx: ApiContext = Depends(get_context),
                     who: Principal = Depends(page_principal)) -> HTMLResponse:
        state = state if state in device_list.STATES else None
        fault = fault if fault in device_list.FAULTS else None
        f = Filters(municipality or None, school or None, room or None, state, fault)
        with ctx.engine.connect() as conn:
            items, total = device_list.search_devices(conn, f, q, page, who.scope)
            names = counts.municipalities(conn, who.scope)
        return render(request, "devices.html", who, items=items, q=q or "", filters=f, municipalities=names,
                      states=device_list.STATES,
                      faults=device_list.FAULTS, **_pages(total, page))

    @router.get("/d/{agent_id}/{device_id}", response_class=HTMLResponse)
    def device_page(agent_id: str, device_id: str, request: Request, ctx: ApiContext = Depends(get_context),
                    who: Principal = Depends(page_principal)) -> HTMLResponse:
        try:
            with ctx.engine.connect() as conn:
                data = device_view.device_page(request, ctx, conn, agent_id, device_id, who.scope, utc_now())
        except NotFound:
            return _missing(request, who)
        return render(request, "device.html", who, agent_id=agent_id, device_id=device_id, **data)

    @router.get("/tickets", response_class=HTMLResponse)
    def tickets_page(request: Request, state: str | None = Text(), kind: str | None = Text(),
                     severity: str | None = Text(), municipality: str | None = Text(), page: int = Page(),
                     ctx: ApiContext = Depends(get_context), who: Principal = Depends(page_principal)) -> HTMLResponse:
        t = TICKETS.c
        state = state if state in (*STATES, "active", "all") else "active"
        where = who.scope.clauses(t.municipality)
        if state == "active":
            where.append(t.state.in_(ACTIVE_STATES))
        elif state != "all":
            where.append(t.state == state)
        for column, value, allowed in ((t.kind, kind, KINDS), (t.severity, severity, SEVERITIES)):
            if value in allowed:
                where.append(column == value)
        if municipality:
            where.append(t.municipality == municipality)
        with ctx.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(TICKETS).where(*where)).scalar_one()
            rows = conn.execute(sa.select(TICKETS).where(*where).order_by(t.updated_at.desc(), t.id.desc())
                                .limit(PAGE).offset((page - 1) * PAGE)).all()
            names = counts.municipalities(conn, who.scope)
        return render(request, "tickets.html", who, tickets=rows, state=state, kind=kind or "",
                      severity=severity or "", municipality=municipality or "", municipalities=names, kinds=KINDS,
                      severities=SEVERITIES, states=("active", *STATES, "all"), **_pages(total, page))

    @router.get("/energy", response_class=HTMLResponse)
    def energy_page(request: Request, municipality: str | None = Text(), ctx: ApiContext = Depends(get_context),
                    who: Principal = Depends(page_principal)) -> HTMLResponse:
        now = utc_now()
        today = now.astimezone(STOCKHOLM).date()
        first = today.replace(day=1)
        service = device_view.energy_service(request, ctx)
        place = {"municipality": municipality or None, "scope": who.scope}
        # Today's figures are computed from the history on every query (seconds at 10,000 devices):
        # the page keeps its two answers a minute per scope and municipality.
        cache: dict | None = getattr(request.app.state, "dashboard_energy", None)
        if cache is None:
            cache = request.app.state.dashboard_energy = {}
        key = (who.scope.municipalities, municipality or None, today)
        kept = cache.get(key)
        if kept is not None and monotonic() - kept[0] < ENERGY_PAGE_TTL_S:
            daily, schools = kept[1], kept[2]
        else:
            with ctx.engine.connect() as conn:
                daily = service.items(conn, EnergyQuery("county" if not municipality else "municipality",
                                                        today - timedelta(days=29), today, "day", **place), now)
                schools = service.items(conn, EnergyQuery("school", first, today, "month", **place), now)
            if len(cache) > 200:
                cache.clear()
            cache[key] = (monotonic(), daily, schools)
        # The municipalities' month is the sum of their schools' (one energy computation, not two).
        places = schools if municipality else energy_sums(schools, "municipality")
        series = device_view.daily_series(daily, today - timedelta(days=29), today)
        most_left_on = sorted(schools, key=lambda e: -e["hours_left_on"])[:50]
        return render(request, "energy.html", who, municipality=municipality or "", first=first, today=today,
                      places=places, schools=most_left_on, energy_json=json.dumps(series))

    @router.get("/schedules", response_class=HTMLResponse)
    def schedules_page(request: Request, ctx: ApiContext = Depends(get_context),
                       who: Principal = Depends(page_principal)) -> HTMLResponse:
        shown: list[dict[str, Any]] = []
        today = utc_now().astimezone(STOCKHOLM).date()
        with ctx.engine.connect() as conn:
            # The API's tenancy rule: a schedule is the caller's when every municipality it spans is.
            items, _ = schedule_tenancy.list_schedules(conn, who.scope, municipality=None, limit=200, offset=0)
            for item in items:
                upcoming = schedules.schedule_occurrences(conn, item["id"], today, today + timedelta(days=14))
                runs, _ = schedule_tenancy.list_runs(conn, who.scope, item["id"], limit=5, offset=0)
                shown.append({**item, "next": [o for o in upcoming if not o["skipped"]][:5],
                              "skipped": [o for o in upcoming if o["skipped"]][:3], "runs": runs})
        return render(request, "schedules.html", who, schedules=shown)

    @router.get("/inventory", response_class=HTMLResponse)
    def inventory_page(request: Request, municipality: str | None = Text(), lifecycle: str | None = Text(),
                       page: int = Page(), ctx: ApiContext = Depends(get_context),
                       who: Principal = Depends(page_principal)) -> HTMLResponse:
        filters = {"municipality": municipality or None, "lifecycle": lifecycle or None}
        with ctx.engine.connect() as conn:
            units, total = register.list_units(conn, filters=filters, moved=None, limit=PAGE,
                                               offset=(page - 1) * PAGE, scope=who.scope)
            names = counts.municipalities(conn, who.scope)
        year = date.today().year - 1
        return render(request, "inventory.html", who, units=units, municipality=municipality or "",
                      lifecycle=lifecycle or "", municipalities=names, report_year=year,
                      lifecycles=("in_use", "in_repair", "spare", "reused", "retired", "recycled"),
                      **_pages(total, page))

    @router.get("/admin/users", response_class=HTMLResponse)
    def admin_users(request: Request, ctx: ApiContext = Depends(get_context),
                    who: Principal = Depends(page_principal)) -> HTMLResponse:
        if not who.is_admin:  # admins only; to others the page does not exist
            return _missing(request, who)
        with ctx.engine.connect() as conn:
            users = auth_service.list_users(conn)
        return render(request, "admin_users.html", who, users=users)

    @router.get("/admin/tokens", response_class=HTMLResponse)
    def admin_tokens(request: Request, ctx: ApiContext = Depends(get_context),
                     who: Principal = Depends(page_principal)) -> HTMLResponse:
        if not who.is_admin:  # admins only; to others the page does not exist
            return _missing(request, who)
        with ctx.engine.connect() as conn:
            tokens = auth_service.list_tokens(conn)
            users = [u["name"] for u in auth_service.list_users(conn) if not u["disabled"]]
        return render(request, "admin_tokens.html", who, tokens=tokens, users=users)

    @router.get("/admin/agents", response_class=HTMLResponse)
    def admin_agents(request: Request, page: int = Page(), ctx: ApiContext = Depends(get_context),
                     who: Principal = Depends(page_principal)) -> HTMLResponse:
        if not who.is_admin:  # admins only; to others the page does not exist
            return _missing(request, who)
        with ctx.engine.connect() as conn:
            agents, total = queries.list_agents(conn, Filters(), PAGE, (page - 1) * PAGE, who.scope)
        return render(request, "admin_agents.html", who, agents=agents, **_pages(total, page))

    return router
