"""The device list page's query: the API's filters (fleet/queries.list_devices) plus a free-text search.

Without `q` the page asks fleet/queries.list_devices itself, the API's own query. With `q` it runs the
same list with one more condition: the device's primary key among those whose device or agent id,
school, room, model or serial contains the text. Either way COUNT plus one LIMIT/OFFSET page, so a
page stays quick with 10,000 devices; tenancy is the Scope's clauses inside list_devices.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import Scope
from avfleet.controller.fleet import queries
from avfleet.controller.fleet.queries import AGENTS, DEVICES, Filters

PAGE_SIZE = 50
STATES = ("online", "unreachable", "auth_failed", "error", "on", "standby", "warming", "cooling", "unknown")
FAULTS = ("any", "none", "lamp", "fan", "temperature", "cover", "filter", "other")


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Searching(Scope):
    """A Scope that also keeps only the devices matching the search text.

    list_devices applies `scope.clauses(agents.municipality)` to its WHERE: adding the search there
    reuses the fleet query whole (columns, filters, order, item shape) instead of a copy of it.
    """

    def __init__(self, inner: Scope, term: str) -> None:
        super().__init__(inner.municipalities)
        object.__setattr__(self, "term", term)

    def clauses(self, municipality_column: Any) -> list[Any]:
        d, a = DEVICES.c, AGENTS.c
        like = f"%{_escaped(self.term.casefold())}%"  # type: ignore[attr-defined]
        match = sa.or_(*(sa.func.lower(sa.func.coalesce(column, "")).like(like, escape="\\")
                         for column in (d.device_id, d.agent_id, a.school, a.room, d.model, d.serial)))
        return [*super().clauses(municipality_column), match]


def search_devices(conn: Connection, f: Filters, q: str | None, page: int,
                   scope: Scope) -> tuple[list[dict[str, Any]], int]:
    offset = (page - 1) * PAGE_SIZE
    term = (q or "").strip()[:100]
    return queries.list_devices(conn, f, PAGE_SIZE, offset, _Searching(scope, term) if term else scope)
