"""Energy from stored history on SQLite and PostgreSQL: roll-ups per place, the job, previous_year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.energy import jobs as energy_jobs
from avfleet.controller.energy.models import EnergyDay
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.errors import InvalidInput
from avfleet.controller.settings import load_settings
from tests.controller.energy.support import BENQ_ON_W, BENQ_STANDBY_W, build_county, local

# Tuesday to Thursday of a school week; "now" is Friday 12:00 local, so Friday is today (on the fly).
DAYS = [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12), date(2026, 11, 13)]
NOW = local(date(2026, 11, 13), 12)
ON, SB = BENQ_ON_W / 1000, BENQ_STANDBY_W / 1000


@pytest.fixture
def service() -> EnergyService:
    return EnergyService(load_settings(demo=True, co2e_by_year={2025: {"g_co2e_per_kwh": 40.0}}), WattsResolver())


def by(items: list[dict], *keys: str) -> dict:
    return {tuple(i[k] for k in keys): i for i in items}


def test_room_school_municipality_county_add_up(engine: Engine, service: EnergyService) -> None:
    build_county(engine, DAYS)
    q = EnergyQuery("device", DAYS[0], DAYS[-1], "day")
    with engine.connect() as conn:
        devices = by(service.items(conn, q, NOW), "device_id", "period")
        rooms = service.items(conn, EnergyQuery("room", DAYS[0], DAYS[-1], "month"), NOW)
        schools = by(service.items(conn, EnergyQuery("school", DAYS[0], DAYS[-1], "month"), NOW), "school")
        munis = by(service.items(conn, EnergyQuery("municipality", DAYS[0], DAYS[-1], "year"), NOW), "municipality")
        county = service.items(conn, EnergyQuery("county", DAYS[0], DAYS[-1], "year"), NOW)
    # A plain projector on a full school day: 2 h on in school hours, 22 h networked standby.
    plain = devices[("habo-furu-a1-pj1", "2026-11-11")]
    assert plain["kwh"] == pytest.approx(2 * ON + 22 * SB, abs=1e-3)
    assert plain["kwh_school_hours"] == pytest.approx(2 * ON + 8 * SB, abs=1e-3)
    assert plain["kwh_left_on"] == 0 and plain["hours_on"] == 2 and plain["basis"] == "rated"
    assert plain["coverage"] == 1.0 and plain["level"] == "device" and plain["room"] == "A1"
    # The one left on: 00:00-07:00 (from the night before) and 16:00-24:00 outside school hours.
    night = devices[("jkpg-ek-a1-pj1", "2026-11-11")]
    assert night["hours_left_on"] == pytest.approx(7 + 7)
    assert night["hours_on"] == pytest.approx(7 + 2 + 8)
    assert night["kwh_left_on"] == pytest.approx(14 * ON, abs=1e-3)
    # Friday (today) runs to 12:00: its period is half a day and fully covered.
    today = devices[("habo-furu-a1-pj1", "2026-11-13")]
    assert today["kwh"] == pytest.approx(2 * ON + 10 * SB, abs=1e-3)
    assert today["coverage"] == 1.0
    # Every level sums the same devices.
    total = sum(i["kwh"] for i in devices.values())
    assert sum(i["kwh"] for i in rooms) == pytest.approx(total, abs=1e-2)
    assert len(rooms) == 4 and len(schools) == 3 and len(munis) == 2 and len(county) == 1
    assert sum(i["kwh"] for i in schools.values()) == pytest.approx(total, abs=1e-2)
    assert munis[("Habo",)]["kwh"] == pytest.approx(sum(i["kwh"] for k, i in devices.items()
                                                        if k[0].startswith("habo")), abs=1e-3)
    assert county[0]["kwh"] == pytest.approx(total, abs=1e-2)
    assert county[0]["period"] == "2026" and county[0]["municipality"] is None
    assert county[0]["co2e_kg"] == pytest.approx(county[0]["kwh"] * 59 / 1000, abs=1e-3)
    # The first day starts at the first transition (00:00 local) so the county is fully covered.
    assert county[0]["coverage"] == 1.0


def test_rolled_up_days_answer_the_same_as_on_the_fly(engine: Engine, service: EnergyService) -> None:
    build_county(engine, DAYS)
    settings = service.settings
    q = EnergyQuery("device", DAYS[0], DAYS[-1], "day")
    with engine.connect() as conn:
        fly = service.items(conn, q, NOW)
    written = energy_jobs.rollup(engine, settings, WattsResolver(), NOW)
    assert written == DAYS[:-1]  # finished days only; today stays on the fly
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(EnergyDay.__table__)).scalar_one()
        assert stored == 3 * 4
        rolled = service.items(conn, q, NOW)
    assert rolled == fly
    # A second run recomputes the last two finished days only.
    assert energy_jobs.rollup(engine, settings, WattsResolver(), NOW) == DAYS[1:3]


def test_previous_year_and_per_year_factor(engine: Engine, service: EnergyService) -> None:
    last_year = [d.replace(year=2025) for d in DAYS]  # Monday to Thursday 2025
    build_county(engine, last_year)
    with engine.connect() as conn:
        answer = service.answer(conn, EnergyQuery("county", DAYS[0], DAYS[-1], "year"), NOW)
    # 2026: the states of late 2025 simply held on (no transition since).
    assert [i["period"] for i in answer["items"]] == ["2026"]
    assert answer["factor"] == {"g_co2e_per_kwh": 59.0, "source": "IVL, Nordic electricity mix incl. trade, 2021–2023"}
    [prev] = answer["previous_year"]
    with engine.connect() as conn:
        [direct] = service.items(conn, EnergyQuery("county", last_year[0], last_year[-1], "year"), NOW)
    assert prev == direct and prev["period"] == "2025" and prev["kwh"] > 0
    assert prev["hours_on"] == pytest.approx(4 * 2 * 4 + 8 + 3 * (7 + 8))  # 3 nights left on, the last to midnight
    assert prev["co2e_kg"] == pytest.approx(prev["kwh"] * 40 / 1000, abs=1e-3)  # 2025's own factor
    assert {f["year"]: f["g_co2e_per_kwh"] for f in answer["factors"]} == {2025: 40.0, 2026: 59.0}


def test_gaps_and_mixed_basis_roll_up(engine: Engine, service: EnergyService) -> None:
    from tests.controller.energy.support import add_agent, add_device, add_history

    day = DAYS[1]
    with engine.begin() as conn:
        add_agent(conn, "a1", "Habo", "Furuskolan", "A1")
        measured = add_device(conn, "a1", "disp", {"protocol": "snmp"}, kind="display")  # no profile: measured only
        rated = add_device(conn, "a1", "pj")
        add_history(conn, measured, "a1", "disp", [(local(day, 0), "online", "on", 100.0),
                                                   (local(day, 12), "unreachable", "unknown", None)])
        add_history(conn, rated, "a1", "pj", [(local(day, 0), "online", "standby", None)])
    with engine.connect() as conn:
        [room] = service.items(conn, EnergyQuery("room", day, day, "day"), NOW)
        devices = by(service.items(conn, EnergyQuery("device", day, day, "day", agent_id="a1"), NOW), "device_id")
    assert devices[("disp",)]["basis"] == "measured" and devices[("disp",)]["coverage"] == 0.5
    assert devices[("pj",)]["basis"] == "rated"
    assert room["basis"] == "mixed"
    assert room["coverage"] == pytest.approx(0.75)
    assert room["kwh"] == pytest.approx(1.2 + 24 * SB, abs=1e-3)


def test_bad_queries_are_refused(service: EnergyService, engine: Engine) -> None:
    with engine.connect() as conn:
        for q in (EnergyQuery("county", DAYS[1], DAYS[0]), EnergyQuery("planet", DAYS[0], DAYS[1]),
                  EnergyQuery("school", DAYS[0], DAYS[1], agent_id="x"),
                  EnergyQuery("county", DAYS[0], DAYS[0] + timedelta(days=5000))):
            with pytest.raises(InvalidInput):
                service.answer(conn, q, NOW)


def test_the_future_is_empty(engine: Engine, service: EnergyService) -> None:
    build_county(engine, DAYS)
    with engine.connect() as conn:
        assert service.items(conn, EnergyQuery("county", date(2027, 1, 1), date(2027, 1, 31)), NOW) == []


def test_the_rollup_job_runs_under_its_lease_once_across_two_runners(engine: Engine) -> None:
    from avfleet.controller.jobs.registry import all_jobs
    from avfleet.controller.jobs.runner import JobRunner

    build_county(engine, DAYS)
    settings = load_settings(demo=True)
    [job] = [j for j in all_jobs(settings) if j.name == "energy.rollup"]
    # The job rolls up finished days before the real now: the constructed week is long past.
    first, second = JobRunner(engine, [job], holder="one"), JobRunner(engine, [job], holder="two")
    assert first.run_due(0.0) == ["energy.rollup"]
    assert second.run_due(0.0) == []  # the lease is the first runner's
    with engine.connect() as conn:
        days = set(conn.execute(sa.select(EnergyDay.__table__.c.day).distinct()).scalars())
    assert set(DAYS) <= days


def test_whole_months_answer_from_the_monthly_table_as_from_the_days(engine: Engine, service: EnergyService) -> None:
    from avfleet.controller.energy.models import EnergyMonth

    october = [date(2026, 10, d) for d in (1, 2, 5, 6, 7, 29, 30)]
    build_county(engine, october)
    q = EnergyQuery("school", date(2026, 10, 1), date(2026, 10, 31), "month")
    with engine.connect() as conn:
        fly = service.items(conn, q, NOW)
    for _ in range(3):  # catch up from 1 October, 31 days per run
        energy_jobs.rollup(engine, service.settings, WattsResolver(), NOW, max_days=31)
    with engine.connect() as conn:
        months = conn.execute(sa.select(sa.func.count()).select_from(EnergyMonth.__table__)
                              .where(EnergyMonth.__table__.c.month == 10)).scalar_one()
        assert months == 4  # one row per device
        monthly = service.items(conn, q, NOW)
    assert [(i["school"], i["period"]) for i in monthly] == [(i["school"], i["period"]) for i in fly]
    for a, b in zip(monthly, fly, strict=True):
        assert a["kwh"] == pytest.approx(b["kwh"], abs=1e-3) and a["hours_left_on"] == pytest.approx(b["hours_left_on"])
        assert a["coverage"] == pytest.approx(b["coverage"], abs=1e-4) and a["basis"] == b["basis"]


def test_a_study_day_in_the_school_calendar_has_no_school_hours(engine: Engine, service: EnergyService) -> None:
    """The school calendars count: on Habo's study day the projector's use is no school-hours energy."""
    from avfleet.controller.calendars.service import replace_calendar
    from avfleet.controller.db import write_transaction

    build_county(engine, DAYS)
    with write_transaction(engine) as conn:
        replace_calendar(conn, "Habo", None, [{"start": DAYS[1], "end": DAYS[1], "kind": "study_day",
                                               "name": "Studiedag"}])
    q = EnergyQuery("device", DAYS[0], DAYS[-1], "day")
    with engine.connect() as conn:
        devices = by(service.items(conn, q, NOW), "device_id", "period")
    study = devices[("habo-furu-a1-pj1", "2026-11-11")]
    assert study["kwh_school_hours"] == 0
    assert study["kwh_left_on"] == pytest.approx(2 * ON, abs=1e-3)  # on outside school hours: left on
    normal = devices[("habo-furu-a1-pj1", "2026-11-10")]
    assert normal["kwh_school_hours"] > 0 and normal["kwh_left_on"] == 0
