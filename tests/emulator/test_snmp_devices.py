"""The emulated SNMP devices: checked with net-snmp's command-line tools (an independent client) and
served both in-process and, as generated .snmprec files, by snmpsim."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest

from avfleet.emulator.snmp_devices import (
    EmulatedDisplay,
    EmulatedPdu,
    EmulatedSnmpDevice,
    EmulatedSnmpProjector,
    SnmpFleet,
)
from avfleet.emulator.snmp_sim import SnmpSimNotFound, SnmpSimRunner
from avfleet.profiles.library import ProfileLibrary, load_library
from avfleet.protocols.device_url import parse_device_url
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.poller import SnmpPoller
from tests.support.components import missing

RARITAN_SWITCH = "1.3.6.1.4.1.13742.6.4.1.2.1.2.1"


@pytest.fixture(scope="module")
def library() -> ProfileLibrary:
    return load_library()


def devices(library: ProfileLibrary) -> list[EmulatedSnmpDevice]:
    out: list[EmulatedSnmpDevice] = []
    for name in ("raritan-px", "apc-rack-pdu", "planet-ipm", "cyberpower-epdu"):
        out.append(EmulatedPdu(library.get(name), f"pdu-{name}", outlets=[("pj", lambda: 0.0), ("tv", lambda: 0.0)]))
    out.append(EmulatedDisplay(library.get("generic-display"), "display", mac="02:00:5e:00:00:07"))
    out.append(EmulatedSnmpProjector(library.get("epson-projector"), "epson", lamp_hours=2345, mac="02:00:5e:00:00:08"))
    return out


@pytest.fixture
async def fleet(library: ProfileLibrary) -> AsyncIterator[SnmpFleet]:
    emulated = SnmpFleet(devices(library))
    await emulated.start()
    try:
        yield emulated
    finally:
        await emulated.stop()


def net_snmp(tool: str, *args: str) -> subprocess.CompletedProcess:
    path = shutil.which(tool)
    if path is None:
        missing(f"{tool} (Debian package snmp) is not installed")
    return subprocess.run(
        [path, "-v2c", "-On", "-t", "1", "-r", "0", *args],
        capture_output=True, text=True, timeout=30, env={"MIBS": "", "PATH": "/usr/bin"},
    )


async def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    # The agent lives on this event loop: run the blocking CLI in a thread so the loop can answer.
    return await asyncio.to_thread(net_snmp, tool, *args)


async def test_snmpwalk_sees_the_whole_mib_in_order(fleet: SnmpFleet) -> None:
    pdu = fleet.devices[0]
    result = await run("snmpwalk", "-c", pdu.community, f"127.0.0.1:{fleet.port}", ".1")
    assert result.returncode == 0, result.stderr
    walked = [
        line.split(" = ")[0].lstrip(".")
        for line in result.stdout.splitlines()
        if " = " in line and "No more variables" not in line  # net-snmp's endOfMibView line
    ]
    expected = [line.split("|")[0] for line in pdu.snmprec().splitlines()]
    assert walked == expected
    assert len(walked) == len(pdu.mib)


async def test_snmpget_missing_objects(fleet: SnmpFleet) -> None:
    pdu = fleet.devices[0]
    result = await run(
        "snmpget", "-c", pdu.community, f"127.0.0.1:{fleet.port}",
        "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.1.7", "1.3.6.1.4.1.424242.1.0",
    )
    assert "Raritan" in result.stdout
    assert "No Such Instance" in result.stdout
    assert "No Such Object" in result.stdout


async def test_snmpset_switches_an_outlet_and_refuses_bad_sets(fleet: SnmpFleet) -> None:
    pdu = fleet.devices[0]
    assert isinstance(pdu, EmulatedPdu)
    where = f"127.0.0.1:{fleet.port}"
    ok = await run("snmpset", "-c", pdu.community, where, f"{RARITAN_SWITCH}.2", "i", "0")
    assert ok.returncode == 0, ok.stderr
    assert pdu.outlet(2).on is False and pdu.outlet(1).on is True
    wrong_type = await run("snmpset", "-c", pdu.community, where, f"{RARITAN_SWITCH}.2", "s", "on")
    assert "wrongType" in wrong_type.stderr
    read_only = await run("snmpset", "-c", pdu.community, where, "1.3.6.1.2.1.1.1.0", "s", "x")
    assert "notWritable" in read_only.stderr
    bad_value = await run("snmpset", "-c", pdu.community, where, f"{RARITAN_SWITCH}.2", "i", "7")
    assert "wrongValue" in bad_value.stderr
    assert pdu.outlet(2).on is False


async def test_wrong_community_gets_no_answer(fleet: SnmpFleet) -> None:
    result = await run("snmpget", "-c", "not-a-device", f"127.0.0.1:{fleet.port}", "1.3.6.1.2.1.1.1.0")
    assert result.returncode != 0
    assert "Timeout" in result.stderr


async def test_snmpsim_serving_the_generated_files_gives_the_same_status(
    fleet: SnmpFleet, library: ProfileLibrary
) -> None:
    try:
        sim = SnmpSimRunner()
    except SnmpSimNotFound as exc:
        missing(str(exc))
    for device in fleet.devices:
        sim.add_text(device.community, device.snmprec())
    await sim.astart()
    try:
        async with SnmpEngineContext() as engine:
            for device in fleet.devices:
                live = SnmpPoller("d", parse_device_url(device.url(fleet.host, fleet.port)), engine=engine,
                                  library=library)
                recorded = SnmpPoller("d", parse_device_url(device.url(sim.host, sim.port)), engine=engine,
                                      library=library)
                a, b = (await live.poll()).comparable(), (await recorded.poll()).comparable()
                assert a["availability"] == "online", a["detail"]
                assert a == b, device.community
                if device.profile.snmp.outlets is not None:
                    assert [o["name"] for o in a["outlets"]][:1] in (["pj"], [None])
                    assert len(a["outlets"]) == 2
    finally:
        await sim.astop()


async def test_emulated_projector_lamp_hours_are_live(fleet: SnmpFleet, library: ProfileLibrary) -> None:
    projector = fleet.devices[-1]
    hours = {"now": 10}
    projector.readings["lamps[0].hours"] = lambda: hours["now"]
    async with SnmpEngineContext() as engine:
        poller = SnmpPoller("pj", parse_device_url(projector.url(fleet.host, fleet.port)), engine=engine,
                            library=library)
        assert (await poller.poll()).lamps[0].hours == 10
        hours["now"] = 11
        assert (await poller.poll()).lamps[0].hours == 11


def test_a_profile_without_outlets_cannot_be_a_pdu(library: ProfileLibrary) -> None:
    with pytest.raises(ValueError, match="no outlet table"):
        EmulatedPdu(library.get("generic-display"), "x", outlets=[])
    with pytest.raises(ValueError, match="no SNMP object map"):
        EmulatedDisplay(library.get("benq-mw560"), "y")


def test_fleet_refuses_duplicate_communities(library: ProfileLibrary) -> None:
    display = library.get("generic-display")
    with pytest.raises(ValueError, match="own community"):
        SnmpFleet([EmulatedDisplay(display, "same"), EmulatedDisplay(display, "same")])
