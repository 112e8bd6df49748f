"""/api/v1/commands: issue a command to a device and follow its result. HTTP only.

Reads never change anything: commands past their expiry are marked by the `commands.expire` job
(jobs.py), not here. Service errors pass through to the API app, which maps them to statuses.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import offset_query
from avfleet.controller.api.schemas import Page
from avfleet.controller.auth.audit import audited
from avfleet.controller.auth.scope import Principal, Scope, get_principal, get_scope
from avfleet.controller.commands import service
from avfleet.controller.commands.schemas import CommandItem, CommandRequest


def build_router() -> APIRouter:
    router = APIRouter(tags=["commands"])

    @router.post("/commands", response_model=CommandItem, status_code=202,
                 summary="Issue a command; it is published to the agent with an expiry")
    def issue(body: CommandRequest, ctx: ApiContext = Depends(get_context),
              principal: Principal = Depends(get_principal)) -> dict:
        ttl = body.ttl_s or ctx.settings.command_ttl_s
        target = f"{body.agent_id or ''}/{body.device_id or ''}"
        with audited(ctx.engine, principal, "command.issue", target,
                     {"action": body.action.value, "args": body.args}) as conn:
            return service.issue_command(conn, ctx.broker, action=body.action, device_id=body.device_id,
                                         agent_id=body.agent_id, args=body.args, ttl_s=ttl, scope=principal.scope)

    @router.get("/commands", response_model=Page[CommandItem], summary="Commands, newest first")
    def list_commands(agent_id: str | None = None, device_id: str | None = None, status: str | None = None,
                      limit: int = Query(100, ge=1, le=1000), offset: int = offset_query(),
                      ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = service.list_commands(conn, agent_id=agent_id, device_id=device_id, status=status,
                                                 limit=limit, offset=offset, scope=scope)
        return {"items": items, "total": total}

    @router.get("/commands/{command_id}", response_model=CommandItem, summary="One command and its result")
    def get_command(command_id: str, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return service.get_command(conn, command_id, scope)

    return router
