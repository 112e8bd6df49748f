"""The FastAPI application factory: /api/v1 behind a bearer token, /health, /metrics, the dashboard."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Engine

from avfleet.controller.api import docs_assets, error_docs, limits, security
from avfleet.controller.api.context import ApiContext, BrokerLink, get_context
from avfleet.controller.api.schemas import Health
from avfleet.controller.auth.scope import authorize, get_principal, require_admin, require_county
from avfleet.controller.errors import DomainError
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.settings import ControllerSettings

log = logging.getLogger("avfleet.controller.api")


def create_app(settings: ControllerSettings, engine: Engine, metrics: IngestMetrics | None = None,
               broker: BrokerLink | None = None) -> FastAPI:
    from avfleet import __version__
    from avfleet.controller.api import stream
    from avfleet.controller.auth import routes as auth_routes
    from avfleet.controller.calendars import routes as calendar_routes
    from avfleet.controller.commands import routes as command_routes
    from avfleet.controller.energy import routes as energy_routes
    from avfleet.controller.fleet import routes as fleet_routes
    from avfleet.controller.inventory import routes as inventory_routes
    from avfleet.controller.reports import routes as report_routes
    from avfleet.controller.schedules import routes as schedule_routes
    from avfleet.controller.tickets import routes as ticket_routes

    # The input guard is app-wide so that routes added later are covered without remembering it.
    app = FastAPI(title="avfleet controller", version=__version__, docs_url=None, redoc_url=None,
                  dependencies=[Depends(limits.refuse_unstorable_input)],
                  description="Classroom AV fleet: agents, devices, their status history and commands. "
                  "Every endpoint but /health, the login and this description needs `Authorization: Bearer TOKEN` "
                  "or the dashboard's session cookie (docs/users.md).")
    app.state.context = ApiContext(settings, engine, metrics or IngestMetrics(), broker)
    app.add_middleware(limits.BodySizeLimit, max_bytes=settings.max_request_bytes)
    error_docs.install(app)
    # /docs from vendored Swagger UI (no CDN); the headers wrap everything, 413s and 500s included.
    docs_assets.install(app)
    security.install(app, public_url=settings.public_url)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        # The one place where a service's error becomes an HTTP status.
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "request"
        return JSONResponse({"detail": limits.printable(f"{where}: {first.get('msg', 'invalid')}")}, status_code=422)

    @app.get("/health", response_model=Health, tags=["service"], summary="Liveness; needs no token")
    def health(ctx: ApiContext = Depends(get_context)) -> dict:
        database = "ok"
        try:
            with ctx.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            log.warning("health: database check failed: %s", exc)
            database = "unreachable"
        broker_state = "none" if ctx.broker is None else (
            "connected" if ctx.broker.wait_connected(0) else "disconnected")
        ok = database == "ok" and broker_state != "disconnected"
        return {"status": "ok" if ok else "degraded", "database": database, "broker": broker_state}

    @app.get("/metrics", tags=["service"], dependencies=[Depends(require_county)],
             summary="Prometheus metrics of this process (county-wide callers only)", response_class=Response)
    def metrics_endpoint(ctx: ApiContext = Depends(get_context)) -> Response:
        from avfleet.controller.fleet.queries import agent_counts
        from avfleet.controller.tickets.metrics import exposition

        with ctx.engine.connect() as conn:
            online, total = agent_counts(conn)
            domain_figures = exposition(conn)
        ctx.metrics.agents_online.set(online)
        ctx.metrics.agents_total.set(total)
        return Response(generate_latest(ctx.metrics.registry) + domain_figures, media_type=CONTENT_TYPE_LATEST)

    # The dashboard: server-rendered pages (session cookie; nobody -> 303 /login) and their files.
    from avfleet.controller.dashboard import routes as dashboard_routes

    app.mount("/static", StaticFiles(packages=[("avfleet.controller.dashboard", "static")]), name="static")
    app.include_router(dashboard_routes.build_router())

    # Every protected router: authenticated (token or session with CSRF), viewers read only.
    protected = [Depends(authorize)]
    app.include_router(auth_routes.build_public_router(), prefix="/api/v1")
    # Who am I and logout: any authenticated caller, viewers too.
    app.include_router(auth_routes.build_router(), prefix="/api/v1", dependencies=[Depends(get_principal)])
    app.include_router(auth_routes.build_admin_router(), prefix="/api/v1",
                       dependencies=[*protected, Depends(require_admin)])
    app.include_router(fleet_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(command_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(stream.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(ticket_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(inventory_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(calendar_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(schedule_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(energy_routes.build_router(), prefix="/api/v1", dependencies=protected)
    app.include_router(report_routes.build_router(), prefix="/api/v1", dependencies=protected)
    return app
