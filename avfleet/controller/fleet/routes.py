"""/api/v1/agents and /api/v1/devices: HTTP only.

The service's errors (NotFound, Ambiguous, BadFilter) pass through untouched: the API app maps every
avfleet.controller.errors class to its status once.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import offset_query, query_time_in_utc
from avfleet.controller.api.schemas import Page
from avfleet.controller.auth.scope import Scope, get_scope
from avfleet.controller.fleet import queries
from avfleet.controller.fleet.queries import Filters
from avfleet.controller.fleet.schemas import AgentDetail, AgentItem, DeviceDetail, DeviceItem, Transition
from avfleet.protocols.status import FAULT_COMPONENTS

Limit = Query(100, ge=1, le=1000, description="Page size")
Offset = offset_query()


def build_router() -> APIRouter:
    router = APIRouter(tags=["fleet"])

    @router.get("/agents", response_model=Page[AgentItem], summary="Agents, filtered and paginated")
    def list_agents(municipality: str | None = None, school: str | None = None, room: str | None = None,
                    state: str | None = Query(None, description="online | offline | lost | unknown"),
                    fault: str | None = Query(None, include_in_schema=False),
                    limit: int = Limit, offset: int = Offset, ctx: ApiContext = Depends(get_context),
                    scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = queries.list_agents(conn, Filters(municipality, school, room, state, fault), limit, offset,
                                               scope)
        return {"items": items, "total": total}

    @router.get("/agents/{agent_id}", response_model=AgentDetail, summary="One agent with its health")
    def get_agent(agent_id: str, ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return queries.agent_detail(conn, agent_id, scope)

    @router.get("/devices", response_model=Page[DeviceItem], summary="Devices with their current status")
    def list_devices(municipality: str | None = None, school: str | None = None, room: str | None = None,
                     state: str | None = Query(None, description="an availability (online, unreachable, "
                                               "auth_failed, error) or power (on, standby, ...) value"),
                     fault: str | None = Query(None, description="a fault component (lamp, fan, ...), any or none",
                                               json_schema_extra={"enum": [*FAULT_COMPONENTS, "any", "none"]}),
                     agent_id: str | None = None, kind: str | None = None,
                     limit: int = Limit, offset: int = Offset, ctx: ApiContext = Depends(get_context),
                     scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            items, total = queries.list_devices(
                conn, Filters(municipality, school, room, state, fault, agent_id, kind), limit, offset, scope)
        return {"items": items, "total": total}

    @router.get("/devices/{device_id}", response_model=DeviceDetail,
                summary="One device: status, recent transitions, events and inventory records")
    def get_device(device_id: str, agent_id: str | None = None,
                   history_limit: int = Query(100, ge=0, le=1000),
                   ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        with ctx.engine.connect() as conn:
            return queries.device_detail(conn, device_id, agent_id, history_limit, scope)

    @router.get("/devices/{device_id}/history", response_model=Page[Transition],
                summary="Transitions of one device in a time range (for availability and energy figures)")
    def get_history(device_id: str, agent_id: str | None = None, since: datetime | None = None,
                    until: datetime | None = None, limit: int = Limit, offset: int = Offset,
                    ctx: ApiContext = Depends(get_context), scope: Scope = Depends(get_scope)) -> dict:
        since, until = query_time_in_utc("since", since), query_time_in_utc("until", until)
        with ctx.engine.connect() as conn:
            items, total = queries.history_of(conn, device_id, agent_id, since, until, limit, offset, scope)
        return {"items": items, "total": total}

    return router
