"""/api/v1/inventory and /api/v1/repairs: HTTP only; the rules live in register.py, importer.py, repairs.py."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import MAX_ID, offset_query
from avfleet.controller.auth.audit import audited, record
from avfleet.controller.auth.scope import Principal, Scope, get_principal, get_scope
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import DomainError, InvalidInput, NotFound
from avfleet.controller.inventory import importer, register, repairs
from avfleet.controller.inventory.schemas import (
    DeviceModelList,
    ImportReport,
    InventoryList,
    InventoryPatch,
    InventoryUnitDetail,
    LifecycleStep,
    RepairCasePublic,
    RepairClose,
    RepairList,
    RepairOpen,
    RepairUpdate,
    UnplacedList,
)
from avfleet.inventory import csvfile
from avfleet.protocols.status import utc_now

Lifecycle = Literal[csvfile.LIFECYCLES]  # type: ignore[valid-type]


def build_router() -> APIRouter:
    # Tenancy: every query takes the caller's Scope (docs/users.md "Tenancy").
    router = APIRouter(tags=["inventory"])

    @router.get("/inventory", response_model=InventoryList, summary="The register's units, by place")
    def list_units(lifecycle: Lifecycle | None = None, kind: str | None = Query(None, max_length=32),
                   warranty_before: date | None = None, municipality: str | None = Query(None, max_length=128),
                   school: str | None = Query(None, max_length=128), room: str | None = Query(None, max_length=128),
                   moved: bool | None = None, limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                   ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        filters = {"lifecycle": lifecycle, "kind": kind, "warranty_before": warranty_before,
                   "municipality": municipality, "school": school, "room": room}
        with ctx.engine.connect() as conn:
            items, total = register.list_units(conn, filters=filters, moved=moved, limit=limit, offset=offset,
                                               scope=scope)
        return {"items": items, "total": total}

    @router.get("/inventory/unplaced", response_model=UnplacedList,
                summary="Units agents report that no register unit matches (by serial, then MAC): to be placed")
    def list_unplaced(limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                      ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = register.unplaced(conn, limit=limit, offset=offset, scope=scope)
        return {"items": items, "total": total}

    @router.get("/inventory/models", response_model=DeviceModelList,
                summary="Device models in the register, their units and the profile describing each")
    def list_models(ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        from avfleet.profiles.library import ProfileError, load_library

        try:
            library = load_library()
        except ProfileError:
            library = None  # a broken profile folder is the agents' problem; the list still answers
        with ctx.engine.connect() as conn:
            items = register.device_models(conn, library, scope)
        return {"items": items, "total": len(items)}

    @router.get("/inventory/export.csv", summary="The register as the inventory CSV (UTF-8)",
                response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    def export_csv(municipality: str | None = Query(None, max_length=128),
                   ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> Response:
        with ctx.engine.connect() as conn:
            body = importer.export_csv(conn, municipality, scope)
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="inventory.csv"'})

    @router.post("/inventory/import", response_model=ImportReport,
                 summary="Import the inventory CSV (the body): every row's fate; nothing written on any bad row "
                         "unless partial")
    async def import_csv(request: Request, dry_run: bool = False, partial: bool = False,
                         ctx: ApiContext = Depends(get_context), who: Principal = Depends(get_principal)) -> dict:
        data = await request.body()
        return await _run_import(ctx, data, dry_run=dry_run, partial=partial, who=who)

    @router.get("/inventory/{unit_id}", response_model=InventoryUnitDetail, summary="One unit with its history")
    def get_unit(unit_id: int, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return register.detail(conn, _bounded(unit_id), scope)

    @router.patch("/inventory/{unit_id}", response_model=InventoryUnitDetail,
                  summary="Edit a unit (the import's rules); every change goes into its history")
    def patch_unit(unit_id: int, body: InventoryPatch, ctx: ApiContext = Depends(get_context),
                   who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "inventory.edit", str(unit_id)) as conn:
            register.edit(conn, _bounded(unit_id), body.model_dump(exclude_unset=True), who.name, utc_now(), who.scope)
            return register.detail(conn, unit_id, who.scope)

    @router.post("/inventory/{unit_id}/retire", response_model=InventoryUnitDetail,
                 summary="Retire into the reuse pool (from in_use, spare or reused)")
    def retire(unit_id: int, body: LifecycleStep | None = None, ctx: ApiContext = Depends(get_context),
               who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "inventory.retire", str(unit_id)) as conn:
            return repairs.retire(conn, _bounded(unit_id), body.on if body else None, who.name, utc_now(), who.scope)

    @router.post("/inventory/{unit_id}/reuse", response_model=InventoryUnitDetail,
                 summary="Reuse in another place (from retired or spare)")
    def reuse(unit_id: int, body: LifecycleStep, ctx: ApiContext = Depends(get_context),
              who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "inventory.reuse", str(unit_id)) as conn:
            return repairs.reuse(conn, _bounded(unit_id), body.model_dump(), body.on, who.name, utc_now(), who.scope)

    @router.post("/inventory/{unit_id}/recycle", response_model=InventoryUnitDetail,
                 summary="Hand to recycling (from retired)")
    def recycle(unit_id: int, body: LifecycleStep | None = None, ctx: ApiContext = Depends(get_context),
                who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "inventory.recycle", str(unit_id)) as conn:
            return repairs.recycle(conn, _bounded(unit_id), body.on if body else None, who.name, utc_now(),
                                   who.scope)

    @router.get("/repairs", response_model=RepairList, summary="Repair cases, newest first")
    def list_repairs(unit_id: int | None = Query(None, ge=1, le=MAX_ID), open: bool | None = None,
                     limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                     ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = repairs.list_cases(conn, unit_id=unit_id, open_only=open, limit=limit, offset=offset,
                                              scope=scope)
        return {"items": items, "total": total}

    @router.post("/repairs", response_model=RepairCasePublic, status_code=201,
                 summary="Open a repair case for a unit, or for the unit behind a fault ticket (ticket_id)")
    def open_repair(body: RepairOpen, ctx: ApiContext = Depends(get_context),
                    who: Principal = Depends(get_principal)) -> dict:
        target = f"unit {body.unit_id or ''} ticket {body.ticket_id or ''}"
        with audited(ctx.engine, who, "repair.open", target) as conn:
            return repairs.open_case(conn, unit_id=body.unit_id, ticket_id=body.ticket_id, by=who.name, now=utc_now(),
                                     details=body.model_dump(exclude={"unit_id", "ticket_id"}), scope=who.scope)

    @router.get("/repairs/{case_id}", response_model=RepairCasePublic, summary="One repair case")
    def get_repair(case_id: int, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return repairs.get_case(conn, _bounded(case_id, "repair case"), scope)

    @router.patch("/repairs/{case_id}", response_model=RepairCasePublic,
                  summary="The supplier's case number, the cost estimate (SEK), the decision")
    def patch_repair(case_id: int, body: RepairUpdate, ctx: ApiContext = Depends(get_context),
                     who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "repair.update", str(case_id)) as conn:
            return repairs.update_case(conn, _bounded(case_id, "repair case"), body.model_dump(exclude_unset=True),
                                       who.name, utc_now(), who.scope)

    @router.post("/repairs/{case_id}/close", response_model=RepairCasePublic,
                 summary="Close: returned (back where it was) or replaced (retired)")
    def close_repair(case_id: int, body: RepairClose, ctx: ApiContext = Depends(get_context),
                     who: Principal = Depends(get_principal)) -> dict:
        with audited(ctx.engine, who, "repair.close", str(case_id)) as conn:
            return repairs.close_case(conn, _bounded(case_id, "repair case"), body.outcome, who.name, utc_now(),
                                      who.scope)

    return router


async def _run_import(ctx: ApiContext, data: bytes, *, dry_run: bool, partial: bool, who: Principal) -> dict:
    from starlette.concurrency import run_in_threadpool

    def run() -> dict:
        detail = {"bytes": len(data), "dry_run": dry_run, "partial": partial}
        try:
            text = csvfile.decode(data)
            with write_transaction(ctx.engine) as conn:
                report = importer.import_csv(conn, text, by=who.name, now=utc_now(), partial=partial, dry_run=dry_run,
                                             scope=who.scope)
        except (csvfile.CsvFileError, DomainError) as exc:
            with write_transaction(ctx.engine) as conn:
                record(conn, who, "inventory.import", "inventory", "failed", {**detail, "error": str(exc)[:512]})
            if isinstance(exc, DomainError):
                raise
            raise InvalidInput(str(exc)) from None
        # Recorded apart from the import's own transaction, which a dry run does not keep.
        with write_transaction(ctx.engine) as conn:
            record(conn, who, "inventory.import", "inventory", "ok",
                   {**detail, **{k: v for k, v in report.items() if k != "rows"}})
        return {**report, "rows": [importer.public_fate(f) for f in report["rows"]]}

    return await run_in_threadpool(run)


def _bounded(value: int, what: str = "inventory unit") -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no {what} {value}")
    return value
