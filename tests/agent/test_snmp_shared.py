"""One pysnmp engine and one profile library per agent, however many SNMP devices it polls.

The agent runs against a real Mosquitto and a real snmpsim serving the repository's recordings of
real devices. Spies count the constructions in the whole process (they wrap the real classes and
change no behaviour): every pysnmp `SnmpEngine` and every `ProfileLibrary.load`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

import avfleet.protocols.snmp.client as snmp_client
from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.snmp_sim import SnmpSimRunner
from avfleet.profiles.library import ProfileLibrary
from tests.agent.helpers import Recorder, agent_config, agent_topic
from tests.protocols.snmp.conftest import snmpsim_runner
from tests.protocols.snmp.recordings import recording_files
from tests.support.mosquitto import MosquittoBroker

COPIES = 2  # each recording served under two communities: 8 SNMP devices on one snmpsim


class Spies:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engines = 0
        self.library_loads = 0
        real_engine = snmp_client.SnmpEngine
        real_load = ProfileLibrary.load.__func__

        spies = self

        class CountingEngine(real_engine):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs) -> None:
                spies.engines += 1
                super().__init__(*args, **kwargs)

        def counting_load(cls, *args, **kwargs):
            spies.library_loads += 1
            return real_load(cls, *args, **kwargs)

        monkeypatch.setattr(snmp_client, "SnmpEngine", CountingEngine)
        monkeypatch.setattr(ProfileLibrary, "load", classmethod(counting_load))


@pytest.fixture(scope="module")
def recordings_sim() -> Iterator[SnmpSimRunner]:
    runner = snmpsim_runner()
    for path in recording_files():
        for copy in range(COPIES):
            runner.add_file(f"{path.stem}-{copy}", path)
    try:
        runner.start()
        yield runner
    finally:
        runner.cleanup()


async def _run_until_states(agent: Agent, recorder: Recorder, count: int) -> None:
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.ready.wait(), 20)
        await recorder.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= count, 60,
                                what=f"{count} device states")
    finally:
        agent.stop()
        await asyncio.wait_for(task, 20)


async def test_agent_with_many_snmp_devices_builds_one_engine_and_loads_profiles_once(
    mosquitto: MosquittoBroker, recordings_sim: SnmpSimRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    urls = [f"snmp://{c}@{recordings_sim.host}:{recordings_sim.port}" for c in recordings_sim.communities]
    async with EmulatedFleet.from_count(1, warmup_s=0.3, cooldown_s=0.3) as projectors:
        config = agent_config("a-snmp-shared", mosquitto.url, urls + projectors.urls(), tmp_path / "outbox.sqlite",
                              polling={"interval_s": 1.0})
        recorder = Recorder(mosquitto.port, agent_topic("a-snmp-shared")).start()
        agent = Agent(config)
        await _run_until_states(agent, recorder, len(urls) + 1)
        recorder.stop()

    states = {m.topic.rsplit("/", 2)[1]: m.data for m in recorder.snapshot() if m.topic.endswith("/state")}
    snmp_states = [s for s in states.values() if s["protocol"] == "snmp"]
    assert len(snmp_states) == len(urls) == 4 * COPIES
    assert all(s["availability"] == "online" for s in snmp_states), [s["detail"] for s in snmp_states]
    # The whole process built one pysnmp engine and read the profile files once, for 8 devices.
    assert spies.engines == 1
    assert spies.library_loads == 1
    assert agent.snmp is not None and agent.snmp.engine.engines_built == 1 and agent.snmp.library_loads == 1
    snmp_pollers = [c.poller for c in agent.coordinators.values() if c.poller.target.scheme == "snmp"]
    assert len(snmp_pollers) == len(urls)
    assert all(p.library is agent.snmp.library for p in snmp_pollers)
    # Shutdown closed the shared engine once the pollers were done with it.
    assert agent.snmp.engine._engine is None


async def test_agent_without_snmp_devices_builds_no_engine_and_loads_no_profiles(
    mosquitto: MosquittoBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spies = Spies(monkeypatch)
    async with EmulatedFleet.from_count(2, warmup_s=0.3, cooldown_s=0.3) as projectors:
        config = agent_config("a-pjlink-only", mosquitto.url, projectors.urls(), tmp_path / "outbox.sqlite")
        recorder = Recorder(mosquitto.port, agent_topic("a-pjlink-only")).start()
        agent = Agent(config)
        await _run_until_states(agent, recorder, 2)
        recorder.stop()
    assert agent.snmp is None
    assert (spies.engines, spies.library_loads) == (0, 0)
