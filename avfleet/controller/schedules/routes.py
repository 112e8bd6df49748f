"""/api/v1/schedules, their occurrences and runs, and /api/v1/power for a whole scope. HTTP only."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import offset_query
from avfleet.controller.api.schemas import Page
from avfleet.controller.auth.audit import audited
from avfleet.controller.auth.scope import Principal, Scope, get_principal, get_scope
from avfleet.controller.schedules import service, tenancy
from avfleet.controller.schedules.jobs import publish
from avfleet.controller.schedules.schemas import Occurrences, PowerRequest, RunOut, ScheduleIn, ScheduleOut


def build_router() -> APIRouter:
    # Tenancy: a limited caller sees and changes only schedules and runs wholly inside its
    # municipalities; anything else is 404 (schedules/tenancy.py, docs/users.md).
    router = APIRouter(tags=["schedules"])

    @router.get("/schedules", response_model=Page[ScheduleOut], summary="Schedules")
    def list_schedules(municipality: str | None = None, limit: int = Query(100, ge=1, le=1000),
                       offset: int = offset_query(), ctx: ApiContext = Depends(get_context),
                       scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = tenancy.list_schedules(conn, scope, municipality=municipality, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.post("/schedules", response_model=ScheduleOut, status_code=201, summary="Create a schedule")
    def create(body: ScheduleIn, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "schedule.create", body.name) as conn:
            tenancy.check_target(conn, who.scope, body.scope.model_dump(exclude_none=True))
            return service.create_schedule(conn, body.model_dump(mode="json"), by=who.name)

    @router.get("/schedules/{schedule_id}", response_model=ScheduleOut, summary="One schedule")
    def get(schedule_id: int, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return tenancy.get_schedule(conn, scope, schedule_id)

    @router.put("/schedules/{schedule_id}", response_model=ScheduleOut, summary="Replace a schedule")
    def update(schedule_id: int, body: ScheduleIn, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "schedule.update", str(schedule_id)) as conn:
            tenancy.get_schedule(conn, who.scope, schedule_id)
            tenancy.check_target(conn, who.scope, body.scope.model_dump(exclude_none=True))
            return service.update_schedule(conn, schedule_id, body.model_dump(mode="json"))

    @router.delete("/schedules/{schedule_id}", status_code=204, summary="Delete a schedule (its runs stay)")
    def delete(schedule_id: int, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> Response:
        with audited(ctx.engine, who, "schedule.delete", str(schedule_id)) as conn:
            tenancy.get_schedule(conn, who.scope, schedule_id)
            service.delete_schedule(conn, schedule_id)
        return Response(status_code=204)

    @router.get("/schedules/{schedule_id}/occurrences", response_model=Occurrences,
                summary="What will run when (Europe/Stockholm), and why a day is skipped")
    def occurrences(schedule_id: int, from_: date = Query(alias="from"), to: date = Query(),
                    ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            tenancy.get_schedule(conn, scope, schedule_id)
            items = service.schedule_occurrences(conn, schedule_id, from_, to)
        return {"items": items, "total": len(items)}

    @router.post("/schedules/{schedule_id}/run", response_model=RunOut, status_code=202,
                 summary="Run the schedule now; the report fills in as results arrive")
    def run_now(schedule_id: int, ctx: ApiContext = Depends(get_context),
                who: Principal = Depends(get_principal)) -> dict:
        outbox: service.Outbox = []
        with audited(ctx.engine, who, "schedule.run", str(schedule_id)) as conn:
            schedule = tenancy.get_schedule(conn, who.scope, schedule_id)
            # Run now means now: the day rule of a scheduled occurrence does not apply to it.
            run = service.start_run(conn, outbox, ctx.settings, action=schedule["action"],
                                    scope=schedule["scope"], schedule=schedule, by=who.name, by_hand=True)
        publish(ctx.engine, ctx.broker, outbox)  # after the commit: an agent's quick answer finds its rows
        return run

    @router.get("/schedules/{schedule_id}/runs", response_model=Page[RunOut], summary="Run reports, newest first")
    def runs(schedule_id: int, limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
             ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = tenancy.list_runs(conn, scope, schedule_id, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.post("/power", response_model=RunOut, status_code=202,
                 summary="Power a whole scope off or on now (a run without a schedule)")
    def power(body: PowerRequest, ctx: ApiContext = Depends(get_context),
              who: Principal = Depends(get_principal)) -> dict:
        target = body.scope.model_dump(exclude_none=True)
        outbox: service.Outbox = []
        with audited(ctx.engine, who, "power.run", str(target)[:256], {"action": body.action}) as conn:
            tenancy.check_target(conn, who.scope, target)
            run = service.start_run(conn, outbox, ctx.settings, action=body.action, scope=target, by=who.name)
        publish(ctx.engine, ctx.broker, outbox)
        return run

    @router.get("/power/runs", response_model=Page[RunOut], summary="Scope power runs, newest first")
    def power_runs(limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                   ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = tenancy.list_runs(conn, scope, None, limit=limit, offset=offset)
        return {"items": items, "total": total}

    @router.get("/runs/{run_id}", response_model=RunOut, summary="One run report")
    def get_run(run_id: int, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return tenancy.get_run(conn, scope, run_id)

    return router
