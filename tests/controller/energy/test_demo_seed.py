"""The demo's energy history: 13 months, marked, school-day use, breaks, nights left on; rolled up fast."""

from __future__ import annotations

import time
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.energy.rollup import days_between, first_history_day, rollup_days
from avfleet.controller.energy.school_days import parse_school_hours
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import DeviceTransition
from avfleet.controller.settings import load_settings
from avfleet.demo.energy import DEMO_SEQ, SeedDevice, seed_energy_history
from tests.controller.energy.support import add_agent, add_device, local

NOW = local(date(2026, 12, 1), 20)


def test_demo_history_shows_use_breaks_and_nights_left_on(tmp_path) -> None:
    from avfleet.controller.db import create_db_engine
    from avfleet.controller.migrate import upgrade

    engine: Engine = create_db_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine)
    devices = []
    with engine.begin() as conn:
        for n in range(20):
            agent = f"ag{n}"
            add_agent(conn, agent, "Habo" if n % 2 else "Jönköping", f"School {n % 4}", f"R{n}")
            devices.append(SeedDevice(add_device(conn, agent, f"{agent}-pj1"), agent, f"{agent}-pj1", "projector",
                                      "Habo" if n % 2 else "Jönköping", f"School {n % 4}"))
    started = time.monotonic()
    written = seed_energy_history(engine, devices, NOW)
    with write_transaction(engine) as conn:
        first = first_history_day(conn)
        days = days_between(first, NOW.date() - timedelta(days=1))
        rollup_days(conn, days, NOW, parse_school_hours("07:00-17:00"), WattsResolver())
    elapsed = time.monotonic() - started
    assert elapsed < 20, elapsed  # 20 devices; the demo's ~80 take a few seconds
    assert 380 <= len(days) <= 400
    h = DeviceTransition.__table__.c
    with engine.connect() as conn:
        marked = conn.execute(sa.select(sa.func.count()).where(h.seq == DEMO_SEQ, h.replayed.is_(True))).scalar_one()
        assert marked == written > 20 * 200 * 4
        service = EnergyService(load_settings(demo=True), WattsResolver())
        months = {i["period"]: i for i in service.items(
            conn, EnergyQuery("county", date(2025, 12, 1), date(2026, 11, 30), "month"), NOW)}
        answer = service.answer(conn, EnergyQuery("municipality", date(2026, 11, 1), date(2026, 11, 30), "month"),
                                NOW)
    assert months["2026-07"]["hours_on"] == 0  # sommarlov: no use
    assert months["2026-10"]["hours_on"] > 20 * 15  # school months: lessons every school day
    assert sum(m["hours_left_on"] for m in months.values()) > 0  # some nights left on
    assert all(m["coverage"] > 0.95 for m in months.values())
    assert {i["municipality"] for i in answer["previous_year"]} == {"Habo", "Jönköping"}
    assert all(i["kwh"] > 0 for i in answer["previous_year"])  # 13 months: last November is there too
    engine.dispose()
