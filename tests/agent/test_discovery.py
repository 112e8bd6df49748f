"""Discovery on loopback: PJLink Class 2 search against the emulator's UDP responder, mDNS browsing
(zeroconf) of a service registered on 127.0.0.1, the broker found by mDNS, and periodic discovery."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from tests.agent.helpers import Recorder, agent_config, agent_topic, avfleet_command
from tests.support.mosquitto import MosquittoBroker


@pytest.fixture
async def zeroconf():
    azc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    registered: list[ServiceInfo] = []

    async def register(service_type: str, name: str, port: int, **props: str) -> None:
        info = ServiceInfo(service_type, f"{name}.{service_type}", addresses=[socket.inet_aton("127.0.0.1")],
                           port=port, properties=props, server=f"{name.replace(' ', '-')}.local.")
        await azc.async_register_service(info)
        registered.append(info)

    try:
        yield register
    finally:
        for info in registered:
            await azc.async_unregister_service(info)
        await azc.async_close()


async def test_discover_command_prints_search_answers_and_mdns_services(zeroconf) -> None:
    async with ProjectorEmulator(ProjectorConfig(pjlink_class=2, mac="02:aa:bb:cc:dd:01")) as emu:
        await zeroconf("_pjlink._tcp.local.", "Room A12 projector", emu.port, model="EMU-1000")
        proc = await asyncio.create_subprocess_exec(
            *avfleet_command(), "discover", "--target", f"127.0.0.1:{emu.udp_port}", "--interface", "127.0.0.1",
            "--timeout", "3", "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    found = [json.loads(line) for line in out.decode().splitlines()]
    search = [f for f in found if f["source"] == "pjlink-search"]
    mdns = [f for f in found if f["source"] == "mdns"]
    assert [(f["host"], f["mac"]) for f in search] == [("127.0.0.1", "02:aa:bb:cc:dd:01")]
    assert [(f["host"], f["port"], f["name"], f["url"]) for f in mdns] == [
        ("127.0.0.1", emu.port, "Room A12 projector", f"pjlink://127.0.0.1:{emu.port}")]


async def test_agent_finds_the_broker_by_mdns(zeroconf, mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    await zeroconf("_mqtt._tcp.local.", "avfleet broker", mosquitto.port)
    recorder = Recorder(mosquitto.port, agent_topic("a-mdns")).start()
    async with EmulatedFleet.from_count(1) as fleet:
        config = agent_config("a-mdns", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              discovery={"mdns_interfaces": ["127.0.0.1"], "notifications": False})
        data = config.model_dump(mode="json")
        data["broker"] = {"discover": True, "reconnect_min_s": 0.2, "reconnect_max_s": 1}
        data["devices"] = [{"id": "pj-00", "url": fleet.urls()[0]}]
        agent = Agent(type(config).model_validate(data))
        task = asyncio.create_task(agent.run())
        try:
            birth = await recorder.wait_for(lambda ms: [m for m in ms if m.topic.endswith("/birth")], 20,
                                            what="birth through the discovered broker")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
    assert birth[0].data["agent_id"] == "a-mdns"


async def test_periodic_discovery_reports_devices_missing_from_the_config(
    mosquitto: MosquittoBroker, tmp_path: Path, caplog
) -> None:
    async with (
        ProjectorEmulator(ProjectorConfig(pjlink_class=2, mac="02:00:00:00:00:0a")) as known,
        ProjectorEmulator(ProjectorConfig(pjlink_class=2, mac="02:00:00:00:00:0b"), host="127.0.0.2") as stranger,
    ):
        config = agent_config(
            "a-disc", mosquitto.url, [known.url()], tmp_path / "o.sqlite",
            discovery={"enabled": False, "mdns": False, "timeout_s": 1.0, "notifications": False,
                       "search_targets": [f"127.0.0.1:{known.udp_port}", f"127.0.0.2:{stranger.udp_port}"]},
        )
        agent = Agent(config)
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.ready.wait(), 10)
        try:
            with caplog.at_level("INFO", logger="avfleet.agent"):
                new = await agent.discover_once()
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    assert [(f.host, f.mac) for f in new] == [("127.0.0.2", "02:00:00:00:00:0b")]
    assert "discovered a device not in the config" in caplog.text and "127.0.0.2" in caplog.text
