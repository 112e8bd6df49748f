"""A constructed fleet and two years of history (2024, 2025) with known answers, written straight into the tables.

Jönköping: u1, u2 (Epson EB-2250U projectors at Ekhagens skola, behind devices a1/pj1, a2/pj1), u3 and u8
(Samsung QM55 displays at Åsens skola; u8 retired in February 2025 and reused in March) and u4 (an Epson
retired in May 2025 and recycled in September). Värnamo: u5, u6 (BenQ MW560, b1/pj1, b2/pj1). Nässjö: u7
(BenQ MW560, c1/pj1). Energy is written as rolled-up months (kWh per device and month below).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine

from avfleet.controller.energy.models import EnergyDay, EnergyMonth, EnergyRolledDay
from avfleet.controller.inventory.models import InventoryUnit, RepairCase
from avfleet.controller.schedules.models import ScheduleRun
from avfleet.controller.tickets.models import Ticket
from tests.controller.energy.support import add_agent, add_device

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
YEAR = 2025
T0 = datetime(2020, 1, 1, tzinfo=UTC)
JKPG, VMO, NSJ = "Jönköping", "Värnamo", "Nässjö"
EPSON = {"identity": {"manufacturer": "Epson", "model": "EB-2250U"}, "protocol": "pjlink"}
BENQ = {"identity": {"manufacturer": "BenQ", "model": "MW560", "pjlink_class": "1"}, "protocol": "pjlink"}
# (agent, device, municipality, school, status, {year: (kWh a month, months, coverage, measured?, left-on h a month)})
DEVICES = [
    ("a1", "pj1", JKPG, "Ekhagens skola", EPSON, {2025: (10.0, range(1, 13), 0.9, True, 2.0),
                                                  2024: (8.0, range(1, 13), 0.9, True, 2.0)}),
    ("a2", "pj1", JKPG, "Ekhagens skola", EPSON, {2025: (5.0, range(3, 13), 0.8, False, 0.0)}),
    ("b1", "pj1", VMO, "Gröndalsskolan", {**BENQ, "lamps": [{"hours": 3800}]},
     {2025: (4.0, range(1, 13), 1.0, True, 1.0), 2024: (4.0, range(1, 13), 1.0, True, 1.0)}),
    ("b2", "pj1", VMO, "Gröndalsskolan", BENQ, {2025: (4.0, range(1, 13), 0.5, True, 0.0),
                                                2024: (4.0, range(1, 13), 0.5, True, 0.0)}),
    ("c1", "pj1", NSJ, "Nässjö skola", BENQ, {2025: (6.0, range(1, 13), 0.95, False, 0.0),
                                              2024: (6.0, range(7, 13), 0.95, False, 0.0)}),
]


def _unit(n: int, municipality: str, school: str, kind: str, manufacturer: str, model: str, purchase: date,
          warranty: date | None, agent: str | None = None, **extra: object) -> dict:
    return {"municipality": municipality, "school": school, "room": "Sal 1", "kind": kind,
            "manufacturer": manufacturer, "model": model, "serial": f"SN-{n}", "mac": None, "firmware": "1.0",
            "purchase_date": purchase, "install_date": purchase, "warranty_end": warranty,
            "lifecycle": extra.pop("lifecycle", "in_use"), "agent_id": agent, "device_id": "pj1" if agent else None,
            "created_at": T0, "updated_at": T0, **extra}


UNITS = [
    _unit(1, JKPG, "Ekhagens skola", "projector", "Epson", "EB-2250U", date(2022, 6, 1), date(2026, 1, 20), "a1"),
    _unit(2, JKPG, "Ekhagens skola", "projector", "Epson", "EB-2250U", date(2025, 3, 1), date(2026, 3, 15), "a2"),
    _unit(3, JKPG, "Åsens skola", "display", "Samsung", "QM55", date(2017, 6, 1), date(2021, 1, 1)),
    _unit(4, JKPG, "Åsens skola", "projector", "Epson", "EB-2250U", date(2020, 1, 1), None, lifecycle="recycled",
          retired_on=date(2025, 5, 1), recycled_on=date(2025, 9, 1)),
    _unit(5, VMO, "Gröndalsskolan", "projector", "BenQ", "MW560", date(2023, 1, 1), date(2026, 5, 30), "b1"),
    _unit(6, VMO, "Gröndalsskolan", "projector", "BenQ", "MW560", date(2023, 1, 1), None, "b2"),
    _unit(7, NSJ, "Nässjö skola", "projector", "BenQ", "MW560", date(2024, 7, 1), date(2027, 7, 1), "c1"),
    _unit(8, JKPG, "Åsens skola", "display", "Samsung", "QM55", date(2021, 1, 1), date(2024, 1, 1),
          lifecycle="reused", retired_on=date(2025, 2, 1), reused_on=date(2025, 3, 1)),
]


def _utc(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


# (kind, municipality, agent, opened, repaired)
TICKETS = [
    ("lamp", JKPG, "a1", _utc(2025, 2, 1, 10), _utc(2025, 2, 1, 16)),  # 6 h
    ("fan", JKPG, "a1", _utc(2025, 3, 1, 8), _utc(2025, 3, 2, 8)),  # 24 h
    ("unreachable", JKPG, "a1", _utc(2025, 12, 30, 10), None),  # open at the year's end
    ("lamp", JKPG, "a1", _utc(2024, 5, 1), _utc(2024, 5, 1, 12)),  # 12 h, the year before
    ("lamp", VMO, "b1", _utc(2025, 6, 1), _utc(2025, 6, 3)),
]


def _month_days(year: int, month: int) -> int:
    return ((date(year + month // 12, month % 12 + 1, 1)) - date(year, month, 1)).days


def build_fleet(engine: Engine) -> None:
    with engine.begin() as conn:
        pks = {}
        for agent, device, municipality, school, status, years in DEVICES:
            add_agent(conn, agent, municipality, school, "Sal 1")
            pks[agent] = add_device(conn, agent, f"{device}", status)
            for year, (kwh, months, coverage, measured, left_on) in years.items():
                rows = []
                for m in months:
                    period = _month_days(year, m) * 86400.0
                    rows.append({"device_pk": pks[agent], "year": year, "month": m, "days": _month_days(year, m),
                                 "municipality": municipality, "school": school, "room": "Sal 1", "agent_id": agent,
                                 "device_id": device, "kwh": kwh, "hours_left_on": left_on, "hours_on": 100.0,
                                 "kwh_left_on": 0.0, "kwh_school_hours": kwh, "kwh_standby": 0.0,
                                 "period_s": period, "measured_s": period * coverage if measured else 0.0,
                                 "rated_s": 0.0 if measured else period * coverage})
                conn.execute(EnergyMonth.__table__.insert(), rows)
        day, days = date(2024, 1, 1), []
        while day <= date(2025, 12, 31):
            days.append({"day": day, "devices": len(DEVICES), "computed_at": T0})
            day += timedelta(days=1)
        conn.execute(EnergyRolledDay.__table__.insert(), days)
        # b1's lamp burned all of the last 30 days (the roll-up's hours_on): 200 h left of 4000 → due in 8 days.
        today = NOW.date()
        conn.execute(EnergyDay.__table__.insert(), [
            {"device_pk": pks["b1"], "day": today - timedelta(days=n), "year": (today - timedelta(days=n)).year,
             "month": (today - timedelta(days=n)).month, "period_s": 86400.0, "measured_s": 86400.0,
             "municipality": VMO, "school": "Gröndalsskolan", "room": "Sal 1", "agent_id": "b1", "device_id": "pj1",
             "kwh": 0.1, "hours_on": 24.0, "computed_at": T0} for n in range(1, 31)])
        unit_ids = [conn.execute(InventoryUnit.__table__.insert().values(**u)).inserted_primary_key[0] for u in UNITS]
        for kind, municipality, agent, opened, repaired in TICKETS:
            conn.execute(Ticket.__table__.insert().values(
                kind=kind, severity="error", state="resolved" if repaired else "open", agent_id=agent,
                device_id="pj1", title=kind, municipality=municipality, opened_at=opened, updated_at=opened,
                resolved_at=repaired, context={}, children=[]))
        for unit, opened, closed, warranty in ((0, _utc(2025, 4, 1), _utc(2025, 4, 11), True),
                                               (2, _utc(2025, 10, 1), None, False)):
            conn.execute(RepairCase.__table__.insert().values(
                unit_id=unit_ids[unit], opened_at=opened, opened_by="test", under_warranty=warranty,
                closed_at=closed, outcome="returned" if closed else None, previous_lifecycle="in_use"))
        conn.execute(ScheduleRun.__table__.insert().values(
            action="power_off", state="finished", started_at=_utc(2025, 10, 1, 16), kwh_saved=3.0,
            results=[{"agent_id": "a1", "device_id": "pj1", "result": "powered_off"},
                     {"agent_id": "b1", "device_id": "pj1", "result": "powered_off"},
                     {"agent_id": "a2", "device_id": "pj1", "result": "already_off"}]))
