"""/api/v1/calendars/{municipality}: a municipality's (or, with ?school=, a school's) breaks. HTTP only."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.auth.audit import audited
from avfleet.controller.auth.scope import Principal, Scope, get_principal, get_scope
from avfleet.controller.calendars import service
from avfleet.controller.calendars.schemas import CalendarBody, CalendarOut
from avfleet.controller.errors import NotFound


def build_router() -> APIRouter:
    router = APIRouter(tags=["calendars"])

    @router.get("/calendars/{municipality}", response_model=CalendarOut,
                summary="The school calendar: breaks, study days and closing days")
    def get_calendar(municipality: str, school: str | None = None, ctx: ApiContext = Depends(get_context),
                     scope: Scope = Depends(get_scope)) -> dict:
        _in_scope(scope, municipality)
        with ctx.engine.connect() as conn:
            return service.get_calendar(conn, municipality, school)

    @router.put("/calendars/{municipality}", response_model=CalendarOut,
                summary="Replace the school calendar (a bad item: 422 naming it, nothing written)")
    def put_calendar(municipality: str, body: CalendarBody, school: str | None = None,
                     ctx: ApiContext = Depends(get_context), principal: Principal = Depends(get_principal)) -> dict:
        target = municipality + (f"/{school}" if school else "")
        with audited(ctx.engine, principal, "calendar.import", target, {"days": len(body.days)}) as conn:
            _in_scope(principal.scope, municipality)  # inside: a refused import is recorded as failed too
            return service.replace_calendar(conn, municipality, school, [d.model_dump() for d in body.days])

    return router


def _in_scope(scope: Scope, municipality: str) -> None:
    # Tenancy: another municipality's calendar does not exist for a limited caller.
    if not scope.allows(municipality):
        raise NotFound(f"no calendar of {municipality!r}")
