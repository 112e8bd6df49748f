"""A projector behind a PDU outlet (`feeds`): the outlet's watts are its measured energy, on SQLite and
PostgreSQL. The PDU's status is written as the ingest keeps it, the energy.outlets job notes the fed
outlet's watts from it, and the figures (on the fly and rolled up) count them instead of rated watts."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.agent.config import PollingConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.controller.db import create_db_engine
from avfleet.controller.energy import jobs as energy_jobs
from avfleet.controller.energy.models import OutletReading
from avfleet.controller.energy.service import EnergyQuery, EnergyService
from avfleet.controller.energy.watts import WattsResolver
from avfleet.controller.fleet.models import Device
from avfleet.controller.fleet.service import FleetService
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import load_settings
from avfleet.profiles.library import load_library
from avfleet.protocols.device_url import SnmpTarget
from avfleet.protocols.mqtt.payloads import StateMessage, parse_agent_message
from avfleet.protocols.mqtt.topics import parse_topic, state_topic
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.poller import SnmpPoller
from avfleet.protocols.status import Availability, DeviceStatus, Identity, Kind, Power
from tests.agent.test_coordinator import Clock, Collect
from tests.controller.energy.support import BENQ_ON_W, BENQ_STANDBY_W, add_agent, add_device, add_history, local
from tests.protocols.snmp.conftest import snmpsim_runner
from tests.protocols.snmp.recordings import snmprec_dir

DAY = date(2026, 11, 11)  # a Wednesday, finished by NOW
NOW = local(DAY + timedelta(days=1), 12)
PDU_ON_W, PDU_STANDBY_W = 180.0, 0.5  # what outlet 3 measures; the BenQ profile rates 270 W and 2.0 W
AGENT = "rum-a1"


def pdu_status(watts: float | None, feeds: str | None = "pj1") -> dict:
    outlets = [{"index": 1, "power_w": 40.0}, {"index": 3, "power_w": watts, "feeds": feeds}]
    return {"protocol": "snmp", "kind": "pdu", "outlets": outlets}


def report(engine: Engine, pdu_pk: int, at: datetime, watts: float | None, availability: str = "online",
           feeds: str | None = "pj1") -> int:
    """The PDU's current status as the ingest leaves it, then one run of the energy.outlets job."""
    with engine.begin() as conn:
        conn.execute(Device.__table__.update().where(Device.__table__.c.id == pdu_pk).values(
            status=pdu_status(watts, feeds), observed_at=at, availability=availability))
    return energy_jobs.outlets(engine)


def build(engine: Engine) -> int:
    """The projector: standby, on 08:00-10:00, standby (its own state says nothing of watts)."""
    with engine.begin() as conn:
        add_agent(conn, AGENT, "Jönköping", "Ekhagens skola", "A1")
        pj = add_device(conn, AGENT, "pj1")
        pdu = add_device(conn, AGENT, "pdu1", {"protocol": "snmp"}, kind="pdu")
        add_history(conn, pj, AGENT, "pj1", [(local(DAY - timedelta(days=1), 23), "online", "standby", None),
                                             (local(DAY, 8), "online", "on", None),
                                             (local(DAY, 10), "online", "standby", None)])
    return pdu


def device_day(engine: Engine) -> dict:
    service = EnergyService(load_settings(demo=True), WattsResolver())
    with engine.connect() as conn:
        [item] = [i for i in service.items(conn, EnergyQuery("device", DAY, DAY, "day"), NOW)
                  if i["device_id"] == "pj1"]
    return item


def rolled(engine: Engine) -> dict:
    energy_jobs.rollup(engine, load_settings(demo=True), WattsResolver(), NOW)
    return device_day(engine)


def test_outlet_watts_are_the_fed_projectors_measured_energy(engine: Engine) -> None:
    pdu = build(engine)
    written = [report(engine, pdu, local(DAY - timedelta(days=1), 23), PDU_STANDBY_W),
               report(engine, pdu, local(DAY, 8), PDU_ON_W),
               report(engine, pdu, local(DAY, 9), PDU_ON_W + 0.6),  # a wobble inside the dead band
               report(engine, pdu, local(DAY, 7), PDU_ON_W + 30),  # older than the last one noted
               report(engine, pdu, local(DAY, 10), PDU_STANDBY_W)]
    assert written == [1, 1, 0, 0, 1]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(OutletReading.__table__.c.device_id, OutletReading.__table__.c.pdu_id,
                                      OutletReading.__table__.c.outlet)).all()
    assert {tuple(r) for r in rows} == {("pj1", "pdu1", 3)}  # outlet 1 feeds nothing: not noted
    measured = (2 * PDU_ON_W + 22 * PDU_STANDBY_W) / 1000
    for item in (device_day(engine), rolled(engine)):  # on the fly, then from energy_daily
        assert item["basis"] == "measured" and item["coverage"] == 1.0
        assert item["kwh"] == pytest.approx(measured, abs=1e-6)
        assert item["kwh"] != pytest.approx((2 * BENQ_ON_W + 22 * BENQ_STANDBY_W) / 1000, abs=1e-3)
        assert item["hours_on"] == pytest.approx(2) and item["kwh_standby"] == pytest.approx(22 * PDU_STANDBY_W / 1000)


def test_half_a_day_without_pdu_readings_is_mixed(engine: Engine) -> None:
    pdu = build(engine)
    with engine.begin() as conn:
        pj = conn.execute(sa.select(Device.__table__.c.id).where(Device.__table__.c.device_id == "pj1")).scalar_one()
        add_history(conn, pj, AGENT, "pj1", [(local(DAY, 14), "online", "on", None),
                                             (local(DAY, 15), "online", "standby", None)])
    report(engine, pdu, local(DAY - timedelta(days=1), 23), PDU_STANDBY_W)
    report(engine, pdu, local(DAY, 8), PDU_ON_W)
    report(engine, pdu, local(DAY, 10), PDU_STANDBY_W)
    if engine.dialect.name == "sqlite":
        # The outlet no longer named as feeding pj1 (its config changed) ends the measurement too.
        assert report(engine, pdu, local(DAY, 12), 60.0, feeds=None) == 1
    else:
        assert report(engine, pdu, local(DAY, 12), None, availability="unreachable") == 1  # measured no more
    # 00-12 measured (2 h on, 10 h standby), 12-24 rated (1 h on, 11 h networked standby): no gap.
    expected = (2 * PDU_ON_W + 10 * PDU_STANDBY_W + 1 * BENQ_ON_W + 11 * BENQ_STANDBY_W) / 1000
    for item in (device_day(engine), rolled(engine)):
        assert item["basis"] == "mixed" and item["coverage"] == 1.0
        assert item["kwh"] == pytest.approx(expected, abs=1e-6)


async def test_a_real_pdu_recording_polled_over_snmp_measures_the_fed_projector(tmp_path: Path) -> None:
    """snmpsim serves the Raritan PX2 recording (outlet 3 draws 68 W); the agent's poller and
    coordinator (feeds {3: pj1}) build the PDU's state, the controller's ingest stores it, the job notes
    outlet 3 for pj1, and pj1's figures (on by its own PJLink state) are measured at 68 W, not 270 W."""
    recording = snmprec_dir() / "raritan-pdu_px2.snmprec"
    sim = snmpsim_runner()
    sim.add_file(recording.stem, recording)
    context = SnmpEngineContext()
    try:
        sim.start()
        poller = SnmpPoller("pdu1", SnmpTarget(host=sim.host, port=sim.port, community=recording.stem),
                            engine=context, library=load_library())
        out = Collect()
        coordinator = DeviceCoordinator("pdu1", poller, out, polling=PollingConfig(), interval_s=10.0,
                                        kind=Kind.pdu, clock=Clock(), rng=random.Random(1), feeds={3: "pj1"})
        coordinator.handle(await poller.poll())
    finally:
        context.close()
        sim.cleanup()
    [pdu] = out.states
    at = local(DAY, 8)
    projector = DeviceStatus(device_id="pj1", kind=Kind.projector, protocol="pjlink",
                             availability=Availability.online, power=Power.on,
                             identity=Identity(manufacturer="BenQ", model="MW560", pjlink_class="1"))
    url = f"sqlite:///{tmp_path / 'avfleet.db'}"
    db = create_db_engine(url)
    upgrade(db)
    try:
        with db.begin() as conn:
            add_agent(conn, AGENT, "Jönköping", "Ekhagens skola", "A1")
            messages = [StateMessage(agent_id=AGENT, seq=i + 1, ts=at, **s.model_copy(update={"observed_at": at})
                                     .model_dump()) for i, s in enumerate((pdu, projector))]
            FleetService().apply(conn, [parse_agent_message(parse_topic(state_topic(AGENT, m.device_id)),
                                                            m.model_dump_json().encode()) for m in messages], now=at)
        assert energy_jobs.outlets(db) == 1
        with db.connect() as conn:
            [(device_id, outlet, watts)] = conn.execute(sa.select(
                OutletReading.__table__.c.device_id, OutletReading.__table__.c.outlet,
                OutletReading.__table__.c.power_w)).all()
        assert (device_id, outlet, watts) == ("pj1", 3, 68.0)
        service = EnergyService(load_settings(demo=True), WattsResolver())
        with db.connect() as conn:
            [item] = [i for i in service.items(conn, EnergyQuery("device", DAY, DAY, "day"), local(DAY, 10))
                      if i["device_id"] == "pj1"]
        assert item["basis"] == "measured" and item["hours_on"] == pytest.approx(2)
        assert item["kwh"] == pytest.approx(2 * 68.0 / 1000, abs=1e-6)
    finally:
        db.dispose()


def test_todays_kept_figures_take_new_outlet_readings_within_the_lag(engine: Engine, monkeypatch) -> None:
    from avfleet.controller.energy import today as today_module

    pdu = build(engine)
    report(engine, pdu, local(DAY - timedelta(days=1), 23), PDU_STANDBY_W)
    service = EnergyService(load_settings(demo=True), WattsResolver())
    query = EnergyQuery("device", DAY, DAY, "day", agent_id=AGENT, device_id="pj1")

    def today(svc: EnergyService, now: datetime) -> dict:
        with engine.connect() as conn:
            [item] = svc.items(conn, query, now)
        return item

    today(service, local(DAY, 9))  # kept: 08-09 on, measured at the standby outlet reading
    report(engine, pdu, local(DAY, 8), PDU_ON_W)  # noted a moment later, stamped 08:00
    monkeypatch.setattr(today_module, "OUTLETS_LAG_S", 0.0)
    later = local(DAY, 9, 30)
    kept = today(service, later)
    assert kept["kwh"] == pytest.approx(today(EnergyService(load_settings(demo=True), WattsResolver()), later)["kwh"])
    assert kept["kwh"] == pytest.approx((8 * PDU_STANDBY_W + 1.5 * PDU_ON_W) / 1000, abs=1e-6)
