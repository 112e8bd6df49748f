"""/api/v1/reports/...: the inventory report as a file, the equity view and procurement evidence as JSON."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth.audit import record
from avfleet.controller.auth.scope import Principal, get_principal
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import DomainError
from avfleet.controller.reports.schemas import EquityAnswer, ProcurementAnswer
from avfleet.controller.reports.service import FIRST_YEAR, LAST_YEAR, MEDIA_TYPES, ReportService
from avfleet.protocols.status import utc_now


def service_of(request: Request, ctx: ApiContext) -> ReportService:
    """One per app, sharing the energy routes' EnergyService when it exists (its profiles load once)."""
    found = getattr(request.app.state, "report_service", None)
    if found is None:
        found = request.app.state.report_service = ReportService(
            ctx.settings, getattr(request.app.state, "energy_service", None))
    return found


def build_router() -> APIRouter:
    router = APIRouter(tags=["reports"])
    year_query = Query(..., ge=FIRST_YEAR, le=LAST_YEAR, description="The calendar year (compared with the one before)")

    @router.get("/reports/inventory", summary="A municipality's (or the county's) inventory report as a file",
                response_class=Response,
                responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
                           403: {"description": "the county report, asked by a caller limited to municipalities"},
                           404: {"description": "no such municipality, or one the caller may not see"}})
    def inventory_report(request: Request, year: int = year_query,
                         municipality: str | None = Query(None, max_length=128,
                                                          description="omitted: the county report"),
                         format: Literal["pdf", "xlsx", "csv"] = "pdf", lang: Literal["sv", "en"] = "sv",
                         ctx: ApiContext = Depends(get_context),
                         principal: Principal = Depends(get_principal)) -> Response:
        target = f"inventory/{municipality or 'county'}/{year}"
        detail = {"format": format, "lang": lang}
        try:
            with ctx.engine.connect() as conn:
                made = service_of(request, ctx).report_file(conn, municipality, year, format, lang, utc_now(),
                                                            principal.scope)
        except DomainError as exc:
            with write_transaction(ctx.engine) as conn:
                record(conn, principal, "report.download", target, "failed", {**detail, "error": str(exc)[:512]})
            raise
        with write_transaction(ctx.engine) as conn:
            record(conn, principal, "report.download", target, "ok", {**detail, "bytes": len(made.body)})
        disposition = f'attachment; filename="{made.filename}"'
        return Response(made.body, media_type=made.media_type, headers={"Content-Disposition": disposition})

    @router.get("/reports/equity", response_model=EquityAnswer,
                summary="The equity indicators per municipality, with their median (a limited caller: its own)")
    def equity(request: Request, year: int = year_query, ctx: ApiContext = Depends(get_context),
               principal: Principal = Depends(get_principal)) -> dict:
        with ctx.engine.connect() as conn:
            return service_of(request, ctx).equity(conn, year, utc_now(), principal.scope)

    @router.get("/reports/procurement", response_model=ProcurementAnswer,
                summary="Per device model: units, age, faults and repairs per unit-year, kWh per unit-year")
    def procurement(request: Request, year: int = year_query, ctx: ApiContext = Depends(get_context),
                    principal: Principal = Depends(get_principal)) -> dict:
        with ctx.engine.connect() as conn:
            return service_of(request, ctx).procurement(conn, year, utc_now(), principal.scope)

    return router
