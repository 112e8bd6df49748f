"""The demo's emulated devices and the agents that watch them, in one asyncio loop.

One agent per room (as one Raspberry Pi per classroom), PJLink projector emulators of the five
classroom models, an SNMP display in every fourth room and a switched PDU feeding the first room's
projectors, all SNMP devices on one UDP port. `running_fleet()` is an async context manager: it
returns once every agent is connected and stops agents, then emulators, on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avfleet.agent.config import AgentConfig
from avfleet.agent.runtime import Agent
from avfleet.demo.county import Room
from avfleet.demo.errors import DemoError
from avfleet.demo.identities import (
    ProjectorModel,
    display_readings,
    mac_address,
    pdu_readings,
    projector_models,
    projector_settings,
)
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.profiles.library import ProfileLibrary, load_library

log = logging.getLogger("avfleet.demo")

POLL_INTERVAL_S = 5.0
WRONG_PASSWORD = "not-the-password"
AGENTS_CONNECT_S = 60.0  # at least; more for a large fleet (agents_connect_s)


def agents_connect_s(agents: int) -> float:
    """How long every agent may take to connect: 265 agents took 15 s on a loaded 2-core machine."""
    return max(AGENTS_CONNECT_S, 0.2 * agents)


@dataclass
class DemoFleet:
    rooms: list[Room]
    projectors: EmulatedFleet
    snmp: Any = None  # SnmpFleet, or None when the SNMP emulation is unavailable
    snmp_index: dict[str, int] = field(default_factory=dict)  # device id -> index in snmp.devices
    snmp_shared: Any = None  # one SnmpShared (engine + profile library) for every agent: ~0.7 s CPU each saved
    agents: list[Agent] = field(default_factory=list)


def model_of(room: Room, models: tuple[ProjectorModel, ...]) -> ProjectorModel:
    """A school buys one model: the same for all its rooms."""
    return models[room.school_index % len(models)]


def build_projectors(rooms: list[Room], library: ProfileLibrary) -> EmulatedFleet:
    models = projector_models()
    configs: dict[int, ProjectorConfig] = {}
    for room in rooms:
        model = model_of(room, models)
        profile = library.get(model.profile)
        for n, index in enumerate(room.projectors, start=1):
            configs[index] = ProjectorConfig.model_validate(projector_settings(index, room, n, model, profile))
    return EmulatedFleet([configs[i] for i in sorted(configs)])


def _snmp_devices(rooms: list[Room], projectors: EmulatedFleet, library: ProfileLibrary) -> tuple[list, dict]:
    from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu, projector_watts

    display_profile, pdu_profile = library.get("generic-display"), library.get("apc-rack-pdu")
    models = projector_models()
    devices: list[Any] = []
    index: dict[str, int] = {}
    for n, room in enumerate(rooms):
        if room.display:
            index[room.display_id] = len(devices)
            devices.append(EmulatedDisplay(display_profile, room.display_id, name=room.display_id,
                                           mac=mac_address(n, kind=0x20), readings=display_readings(n)))
        if room.pdu:
            rated = library.get(model_of(room, models).profile).rated_watts
            outlets = [(room.projector_id(k), projector_watts(projectors[i], rated))
                       for k, i in enumerate(room.projectors, start=1)] if rated else []
            index[room.pdu_id] = len(devices)
            devices.append(EmulatedPdu(pdu_profile, room.pdu_id, name=room.pdu_id, outlets=outlets,
                                       mac=mac_address(n, kind=0x30), readings=pdu_readings()))
    return devices, index


def agent_config(room: Room, fleet: DemoFleet, broker_url: str, mqtt_protocol: str, data_dir: Path) -> AgentConfig:
    devices: list[dict[str, Any]] = []
    for n, index in enumerate(room.projectors, start=1):
        emulator = fleet.projectors[index]
        url = emulator.url(with_password=True)
        if emulator.config.password:
            url = f"pjlink://:{WRONG_PASSWORD}@{emulator.host}:{emulator.port}"
        devices.append({"id": room.projector_id(n), "url": url})
    if fleet.snmp is not None:
        urls = fleet.snmp.urls()
        if room.display_id in fleet.snmp_index:
            devices.append({"id": room.display_id, "url": urls[fleet.snmp_index[room.display_id]]})
        if room.pdu_id in fleet.snmp_index:
            devices.append({"id": room.pdu_id, "url": urls[fleet.snmp_index[room.pdu_id]],
                            "feeds": {k: room.projector_id(k) for k in range(1, len(room.projectors) + 1)}})
    return AgentConfig.model_validate({
        "version": 1,
        "agent_id": room.agent_id,
        "site": {"municipality": room.municipality, "school": room.school, "room": room.room},
        "broker": {"url": broker_url, "protocol": mqtt_protocol},
        "devices": devices,
        "polling": {"interval_s": POLL_INTERVAL_S, "failure_threshold": 2, "max_backoff_s": 30},
        "discovery": {"notifications": False},
        "outbox": {"path": str(data_dir / "agents" / f"{room.agent_id}.outbox.sqlite")},
        "health": {"interval_s": 30},
    })


async def _start_snmp(fleet: DemoFleet, library: ProfileLibrary) -> None:
    try:
        from avfleet.emulator.snmp_devices import SnmpFleet

        devices, index = _snmp_devices(fleet.rooms, fleet.projectors, library)
    except ImportError as exc:  # pysnmp missing: the SNMP side is optional for the demo
        log.warning("SNMP emulation unavailable (%s); the demo runs projectors only", exc)
        return
    if devices:
        from avfleet.protocols.snmp.shared import SnmpShared

        fleet.snmp = await SnmpFleet(devices).start()
        fleet.snmp_index = index
        fleet.snmp_shared = SnmpShared(library=library)


async def _agents_ready(agents: list[Agent], runs: list[asyncio.Task]) -> None:
    """Wait until every agent is connected; an agent that fails first raises its error."""
    ready = asyncio.ensure_future(asyncio.gather(*(agent.ready.wait() for agent in agents)))
    timeout = agents_connect_s(len(agents))
    try:
        done, _ = await asyncio.wait([ready, *runs], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not ready.done():
            ready.cancel()
    failed = [t for t in runs if t in done]
    if failed:
        failed[0].result()  # raises the agent's start error
        raise DemoError(f"agent {failed[0].get_name()} ended during start")
    if not done:
        raise DemoError(f"the agents did not connect to the broker within {timeout:g} s")


@contextlib.asynccontextmanager
async def running_fleet(rooms: list[Room], *, broker_url: str, mqtt_protocol: str,
                        data_dir: Path) -> AsyncIterator[DemoFleet]:
    library = load_library()
    fleet = DemoFleet(rooms, build_projectors(rooms, library))
    runs: list[asyncio.Task] = []
    await fleet.projectors.start()
    try:
        await _start_snmp(fleet, library)
        fleet.agents = [Agent(agent_config(room, fleet, broker_url, mqtt_protocol, data_dir), snmp=fleet.snmp_shared)
                        for room in rooms]
        runs = [asyncio.create_task(agent.run(), name=f"agent-{agent.config.agent_id}") for agent in fleet.agents]
        await _agents_ready(fleet.agents, runs)
        yield fleet
    finally:
        for agent in fleet.agents:
            agent.stop()
        await asyncio.gather(*runs, return_exceptions=True)
        if fleet.snmp_shared is not None:
            fleet.snmp_shared.close()  # after every agent closed its pollers
        if fleet.snmp is not None:
            await fleet.snmp.stop()
        await fleet.projectors.stop()
