"""The county answer's short cuts give the detailed sum's numbers; agent outages are gaps.

The detailed sum is `rollup.days_figures` over the whole range from the history, per device and day,
added up here; the answer under test reads energy_monthly (whole and partial months, days taken
away again), energy_daily, and today's kept figures carried forward (energy/today.py).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.energy import jobs as energy_jobs
from avfleet.controller.energy.compute import Figures, Reading, Watts
from avfleet.controller.energy.models import AgentOutage
from avfleet.controller.energy.rollup import DeviceInfo, day_figures, days_between, days_figures, load_devices
from avfleet.controller.energy.school_days import parse_school_hours
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import Agent
from avfleet.controller.settings import load_settings
from tests.controller.energy.support import BENQ_STANDBY_W, add_agent, add_device, add_history, build_county, local

# School days from late October into November; "now" is Friday 13 November 12:00 (today on the fly).
DAYS = [d for d in days_between(date(2026, 10, 26), date(2026, 11, 13)) if d.weekday() < 5]
NOW = local(date(2026, 11, 13), 12)
FIELDS = ("kwh", "kwh_school_hours", "kwh_left_on", "kwh_standby", "hours_on", "hours_left_on")


def detailed(engine: Engine, start: date, end: date, now) -> Figures:
    """The county's figures of [start, end] from the history, device by device and day by day."""
    hours = parse_school_hours(load_settings(demo=True).school_hours)
    with engine.connect() as conn:
        devices = load_devices(conn, WattsResolver())
        days = [d for d in days_between(start, end) if d >= DAYS[0] and d <= now.date()]
        total = Figures()
        for per_device in days_figures(conn, devices, days, now, hours).values():
            for f in per_device.values():
                total.add(f)
    return total


def same(item: dict, f: Figures) -> None:
    for name in FIELDS:
        assert item[name] == pytest.approx(getattr(f, name), abs=6e-3), name  # hours are rounded to 0.01
    assert item["coverage"] == pytest.approx(f.coverage, abs=1e-4)
    assert item["basis"] == f.basis


def test_figures_add_every_field() -> None:
    one = Figures(**{name: 1.0 for name in Figures.__dataclass_fields__})
    total = Figures()
    total.add(one)
    total.add(one)
    total.add(one, -1.0)
    assert total == one


def test_county_year_answers_as_the_detailed_sum(engine: Engine) -> None:
    build_county(engine, DAYS)
    settings = load_settings(demo=True)
    energy_jobs.rollup(engine, settings, WattsResolver(), NOW, max_days=31)
    service = EnergyService(settings, WattsResolver())
    with engine.connect() as conn:
        year = service.answer(conn, EnergyQuery("county", date(2026, 1, 1), date(2026, 12, 31), "year"), NOW)
        months = service.items(conn, EnergyQuery("county", date(2026, 1, 1), date(2026, 12, 31), "month"), NOW)
        # A partial November: 1-2 November rolled (weekend), taken away from the month again.
        part = service.items(conn, EnergyQuery("county", date(2026, 11, 3), date(2026, 11, 13), "month"), NOW)
        # More days outside than in: the days are summed, not the month.
        late = service.items(conn, EnergyQuery("county", date(2026, 10, 28), date(2026, 10, 29), "year"), NOW)
    [item] = year["items"]
    same(item, detailed(engine, date(2026, 1, 1), date(2026, 12, 31), NOW))
    assert [m["period"] for m in months] == ["2026-10", "2026-11"]
    same(months[0], detailed(engine, date(2026, 10, 1), date(2026, 10, 31), NOW))
    same(months[1], detailed(engine, date(2026, 11, 1), date(2026, 11, 30), NOW))
    same(part[0], detailed(engine, date(2026, 11, 3), date(2026, 11, 13), NOW))
    same(late[0], detailed(engine, date(2026, 10, 28), date(2026, 10, 29), NOW))
    assert year["previous_year"] == []  # nothing known of 2025


def test_todays_kept_figures_follow_new_and_late_history(engine: Engine) -> None:
    build_county(engine, DAYS)
    service = EnergyService(load_settings(demo=True), WattsResolver())
    today = DAYS[-1]
    q = EnergyQuery("county", today, today, "day")
    with engine.connect() as conn:
        pk = conn.execute(sa.text("SELECT id FROM devices WHERE device_id = 'habo-furu-a1-pj1'")).scalar_one()
        [first] = service.items(conn, q, NOW)
    same(first, detailed(engine, today, today, NOW))
    # Switched on at 12:30; an hour later the kept figures are carried forward, not recomputed.
    with engine.begin() as conn:
        add_history(conn, pk, "habo-furu-a1", "habo-furu-a1-pj1",
                    [(local(today, 12, 30), "online", "on", None)])
    later = NOW + timedelta(hours=1)
    with engine.connect() as conn:
        [carried] = service.items(conn, q, later)
    same(carried, detailed(engine, today, today, later))
    # A row arriving late for the stretch already counted (an outbox replay): computed afresh.
    with engine.begin() as conn:
        add_history(conn, pk, "habo-furu-a1", "habo-furu-a1-pj1",
                    [(local(today, 11), "unreachable", "unknown", None)])
    even_later = later + timedelta(minutes=10)
    with engine.connect() as conn:
        [fresh] = service.items(conn, q, even_later)
    same(fresh, detailed(engine, today, today, even_later))
    assert fresh["coverage"] < carried["coverage"]


def test_an_agent_out_three_hours_is_a_gap_in_its_devices_day() -> None:
    day = date(2026, 11, 11)
    watts = Watts(on=300.0, standby=0.5, networked_standby=2.0)
    device = DeviceInfo(1, "ag", "pj", "Habo", "Furuskolan", "A1", watts, None)
    history = {1: [Reading(local(day, 0), "online", "standby")]}
    outages = {"ag": [(local(day, 10), local(day, 13))], "other": [(local(day, 0), local(day, 23))]}
    far = local(day + timedelta(days=3), 0)
    [f] = day_figures([device], history, day, far, parse_school_hours("07:00-17:00"), None, outages).values()
    assert f.coverage == pytest.approx(21 / 24)
    assert f.kwh == pytest.approx(21 * 2.0 / 1000)  # no kWh for the three hours
    assert f.kwh_school_hours == pytest.approx(7 * 2.0 / 1000)  # 07-10 and 13-17


def test_the_outages_job_notes_lost_and_stopped_agents_and_the_answer_has_the_gap(engine: Engine) -> None:
    day = date(2026, 11, 11)
    with engine.begin() as conn:
        add_agent(conn, "a1", "Habo", "Furuskolan", "A1")
        add_agent(conn, "a2", "Habo", "Furuskolan", "A2")
        pk = add_device(conn, "a1", "pj")
        add_history(conn, pk, "a1", "pj", [(local(day, 0), "online", "standby", None)])
        agents = Agent.__table__
        conn.execute(agents.update().where(agents.c.agent_id == "a1").values(last_seen=local(day, 10)))
        conn.execute(agents.update().where(agents.c.agent_id == "a2")
                     .values(state="offline", last_seen=local(day, 9)))
    outages = AgentOutage.__table__
    with engine.begin() as conn:
        # 10:05: a1 silent for 5 minutes (lost after 120 s), a2 stopped.
        assert energy_jobs.note_outages(conn, local(day, 10, 5), 120) == 2
        assert energy_jobs.note_outages(conn, local(day, 10, 6), 120) == 0  # once
        rows = {r.agent_id: r for r in conn.execute(sa.select(outages))}
    assert rows["a1"].since == local(day, 10) and rows["a1"].until is None and rows["a1"].reason == "lost"
    assert rows["a2"].reason == "offline"
    with engine.begin() as conn:  # a1 back: its online status was sent at 13:00
        conn.execute(agents.update().where(agents.c.agent_id == "a1")
                     .values(state="online", state_ts=local(day, 13), last_seen=local(day, 13, 1)))
        assert energy_jobs.note_outages(conn, local(day, 13, 2), 120) == 1
        until = conn.execute(sa.select(outages.c.until).where(outages.c.agent_id == "a1")).scalar_one()
    assert until == local(day, 13)
    service = EnergyService(load_settings(demo=True), WattsResolver())
    with engine.connect() as conn:
        [item] = service.items(conn, EnergyQuery("device", day, day, "day", agent_id="a1"),
                               local(day + timedelta(1), 12))
    assert item["coverage"] == pytest.approx(21 / 24, abs=1e-4)
    assert item["kwh"] == pytest.approx(21 * BENQ_STANDBY_W / 1000, abs=1e-3)


def test_a_few_devices_history_is_asked_for_by_their_keys_with_the_same_readings(engine: Engine, monkeypatch) -> None:
    """load_history names up to FEW_DEVICES devices in its queries (one device's chart reads its own
    rows); above that it reads every device's and keeps the wanted ones: the same readings either way."""
    from avfleet.controller.energy import rollup

    pks = build_county(engine, DAYS)
    start, end = local(DAYS[2], 0), local(DAYS[-1], 12)
    one = pks["jkpg-ek-a1-pj1"]
    with engine.connect() as conn:
        named = rollup.load_history(conn, sorted(pks.values()), start, end)
        alone = rollup.load_history(conn, [one], start, end)
        monkeypatch.setattr(rollup, "FEW_DEVICES", 0)
        unnamed = rollup.load_history(conn, sorted(pks.values()), start, end)
        alone_unnamed = rollup.load_history(conn, [one], start, end)
    assert len(named) == 4 and named == unnamed
    assert alone == alone_unnamed == {one: named[one]}
    assert named[one][0].observed_at < start <= named[one][1].observed_at  # the state before the window first


def test_todays_figures_count_a_row_committed_late_with_a_lower_id_and_survive_a_device_reload(
        engine: Engine, monkeypatch) -> None:
    from avfleet.controller.energy import service as service_module
    from avfleet.controller.energy import today as today_module
    from avfleet.controller.fleet.models import DeviceTransition

    build_county(engine, DAYS)
    fresh_calls = []
    original = today_module.TodayFigures._fresh
    monkeypatch.setattr(today_module.TodayFigures, "_fresh",
                        lambda self, *a, **k: fresh_calls.append(1) or original(self, *a, **k))
    monkeypatch.setattr(service_module, "DEVICES_TTL_S", 0.0)  # the device list looked up on every query
    service = EnergyService(load_settings(demo=True), WattsResolver())
    today = DAYS[-1]
    q = EnergyQuery("county", today, today, "day")
    history = DeviceTransition.__table__
    with engine.connect() as conn:
        pk = conn.execute(sa.text("SELECT id FROM devices WHERE device_id = 'habo-furu-a1-pj1'")).scalar_one()
        top = conn.execute(sa.select(sa.func.max(history.c.id))).scalar_one()
        service.items(conn, q, NOW)

    def row(row_id: int, hh: int, mm: int, power: str) -> dict:
        at = local(today, hh, mm)
        return {"id": row_id, "device_pk": pk, "agent_id": "habo-furu-a1", "device_id": "habo-furu-a1-pj1",
                "seq": row_id, "replayed": False, "observed_at": at, "received_at": at, "availability": "online",
                "power": power, "power_w": None, "active_faults": ""}

    # Two ingest transactions: the one holding the lower id commits after the higher one was read.
    with engine.begin() as conn:
        conn.execute(history.insert(), [row(top + 10, 12, 30, "on")])
    later = NOW + timedelta(hours=1)
    with engine.connect() as conn:
        service.items(conn, q, later)
    with engine.begin() as conn:
        conn.execute(history.insert(), [row(top + 5, 13, 15, "standby")])
    even_later = later + timedelta(hours=1)
    with engine.connect() as conn:
        [item] = service.items(conn, q, even_later)
    same(item, detailed(engine, today, today, even_later))
    assert len(fresh_calls) == 1, "an unchanged device list looked up again computed today afresh"
    # A device moved to another room: its list is a new one, and today is computed afresh.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE agents SET room = 'A2' WHERE agent_id = 'habo-furu-a1'"))
    with engine.connect() as conn:
        service.items(conn, q, even_later + timedelta(minutes=1))
    assert len(fresh_calls) == 2


def test_devices_that_held_their_state_all_day_get_the_figures_compute_gives_each() -> None:
    from avfleet.controller.energy.compute import compute
    from avfleet.controller.energy.school_days import local_day_bounds, school_window

    day = date(2026, 11, 14)  # a Saturday: most projectors held their state all day
    start, end = local_day_bounds(day)
    rated, other = Watts(on=300, standby=0.5, networked_standby=2.0), Watts(on=250, standby=0.4)
    devices, history = [], {}
    for pk, (watts, readings) in enumerate([
            (rated, [Reading(start - timedelta(days=1), "online", "standby")]),
            (rated, [Reading(start - timedelta(days=2), "online", "standby")]),  # the same kind, older
            (rated, [Reading(start - timedelta(hours=3), "online", "on")]),  # left on since Friday
            (other, [Reading(start - timedelta(days=1), "online", "standby")]),
            (rated, [Reading(start - timedelta(days=1), "online", "standby", 1.5)]),  # measured
            (rated, [Reading(start, "online", "on")]),  # a transition exactly at midnight
            (rated, [Reading(start - timedelta(days=1), "online", "standby"),
                     Reading(local(day, 19), "online", "on")]),  # switched on in the evening
            (rated, []),  # nothing known
            (rated, [Reading(start - timedelta(days=1), "unreachable", "unknown")])], start=1):
        agent = "lost-agent" if pk == 2 else f"agent-{pk}"
        devices.append(DeviceInfo(pk, agent, f"pj{pk}", "Habo", "Furuskolan", "A1", watts, None))
        history[pk] = readings
    outages = {"lost-agent": [(local(day, 9), local(day, 12))]}
    hours = parse_school_hours("07:00-17:00")
    figures = day_figures(devices, history, day, end + timedelta(days=1), hours, None, outages)
    for dev in devices:
        expected = compute(history[dev.pk], start, end, watts=dev.watts, school=None,
                           outages=outages.get(dev.agent_id, ()))
        assert figures[dev.pk] == expected, dev.device_id
    assert figures[1] is not figures[2]  # one object per device: adding to one leaves the other
    # On a school day the school hours split the held state too.
    monday = date(2026, 11, 16)
    m_start, m_end = local_day_bounds(monday)
    held = {1: [Reading(m_start - timedelta(hours=1), "online", "on")],
            2: [Reading(m_start - timedelta(hours=5), "online", "on")]}
    school_day = day_figures(devices[:2], held, monday, m_end, hours, None, {})
    assert school_day[1] == compute(held[1], m_start, m_end, watts=rated, school=school_window(monday, hours))
    assert school_day[1].kwh_school_hours > 0 and school_day[2] == school_day[1]
