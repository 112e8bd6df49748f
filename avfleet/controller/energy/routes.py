"""/api/v1/energy and /api/v1/energy.csv: HTTP only; the figures come from service.py."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from avfleet.controller.api.context import ApiContext, get_context
from avfleet.controller.api.limits import query_date
from avfleet.controller.auth.scope import Scope, get_scope
from avfleet.controller.energy.schemas import CSV_COLUMNS, EnergyAnswer
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.protocols.status import utc_now

Level = Literal["county", "municipality", "school", "room", "device"]
Group = Literal["day", "month", "year"]


def build_router() -> APIRouter:
    router = APIRouter(tags=["energy"])

    def query(level: Level = "county", from_: date = query_date(alias="from"), to: date = query_date(),
              group: Group = "month", municipality: str | None = Query(None, max_length=128),
              school: str | None = Query(None, max_length=128), room: str | None = Query(None, max_length=128),
              agent_id: str | None = Query(None, max_length=64),
              device_id: str | None = Query(None, max_length=64),
              scope: Scope = Depends(get_scope)) -> EnergyQuery:
        return EnergyQuery(level, from_, to, group, municipality, school, room, agent_id, device_id, scope)

    def answer(request: Request, ctx: ApiContext, q: EnergyQuery) -> dict:
        # One service per app: its profile library takes most of a second to load.
        service = getattr(request.app.state, "energy_service", None)
        if service is None:
            service = request.app.state.energy_service = EnergyService(ctx.settings)
        with ctx.engine.connect() as conn:
            return service.answer(conn, q, utc_now())

    @router.get("/energy", response_model=EnergyAnswer, response_model_by_alias=True,
                summary="Energy per level and period, with the same period a year earlier")
    def energy(request: Request, q: EnergyQuery = Depends(query), ctx: ApiContext = Depends(get_context)) -> dict:
        return answer(request, ctx, q)

    @router.get("/energy.csv", summary="The same figures as CSV (one row per item; previous_year rows marked)",
                response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    def energy_csv(request: Request, q: EnergyQuery = Depends(query),
                   ctx: ApiContext = Depends(get_context)) -> Response:
        return Response(to_csv(answer(request, ctx, q)), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="energy-{q.level}-{q.start}-{q.end}.csv"'})

    return router


def to_csv(answer: dict) -> str:
    """Items then previous_year rows, each naming its CO2e factor; dates ISO, days local (Europe/Stockholm)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    factors = {f["year"]: f for f in answer["factors"]}
    for series, items in (("this_year", answer["items"]), ("previous_year", answer["previous_year"])):
        for item in items:
            factor = factors.get(int(item["period"][:4]), answer["factor"])
            writer.writerow({**item, "series": series, "g_co2e_per_kwh": factor["g_co2e_per_kwh"],
                             "co2e_source": factor["source"]})
    return out.getvalue()
