"""Report indicators on a constructed fleet with known answers (SQLite and PostgreSQL), beside the year before."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.reports.document import PREVIOUS_SUFFIX as P
from avfleet.controller.reports.document import ReportDocument, Table
from avfleet.controller.reports.energy_figures import SAVINGS, split_savings
from avfleet.controller.reports.service import ReportService
from avfleet.controller.settings import load_settings
from tests.controller.reports.support import JKPG, NOW, YEAR, build_fleet


@pytest.fixture(scope="module")
def service() -> ReportService:
    return ReportService(load_settings(demo=True))


def table(doc: ReportDocument, section: str, key: str) -> Table:
    found = next(s for s in doc.sections if s.key == section)
    return next(t for t in found.tables if t.key == key)


def by(rows: list[dict], column: str) -> dict:
    return {r[column]: r for r in rows}


def test_a_municipality_report_has_the_known_figures_beside_last_year(engine: Engine, service: ReportService) -> None:
    build_fleet(engine)
    with engine.connect() as conn:
        doc = service.document(conn, JKPG, YEAR, "sv", NOW)
    assert [s.key for s in doc.sections] == ["inventory", "health", "service_life", "warranty", "repairs", "energy"]
    kinds = by(table(doc, "inventory", "by_kind").rows, "kind")
    # u2 arrived in March 2025, u4 was recycled in September 2025; u8 was retired and reused (counts both years).
    assert (kinds["Projektor"]["units"], kinds["Projektor"]["units" + P]) == (2, 2)
    assert (kinds["Skärm"]["units"], kinds["Skärm"]["units" + P]) == (2, 2)
    ages = by(table(doc, "inventory", "by_age").rows, "age")
    assert ages["8 år eller äldre"]["units"] == 1 and ages["8 år eller äldre"]["units" + P] == 0  # u3, bought 2017
    assert by(table(doc, "inventory", "by_model").rows, "model")["Epson EB-2250U"]["units"] == 2

    health = [(r["value"], r["value" + P]) for r in table(doc, "health", "health").rows]
    # open at the end, opened, hardware faults, resolved, MTTR (6 h and 24 h; 12 h the year before), availability.
    assert health == [(1, 0), (3, 1), (2, 1), (2, 1), (15.0, 12.0), (85.0, 90.0)]

    windows = [(r["units"], r["units" + P]) for r in table(doc, "warranty", "windows").rows]
    # within 30, 60, 90, 180 days of 2025-12-31 (u1 20 days, u2 74 days), already ended (u3, u8), unknown (u4).
    assert windows == [(1, 0), (1, 0), (2, 0), (2, 0), (2, 2), (0, 1)]
    assert [r["serial"] for r in table(doc, "warranty", "ending").rows] == ["SN-1", "SN-2"]

    repairs = [(r["value"], r["value" + P]) for r in table(doc, "repairs", "repairs").rows]
    # cases, share under warranty, turnaround days, retired (u4, u8), reused (u8), recycled (u4).
    assert repairs == [(2, 0), (50.0, None), (10.0, None), (2, 0), (1, 0), (1, 0)]

    energy = [(r["value"], r["value" + P]) for r in table(doc, "energy", "energy").rows]
    # kWh (a1 10/month, a2 5/month from March; 8/month the year before), CO2e at 59 g/kWh, left-on hours,
    # kWh saved (half of a 3 kWh run: a1 in Jönköping, b1 in Värnamo), networked devices.
    assert energy == [(170.0, 96.0), (10.0, 5.7), (24.0, 24.0), (1.5, 0.0), (2, 1)]
    months = table(doc, "energy", "per_month").rows
    assert (months[0]["kwh"], months[2]["kwh"], months[2]["kwh" + P]) == (10.0, 15.0, 8.0)
    assert table(doc, "energy", "energy").note_values["source"].startswith("IVL")
    assert doc.co2e_g_per_kwh == 59.0
    # The reports.savings job splits each run once; the report then reads the split, with the same answer.
    assert split_savings(engine) == 1 and split_savings(engine) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(SAVINGS)).scalar_one() == 2
        again = service.document(conn, JKPG, YEAR, "sv", NOW)
        county = service.document(conn, None, YEAR, "sv", NOW)
    assert table(again, "energy", "energy").rows[3]["value"] == 1.5
    assert table(county, "energy", "energy").rows[3]["value"] == 3.0


def test_the_county_report_adds_equity_and_procurement_and_speaks_english(engine: Engine,
                                                                          service: ReportService) -> None:
    build_fleet(engine)
    with engine.connect() as conn:
        doc = service.document(conn, None, YEAR, "en", NOW)
        equity = service.equity(conn, YEAR, NOW)
        procurement = service.procurement(conn, YEAR, NOW)
    assert [s.key for s in doc.sections][-2:] == ["equity", "procurement"]
    assert by(table(doc, "inventory", "by_kind").rows, "kind")["Total"]["units"] == 7
    due = table(doc, "service_life", "due").rows
    # b1's lamp: 3800 of 4000 h at 24 h a day → 8 days after today (2026-01-10).
    assert [(r["serial"], r["part"], r["forecast"]) for r in due] == [("SN-5", "Lamp", date(2026, 1, 18))]

    items = by(equity["items"], "municipality")
    assert set(items) == {"Jönköping", "Värnamo", "Nässjö"}
    j = items["Jönköping"]
    assert (j["devices_per_school"], j["past_warranty_pct"], j["availability_pct"], j["faults_per_device"],
            j["kwh_per_device"], j["left_on_hours_per_device"]) == (2.0, 50.0, 85.0, 0.5, 85.0, 12.0)
    assert items["Värnamo"]["availability_pct"] == 75.0 and items["Nässjö"]["kwh_per_device"] == 72.0
    assert equity["median"] == {"devices_per_school": 2.0, "mean_age_years": 3.0, "past_warranty_pct": 0.0,
                                "availability_pct": 85.0, "faults_per_device": 0.5, "kwh_per_device": 72.0,
                                "left_on_hours_per_device": 6.0}
    models = by(procurement["items"], "model")
    epson = models["Epson EB-2250U"]
    # unit-years: u1 1.0 + u2 306/365 + u4 120/365 (until retired on 1 May) = 2.167.
    assert epson["units"] == 2 and epson["unit_years"] == 2.17
    assert epson["faults_per_unit_year"] == round(2 / (1 + 306 / 365 + 120 / 365), 3)
    assert epson["repaired_under_warranty_pct"] == 100.0
    assert epson["kwh_per_unit_year"] == round(170 / (1 + 306 / 365), 1) and epson["basis"] == "mixed"
    assert models["BenQ MW560"]["kwh_per_unit_year"] == 56.0
    assert models["Samsung QM55"]["kwh_per_unit_year"] is None
    # u8: in service in January, retired in February, reused from 1 March.
    assert models["Samsung QM55"]["unit_years"] == round(1 + (31 + 306) / 365, 2)
    assert table(doc, "procurement", "procurement").rows[0]["basis"] == "measured and rated"
