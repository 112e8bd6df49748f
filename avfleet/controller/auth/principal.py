"""Who is asking (a Principal) and what they may see (a Scope): pure, no HTTP, no database.

A Scope is the one tenancy mechanism: every query of a table with a municipality column, or of a
table that names an agent, adds `scope.clauses(...)` or `scope.agent_clauses(...)` to its WHERE.
A county-wide scope adds nothing; a limited one keeps only its municipalities, so lists leave the
others out and a direct lookup finds nothing (NotFound, 404) — the same answer as for a missing row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

Role = Literal["admin", "technician", "viewer"]
ROLES: tuple[str, ...] = ("admin", "technician", "viewer")
WRITERS = frozenset({"admin", "technician"})


@dataclass(frozen=True)
class Scope:
    """The municipalities a caller may see; None is county-wide."""

    municipalities: frozenset[str] | None = None

    @property
    def county_wide(self) -> bool:
        return self.municipalities is None

    def allows(self, municipality: str | None) -> bool:
        return self.municipalities is None or municipality in self.municipalities

    def covers(self, municipalities: Iterable[str | None]) -> bool:
        """True when every one of `municipalities` is the scope's (a thing spanning several, e.g. a
        schedule, belongs to a limited caller only if all of them are its own; none at all: county-wide)."""
        if self.municipalities is None:
            return True
        names = set(municipalities)
        return bool(names) and names <= self.municipalities

    def clauses(self, municipality_column: Any) -> list[Any]:
        """WHERE clauses for a table with a municipality column (a NULL municipality is nobody's)."""
        if self.municipalities is None:
            return []
        return [municipality_column.in_(sorted(self.municipalities))]

    def agent_clauses(self, agent_id_column: Any) -> list[Any]:
        """WHERE clauses for a table that names an agent: only agents of the scope's municipalities."""
        if self.municipalities is None:
            return []
        from avfleet.controller.fleet.models import Agent

        agents = Agent.__table__
        return [agent_id_column.in_(sa.select(agents.c.agent_id).where(*self.clauses(agents.c.municipality)))]

    def apply(self, query: sa.Select, municipality_column: Any) -> sa.Select:
        return query.where(*self.clauses(municipality_column))


COUNTY = Scope()


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a user (by token or session), the bootstrap admin, or nobody yet."""

    name: str
    role: Role
    municipalities: frozenset[str] | None = None  # None: county-wide
    via: str = "token"  # bootstrap | token | session | anonymous
    client_ip: str | None = None
    user_id: int | None = None

    @property
    def scope(self) -> Scope:
        return Scope(None if self.role == "admin" else self.municipalities)

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def anonymous(name: str, client_ip: str | None) -> Principal:
    """Who a failed login is recorded as (the name as typed)."""
    return Principal(name=name[:64], role="viewer", municipalities=frozenset(), via="anonymous", client_ip=client_ip)
