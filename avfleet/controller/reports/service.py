"""Reports: one municipality's (or the county's) year as a ReportDocument, and its file; equity and procurement.

The API, the CLI and the monthly e-mail all call `report_file`, so they produce the same bytes for
the same data and moment. Tenancy: a caller limited to municipalities gets NotFound (404) for any
other municipality and Forbidden (403) for the county report; its equity and procurement answers
cover its own municipalities only (the median is theirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.errors import Forbidden, InvalidInput, NotFound
from avfleet.controller.fleet.models import Agent
from avfleet.controller.reports import energy_figures, equity, health, indicators, procurement, repairs
from avfleet.controller.reports.document import ReportDocument
from avfleet.controller.settings import ControllerSettings
from avfleet.i18n import STOCKHOLM

Format = Literal["csv", "xlsx", "pdf"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "pdf")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf"}
FIRST_YEAR, LAST_YEAR = 1971, 9998
UNITS = indicators.UNITS
AGENTS = Agent.__table__


@dataclass(frozen=True)
class ReportFile:
    body: bytes
    filename: str
    media_type: str


def known_municipalities(conn: Connection, scope: Scope = COUNTY) -> list[str]:
    """Municipalities of the register and of the agents, as far as the caller may see them."""
    names = set(conn.execute(sa.select(UNITS.c.municipality).distinct().where(*scope.clauses(UNITS.c.municipality)))
                .scalars())
    names |= set(conn.execute(sa.select(AGENTS.c.municipality).distinct()
                              .where(AGENTS.c.municipality.is_not(None), *scope.clauses(AGENTS.c.municipality)))
                 .scalars())
    return sorted(names)


def check_request(conn: Connection, municipality: str | None, year: int, scope: Scope = COUNTY) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"year must lie between {FIRST_YEAR} and {LAST_YEAR}")
    if municipality is None:
        if not scope.county_wide:
            raise Forbidden("the county report covers every municipality; a caller limited to municipalities "
                            "may ask for its own (municipality=...)")
        return
    known = known_municipalities(conn, scope)
    if municipality not in known:
        raise NotFound(f"no municipality {municipality!r}; known: {', '.join(known) or 'none'}")


class ReportService:
    """Keeps one EnergyService and one TicketService (rated life), sharing one profile library: loading
    it takes seconds, so it happens once per process (the API keeps its ReportService)."""

    def __init__(self, settings: ControllerSettings, energy_service: Any = None) -> None:
        self.settings = settings
        self._energy = energy_service
        self._tickets: Any = None
        self._library: Any = None

    def library(self) -> Any:
        if self._library is None:
            from avfleet.profiles.library import load_library

            self._library = load_library()
        return self._library

    @property
    def energy(self) -> Any:
        if self._energy is None:
            from avfleet.controller.energy.service import EnergyService
            from avfleet.controller.energy.watts import WattsResolver

            self._energy = EnergyService(self.settings, WattsResolver(self.library()))
        return self._energy

    @property
    def tickets(self) -> Any:
        if self._tickets is None:
            from avfleet.controller.tickets.service import TicketService

            self._tickets = TicketService(self.settings, self.library())
        return self._tickets

    def document(self, conn: Connection, municipality: str | None, year: int, lang: str, now: datetime,
                 scope: Scope = COUNTY) -> ReportDocument:
        check_request(conn, municipality, year, scope)
        period = indicators.period_of(year, now)
        before = period.previous()
        units = indicators.load_units(conn, municipality, scope)
        tickets = health.load_tickets(conn, municipality, period, scope)
        cases = repairs.load_cases(conn, municipality, period, scope)
        energy_now = energy_figures.energy_year(conn, self.energy, municipality, period, now, scope)
        energy_then = energy_figures.energy_year(conn, self.energy, municipality, before, now, scope)
        saved_now = energy_figures.kwh_saved(conn, period, scope).get(municipality, 0.0)
        saved_then = energy_figures.kwh_saved(conn, before, scope).get(municipality, 0.0)
        # Lamps and filters: today's readings and forecast, whatever the year (they look ahead).
        due = health.due_units(conn, units, now.astimezone(STOCKHOLM).date(), self.tickets)
        sections = [
            indicators.inventory_section(units, period, lang),
            health.health_section(tickets, (energy_now.availability(), energy_then.availability()), period, lang),
            health.service_life_section(due, lang),
            indicators.warranty_section(units, period, lang),
            repairs.repairs_section(cases, units, period, lang),
            energy_figures.energy_section(energy_now, energy_then, (saved_now, saved_then), period, lang),
        ]
        if municipality is None:
            sections.append(equity.equity_section(equity.equity_items(units, tickets, energy_now, period), lang))
            sections.append(procurement.procurement_section(
                procurement.procurement_items(units, tickets, cases, energy_now, period), lang))
        return ReportDocument("inventory", municipality, year, now, sections,
                              co2e_g_per_kwh=energy_now.factor["g_co2e_per_kwh"],
                              co2e_source=energy_now.factor["source"],
                              assumptions=[("report.note.period", {"start": period.start, "end": period.as_of,
                                                                   "previous_end": before.as_of})])

    def report_file(self, conn: Connection, municipality: str | None, year: int, fmt: str, lang: str,
                    now: datetime, scope: Scope = COUNTY) -> ReportFile:
        if fmt not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
        if lang not in ("sv", "en"):
            raise InvalidInput("lang must be sv or en")
        from avfleet.controller.reports.render import filename, media_type, render

        doc = self.document(conn, municipality, year, lang, now, scope)
        return ReportFile(render(doc, fmt, lang), filename(doc, fmt, lang), media_type(fmt))  # type: ignore[arg-type]

    def equity(self, conn: Connection, year: int, now: datetime, scope: Scope = COUNTY) -> dict[str, Any]:
        check_request(conn, None, year)  # the year only: a limited caller gets its own municipalities
        period = indicators.period_of(year, now)
        units = indicators.load_units(conn, None, scope)
        tickets = health.load_tickets(conn, None, period, scope)
        energy = energy_figures.energy_year(conn, self.energy, None, period, now, scope)
        return equity.equity_answer(equity.equity_items(units, tickets, energy, period), year)

    def procurement(self, conn: Connection, year: int, now: datetime, scope: Scope = COUNTY) -> dict[str, Any]:
        check_request(conn, None, year)
        period = indicators.period_of(year, now)
        units = indicators.load_units(conn, None, scope)
        tickets = health.load_tickets(conn, None, period, scope)
        cases = repairs.load_cases(conn, None, period, scope)
        energy = energy_figures.energy_year(conn, self.energy, None, period, now, scope)
        return procurement.procurement_answer(
            procurement.procurement_items(units, tickets, cases, energy, period), year)

