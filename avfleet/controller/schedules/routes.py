"""/api/v1/schedules, their occurrences and runs, and /api/v1/power for a whole scope. HTTP only."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import offset_query
from avfleet.controller.api.schemas import Page
from avfleet.controller.auth.audit import audited
from avfleet.controller.auth.scope import Principal, get_principal, require_county
from avfleet.controller.schedules import service
from avfleet.controller.schedules.jobs import publish
from avfleet.controller.schedules.schemas import Occurrences, PowerRequest, RunOut, ScheduleIn, ScheduleOut


def build_router() -> APIRouter:
    # Tenancy, coarse until the schedule queries take a Scope (a schedule's targets are a JSON scope):
    # county-wide callers only (docs/users.md).
    router = APIRouter(tags=["schedules"], dependencies=[Depends(require_county)])

    @router.get("/schedules", response_model=Page[ScheduleOut], summary="Schedules")
    def list_schedules(municipality: str | None = None, limit: int = Query(100, ge=1, le=1000),
                       offset: int = offset_query(), ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = service.list_schedules(conn, municipality=municipality, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.post("/schedules", response_model=ScheduleOut, status_code=201, summary="Create a schedule")
    def create(body: ScheduleIn, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "schedule.create", body.name) as conn:
            return service.create_schedule(conn, body.model_dump(mode="json"), by=who.name)

    @router.get("/schedules/{schedule_id}", response_model=ScheduleOut, summary="One schedule")
    def get(schedule_id: int, ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            return service.get_schedule(conn, schedule_id)

    @router.put("/schedules/{schedule_id}", response_model=ScheduleOut, summary="Replace a schedule")
    def update(schedule_id: int, body: ScheduleIn, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "schedule.update", str(schedule_id)) as conn:
            return service.update_schedule(conn, schedule_id, body.model_dump(mode="json"))

    @router.delete("/schedules/{schedule_id}", status_code=204, summary="Delete a schedule (its runs stay)")
    def delete(schedule_id: int, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> Response:
        with audited(ctx.engine, who, "schedule.delete", str(schedule_id)) as conn:
            service.delete_schedule(conn, schedule_id)
        return Response(status_code=204)

    @router.get("/schedules/{schedule_id}/occurrences", response_model=Occurrences,
                summary="What will run when (Europe/Stockholm), and why a day is skipped")
    def occurrences(schedule_id: int, from_: date = Query(alias="from"), to: date = Query(),
                    ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items = service.schedule_occurrences(conn, schedule_id, from_, to)
        return {"items": items, "total": len(items)}

    @router.post("/schedules/{schedule_id}/run", response_model=RunOut, status_code=202,
                 summary="Run the schedule now; the report fills in as results arrive")
    def run_now(schedule_id: int, ctx: ApiContext = Depends(get_context),
                who: Principal = Depends(get_principal)) -> dict:
        outbox: service.Outbox = []
        with audited(ctx.engine, who, "schedule.run", str(schedule_id)) as conn:
            schedule = service.get_schedule(conn, schedule_id)
            # Run now means now: the day rule of a scheduled occurrence does not apply to it.
            run = service.start_run(conn, outbox, ctx.settings, action=schedule["action"],
                                    scope=schedule["scope"], schedule=schedule, by=who.name, by_hand=True)
        publish(ctx.engine, ctx.broker, outbox)  # after the commit: an agent's quick answer finds its rows
        return run

    @router.get("/schedules/{schedule_id}/runs", response_model=Page[RunOut], summary="Run reports, newest first")
    def runs(schedule_id: int, limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
             ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = service.list_runs(conn, schedule_id, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.post("/power", response_model=RunOut, status_code=202,
                 summary="Power a whole scope off or on now (a run without a schedule)")
    def power(body: PowerRequest, ctx: ApiContext = Depends(get_context),
              who: Principal = Depends(get_principal)) -> dict:
        target = body.scope.model_dump(exclude_none=True)
        outbox: service.Outbox = []
        with audited(ctx.engine, who, "power.run", str(target)[:256], {"action": body.action}) as conn:
            run = service.start_run(conn, outbox, ctx.settings, action=body.action, scope=target, by=who.name)
        publish(ctx.engine, ctx.broker, outbox)
        return run

    @router.get("/power/runs", response_model=Page[RunOut], summary="Scope power runs, newest first")
    def power_runs(limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                   ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = service.list_runs(conn, None, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.get("/runs/{run_id}", response_model=RunOut, summary="One run report")
    def get_run(run_id: int, ctx: ApiContext = Depends(get_context)) -> dict:
        with ctx.engine.connect() as conn:
            return service.get_run(conn, run_id)

    return router
