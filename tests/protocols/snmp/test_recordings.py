"""Every real-device recording in tests/fixtures/snmp, served by snmpsim and read by the SnmpPoller.

Expected values come from the recording file itself, through OIDs documented for each vendor
(reference/snmp.md), independently of the profile that the poller uses, and from LibreNMS's own
parse of the same recording (expected/NAME.json) as a second opinion. The profile is auto-detected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from avfleet.emulator.snmp_sim import SnmpSimRunner
from avfleet.profiles.library import ProfileLibrary
from avfleet.protocols.device_url import SnmpTarget
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.poller import SnmpPoller
from avfleet.protocols.snmp.values import as_mac
from avfleet.protocols.status import Availability, DeviceStatus, Kind
from tests.protocols.snmp.conftest import snmpsim_runner
from tests.protocols.snmp.recordings import column, parse_snmprec, recording_files, snmprec_dir, text

Records = dict[str, tuple[str, int | str | bytes]]

FILES = recording_files()
NAMES = [p.stem for p in FILES]


def value(records: Records, oid: str) -> int | str | bytes | None:
    return records[oid][1] if oid in records else None


# Vendor facts, by sysObjectID prefix: which recorded OIDs hold which reading (reference/snmp.md).
def check_epson(status: DeviceStatus, rec: Records) -> None:
    hours = value(rec, "1.3.6.1.4.1.1248.4.1.1.1.1.0")
    assert status.kind == Kind.projector
    assert [lamp.hours for lamp in status.lamps] == ([hours] if hours is not None else [])
    assert status.identity.manufacturer == "Epson"


def check_raritan(status: DeviceStatus, rec: Records) -> None:
    labels = column(rec, "1.3.6.1.4.1.13742.6.3.5.3.1.2.1")  # outletLabel.<pdu 1>.<outlet>
    names = column(rec, "1.3.6.1.4.1.13742.6.3.5.3.1.3.1")
    sensors = column(rec, "1.3.6.1.4.1.13742.6.5.4.3.1.4.1")  # <outlet>.<sensorType>
    assert status.kind == Kind.pdu
    assert [o.index for o in status.outlets] == sorted(int(i) for i in labels)
    for outlet in status.outlets:
        watts = sensors.get(f"{outlet.index}.5")
        energy = sensors.get(f"{outlet.index}.8")
        assert outlet.power_w == (float(watts) if watts is not None else None)
        assert outlet.energy_wh == (float(energy) if energy is not None else None)
        assert outlet.name == (text(names.get(str(outlet.index))) or text(labels[str(outlet.index)]))
    inlet = value(rec, "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5")
    expected_total = float(inlet) if inlet is not None else sum(o.power_w or 0 for o in status.outlets)
    assert status.power_w == expected_total


def check_apc(status: DeviceStatus, rec: Records) -> None:
    control = column(rec, "1.3.6.1.4.1.318.1.1.4.4.2.1.3")  # sPDUOutletCtl: 1 on, 2 off
    names = column(rec, "1.3.6.1.4.1.318.1.1.4.4.2.1.4")
    assert status.kind == Kind.pdu
    assert [o.index for o in status.outlets] == sorted(int(i) for i in control)
    for outlet in status.outlets:
        assert outlet.on is (control[str(outlet.index)] == 1)
        assert outlet.name == text(names.get(str(outlet.index)))
    assert status.identity.model == text(value(rec, "1.3.6.1.4.1.318.1.1.12.1.5.0"))
    assert status.identity.serial == text(value(rec, "1.3.6.1.4.1.318.1.1.12.1.6.0"))
    watts = value(rec, "1.3.6.1.4.1.318.1.1.12.1.16.0")
    if watts is not None:
        assert status.power_w == float(watts)


def check_clickshare(status: DeviceStatus, rec: Records) -> None:
    assert status.identity.manufacturer == "Barco"
    assert status.identity.serial == text(value(rec, "1.3.6.1.4.1.7312.2468.1.1.5.0"))
    assert status.identity.model == text(value(rec, "1.3.6.1.4.1.7312.2468.1.1.4.0"))


VENDOR_CHECKS: list[tuple[str, Callable[[DeviceStatus, Records], None]]] = [
    ("1.3.6.1.4.1.1248.4.1", check_epson),
    ("1.3.6.1.4.1.13742.6", check_raritan),
    ("1.3.6.1.4.1.318.1.3.4", check_apc),
    ("1.3.6.1.4.1.7312.2468", check_clickshare),
]

# LibreNMS sensor OIDs -> the reading of our status that must agree with sensor_current.
LIBRENMS_SENSORS: list[tuple[str, str, Callable[[DeviceStatus, re.Match], float | None]]] = [
    ("power", r"^\.1\.3\.6\.1\.4\.1\.13742\.6\.5\.4\.3\.1\.4\.1\.(\d+)\.5$",
     lambda s, m: next(o.power_w for o in s.outlets if o.index == int(m.group(1)))),
    ("power", r"^\.1\.3\.6\.1\.4\.1\.13742\.6\.5\.2\.3\.1\.4\.1\.1\.5$", lambda s, m: s.power_w),
    ("power", r"^\.1\.3\.6\.1\.4\.1\.318\.1\.1\.12\.1\.16\.0$", lambda s, m: s.power_w),
    ("count", r"^\.1\.3\.6\.1\.4\.1\.1248\.4\.1\.1\.1\.1\.0$", lambda s, m: s.lamps[0].hours),
]


@pytest.fixture(scope="module")
def recordings_sim() -> Iterator[SnmpSimRunner]:
    runner = snmpsim_runner()
    for path in FILES:
        runner.add_file(path.stem, path)
    try:
        runner.start()
        yield runner
    finally:
        runner.cleanup()


@pytest.fixture(params=NAMES)
def recording(request: pytest.FixtureRequest) -> Path:
    return snmprec_dir() / f"{request.param}.snmprec"


async def poll_recording(sim: SnmpSimRunner, path: Path, engine: SnmpEngineContext, library: ProfileLibrary):
    target = SnmpTarget(host=sim.host, port=sim.port, community=path.stem)
    poller = SnmpPoller(path.stem, target, engine=engine, library=library)
    status = await poller.poll()
    return poller, status


async def test_poller_reads_what_the_recording_holds(
    recordings_sim: SnmpSimRunner, recording: Path, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    rec = parse_snmprec(recording)
    poller, status = await poll_recording(recordings_sim, recording, engine, library)
    assert status.availability == Availability.online, status.detail
    assert status.identity.name == text(value(rec, "1.3.6.1.2.1.1.5.0"))
    macs = [m for _, v in sorted(column(rec, "1.3.6.1.2.1.2.2.1.6").items()) if (m := as_mac(v))]
    if poller.profile.snmp.identity.mac is None:
        assert status.identity.mac == (macs[0] if macs else None)
    sys_object_id = str(value(rec, "1.3.6.1.2.1.1.2.0") or "")
    checks = [check for prefix, check in VENDOR_CHECKS if sys_object_id.startswith(prefix)]
    for check in checks:
        check(status, rec)
    if checks:  # a vendor we know must be recognized by its own profile, not the fallback
        assert not poller.profile.recognition.fallback, poller.selection_reason
        assert sys_object_id in poller.selection_reason


async def test_poller_agrees_with_librenms(
    recordings_sim: SnmpSimRunner, recording: Path, engine: SnmpEngineContext, library: ProfileLibrary
) -> None:
    expected_file = recording.parent / "expected" / f"{recording.stem}.json"
    assert expected_file.is_file(), f"no LibreNMS second opinion for {recording.name} in expected/"
    expected = json.loads(expected_file.read_text())
    _, status = await poll_recording(recordings_sim, recording, engine, library)
    device = expected["os"]["discovery"]["devices"][0]
    if device.get("serial"):
        # LibreNMS shows a trailing NUL as '.'; we strip it.
        assert status.identity.serial == device["serial"].rstrip(".").strip()
    compared = 0
    for sensor in expected.get("sensors", {}).get("discovery", {}).get("sensors", []):
        for sensor_class, pattern, reading in LIBRENMS_SENSORS:
            match = re.match(pattern, sensor["sensor_oid"])
            if sensor["sensor_class"] == sensor_class and match:
                assert reading(status, match) == pytest.approx(sensor["sensor_current"]), sensor["sensor_oid"]
                compared += 1
    print(f"{recording.stem}: {compared} LibreNMS sensor readings compared")


def test_every_fixture_names_its_source() -> None:
    """Each recording and expected file is listed in the fixtures README with its upstream path."""
    readme = (snmprec_dir() / "README.md").read_text()
    files = [p.relative_to(snmprec_dir()).as_posix() for p in sorted(snmprec_dir().rglob("*")) if p.is_file()]
    files.remove("README.md")
    assert len(files) == 2 * len(FILES)  # a recording and its expected JSON, nothing else
    for name in files:
        upstream = ("tests/snmpsim/" if name.endswith(".snmprec") else "tests/data/") + Path(name).name
        assert f"| `{name}` |" in readme and f"`{upstream}` |" in readme, name
