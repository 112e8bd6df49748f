"""SnmpPoller against real agents: the project's in-process emulator (real SNMPv2c bytes on
loopback), snmpsim and Debian's snmpd."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu, SnmpFleet, projector_watts
from avfleet.emulator.snmp_sim import SnmpSimRunner
from avfleet.profiles.library import ProfileLibrary, UnknownProfile
from avfleet.protocols.device_url import SnmpTarget, SnmpV3Credentials, parse_device_url
from avfleet.protocols.errors import CommandError, CommandUnsupported
from avfleet.protocols.factory import make_poller
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.poller import SnmpPoller
from avfleet.protocols.status import Availability, FaultLevel, Kind, Power
from tests.protocols.snmp import snmpd as snmpd_conf
from tests.protocols.snmp.conftest import EPSON_STATUS_RECORDS
from tests.protocols.snmp.snmpd import Snmpd
from tests.support.components import free_port


class Room:
    """An emulated classroom: a PJLink projector and a display behind a switched Raritan PDU."""

    def __init__(self, library: ProfileLibrary) -> None:
        self.projector = ProjectorEmulator()
        self.projector.set_power("on")
        self.rated = library.get("epson-eb-2250u").rated_watts
        assert self.rated is not None
        self.switched: list[tuple[int, bool]] = []
        self.heater_watts = 3_600_000.0  # 1,000 Wh a second: energy visibly grows between two polls
        self.pdu = EmulatedPdu(
            library.get("raritan-px"),
            "room-a12/pdu",
            outlets=[
                ("projector", projector_watts(self.projector, self.rated)),
                ("display", lambda: 61.0),
                ("heater", lambda: self.heater_watts),
            ],
            on_switch=lambda index, on: self.switched.append((index, on)),
            initial_energy_wh=5000.0,
        )
        self.display = EmulatedDisplay(library.get("generic-display"), "room-a12/display", mac="02:00:5e:00:00:42")
        self.fleet = SnmpFleet([self.pdu, self.display])


@pytest.fixture
async def room(library: ProfileLibrary) -> AsyncIterator[Room]:
    room = Room(library)
    await room.fleet.start()
    try:
        yield room
    finally:
        await room.fleet.stop()


def poller_for(url: str, engine: SnmpEngineContext, library: ProfileLibrary, **kw) -> SnmpPoller:
    return SnmpPoller("dev", parse_device_url(url), engine=engine, library=library, **kw)


async def test_pdu_is_auto_detected_and_its_outlets_read(
    room: Room, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    url = room.pdu.url(room.fleet.host, room.fleet.port, with_profile=False)
    poller = poller_for(url, engine, library)
    status = await poller.poll()
    assert status.availability == Availability.online
    assert poller.profile is not None and poller.profile.name == "raritan-px"
    assert "1.3.6.1.4.1.13742.6" in poller.selection_reason
    assert status.kind == Kind.pdu
    assert [(o.index, o.name, o.on) for o in status.outlets] == [
        (1, "projector", True), (2, "display", True), (3, "heater", True)
    ]
    assert status.outlets[0].power_w == room.rated.on
    assert status.outlets[1].power_w == 61.0
    assert status.identity.name == "room-a12-pdu"


async def test_outlet_watts_follow_the_emulated_projector(
    room: Room, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = poller_for(room.pdu.url(room.fleet.host, room.fleet.port), engine, library)
    room.projector.set_power("on")
    assert (await poller.poll()).outlets[0].power_w == room.rated.on
    room.projector.set_power("standby")
    standby = await poller.poll()
    assert standby.outlets[0].power_w == room.rated.networked_standby
    assert standby.power_w == pytest.approx(sum(o.power_w for o in standby.outlets))


async def test_outlet_energy_grows_while_drawing(
    room: Room, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = poller_for(room.pdu.url(room.fleet.host, room.fleet.port), engine, library)
    first = (await poller.poll()).outlets[2].energy_wh
    assert first is not None and first >= 5000.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        later = (await poller.poll()).outlets[2].energy_wh
        if later is not None and later > first:
            break
        await asyncio.sleep(0.05)  # energy is a property of elapsed time: nothing to await but the clock
    else:
        pytest.fail("outlet energy did not grow")


async def test_switching_an_outlet_off_and_on(room: Room, engine: SnmpEngineContext, library: ProfileLibrary) -> None:
    poller = poller_for(room.pdu.url(room.fleet.host, room.fleet.port), engine, library)
    await poller.execute("power_off", {"outlet": 2})
    assert room.pdu.outlet(2).on is False
    assert room.switched == [(2, False)]
    status = await poller.poll()
    assert (status.outlets[1].on, status.outlets[1].power_w) == (False, 0.0)
    assert status.outlets[0].on is True
    await poller.execute("outlet_on", {"outlet": 2})
    assert room.pdu.outlet(2).on is True
    assert (await poller.poll()).outlets[1].power_w == 61.0


async def test_commands_the_profile_cannot_do(
    room: Room, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    pdu = poller_for(room.pdu.url(room.fleet.host, room.fleet.port), engine, library)
    with pytest.raises(CommandUnsupported):
        await pdu.execute("set_input", {"input": "31"})
    with pytest.raises(CommandUnsupported):
        await pdu.execute("power_off", {})  # the PDU itself has no SNMP power command
    with pytest.raises(CommandError, match="no outlet 9"):
        await pdu.execute("power_off", {"outlet": 9})
    with pytest.raises(CommandError, match=r"needs args\.outlet"):
        await pdu.execute("outlet_off", {})
    display = poller_for(room.display.url(room.fleet.host, room.fleet.port), engine, library)
    with pytest.raises(CommandUnsupported):
        await display.execute("power_off", {"outlet": 1})
    assert room.switched == []


async def test_display_identity_from_the_generic_display_profile(
    room: Room, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = poller_for(room.display.url(room.fleet.host, room.fleet.port), engine, library)
    status = await poller.poll()
    assert status.kind == Kind.display
    assert status.identity.model == room.display.readings["identity.model"]
    assert status.identity.serial == room.display.readings["identity.serial"]
    assert status.identity.mac == "02:00:5e:00:00:42"
    assert "generic-display named" in poller.selection_reason
    assert "generic-host" in poller.selection_reason  # what auto-detection would have picked


async def test_make_poller_builds_an_snmp_poller(room: Room, library: ProfileLibrary) -> None:
    poller = make_poller("pdu", room.pdu.url(room.fleet.host, room.fleet.port), kind=Kind.other, library=library)
    try:
        assert isinstance(poller, SnmpPoller)
        status = await poller.poll()
        assert status.kind == Kind.other  # an explicit kind wins over the profile's
        assert len(status.outlets) == 3
    finally:
        await poller.close()


def test_unknown_profile_name_fails_at_construction(library: ProfileLibrary) -> None:
    with pytest.raises(UnknownProfile, match="raritan-px"):
        poller_for("snmp://public@127.0.0.1:1161?profile=raritan-pz", SnmpEngineContext(), library)


# --- Epson status string over snmpsim ----------------------------------------------------------

@pytest.mark.parametrize(
    ("community", "power", "faults"),
    [
        ("epson-standby-ok", Power.standby, {"lamp": "ok", "fan": "ok", "filter": "ok", "other": "ok"}),
        ("epson-on-lampwarn-fanalarm", Power.on, {"lamp": "warning", "fan": "error", "filter": "ok"}),
        ("epson-cooling-filter", Power.cooling, {"filter": "warning", "lamp": "ok", "cover": "ok"}),
    ],
)
async def test_epson_status_string(
    sim: SnmpSimRunner, engine: SnmpEngineContext, library: ProfileLibrary,
    community: str, power: Power, faults: dict[str, str],
) -> None:
    assert community in EPSON_STATUS_RECORDS
    poller = SnmpPoller("pj", SnmpTarget("127.0.0.1", sim.port, community), engine=engine, library=library)
    status = await poller.poll()
    assert status.availability == Availability.online
    assert poller.profile.name == "epson-projector"
    assert status.power == power
    for component, level in faults.items():
        assert getattr(status.faults, component) == FaultLevel(level), component
    assert status.lamps[0].hours == 1500
    assert status.lamps[0].on is (power in (Power.on, Power.warming))
    assert (status.identity.firmware, status.identity.serial) == ("1.05", "X4E9876543")


async def test_unparsable_value_is_an_error_status(
    sim: SnmpSimRunner, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = SnmpPoller("pj", SnmpTarget("127.0.0.1", sim.port, "garbled-epson"), engine=engine, library=library)
    status = await poller.poll()
    assert status.availability == Availability.error
    assert "1.3.6.1.4.1.1248.4.1.1.1.1.0" in status.detail and "'lots' is not a number" in status.detail
    assert status.kind == Kind.projector


async def test_out_of_range_value_is_an_error_status(
    sim: SnmpSimRunner, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = SnmpPoller("pj", SnmpTarget("127.0.0.1", sim.port, "negative-lamp-epson"), engine=engine, library=library)
    status = await poller.poll()
    assert status.availability == Availability.error
    assert "1.3.6.1.4.1.1248.4.1.1.1.1.0" in status.detail and "-5" in status.detail


async def test_wrong_community_on_a_live_agent_says_so(
    sim: SnmpSimRunner, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = SnmpPoller(
        "pj", SnmpTarget("127.0.0.1", sim.port, "no-such-community", profile="epson-projector"),
        engine=engine, library=library, timeout=0.5, retries=0,
    )
    status = await poller.poll()
    assert status.availability == Availability.unreachable
    assert "no answer (wrong community?)" in status.detail
    assert status.kind == Kind.projector


async def test_dead_host_is_unreachable_in_bounded_time(engine: SnmpEngineContext, library: ProfileLibrary) -> None:
    target = SnmpTarget("127.0.0.1", free_port(socket.SOCK_DGRAM), "public", profile="raritan-px")
    poller = SnmpPoller("pdu", target, engine=engine, library=library)
    started = time.monotonic()
    status = await poller.poll()
    assert time.monotonic() - started < 1.5 * 2 + 1.0 + 1.5  # GET worst case + discovery probe + slack
    assert status.availability == Availability.unreachable
    assert status.power == Power.unknown  # unreachable is never "off"
    assert status.outlets == []
    assert "wrong community?" in status.detail and "answers SNMPv3" not in status.detail


# --- snmpd: v3 diagnosis, generic host, writes -------------------------------------------------

def snmpd_v3(port: int, auth_key: str = snmpd_conf.V3_AUTH_KEY, priv_key: str = snmpd_conf.V3_PRIV_KEY) -> SnmpTarget:
    return SnmpTarget(
        "127.0.0.1", port, None, SnmpV3Credentials(snmpd_conf.V3_USER, "SHA", auth_key, "AES", priv_key)
    )


async def test_v3_poll_of_a_generic_host(snmpd: Snmpd, engine: SnmpEngineContext, library: ProfileLibrary) -> None:
    poller = SnmpPoller("host", snmpd_v3(snmpd.port), engine=engine, library=library)
    status = await poller.poll()
    assert status.availability == Availability.online
    assert poller.profile.name == "generic-host"
    assert "fallback generic-host" in poller.selection_reason
    assert status.identity.name == "snmpd-under-test"


async def test_v3_wrong_auth_key_is_auth_failed(
    snmpd: Snmpd, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = SnmpPoller("host", snmpd_v3(snmpd.port, auth_key="wrong-auth-key"), engine=engine, library=library)
    status = await poller.poll()
    assert status.availability == Availability.auth_failed
    assert "credentials" in status.detail


async def test_v3_wrong_priv_key_is_auth_failed_not_unreachable(
    snmpd: Snmpd, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    poller = SnmpPoller(
        "host", snmpd_v3(snmpd.port, priv_key="wrong-priv-key"), engine=engine, library=library,
        timeout=0.5, retries=0,
    )
    status = await poller.poll()
    assert status.availability == Availability.auth_failed
    assert "wrong privacy key?" in status.detail


async def test_epson_profile_on_snmpd_reads_lamp_hours_and_writes_power(
    snmpd: Snmpd, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    reader = SnmpPoller(
        "pj", SnmpTarget("127.0.0.1", snmpd.port, "public", profile="epson-projector"), engine=engine, library=library
    )
    status = await reader.poll()
    assert status.lamps[0].hours == snmpd_conf.EPSON_LAMP_HOURS
    with pytest.raises(CommandError, match="read-only"):
        await reader.execute("power_off", {})
    writer = SnmpPoller(
        "pj", SnmpTarget("127.0.0.1", snmpd.port, snmpd_conf.WRITE_COMMUNITY, profile="epson-projector"),
        engine=engine, library=library,
    )
    await writer.execute("power_off", {})
    assert await engine.client(SnmpTarget("127.0.0.1", snmpd.port)).get_value(snmpd_conf.WRITABLE_OID) == 0
    await writer.execute("power_on", {})
    assert await engine.client(SnmpTarget("127.0.0.1", snmpd.port)).get_value(snmpd_conf.WRITABLE_OID) == 1
