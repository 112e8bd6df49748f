"""`avfleet probe snmp://...` and `avfleet simulate snmp` as a user runs them: the console script in
a subprocess, against snmpsim, Debian's snmpd and the project's emulated SNMP devices."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from avfleet.emulator.snmp_devices import EmulatedPdu
from avfleet.emulator.snmp_sim import SnmpSimNotFound, SnmpSimRunner
from avfleet.profiles.library import load_library
from avfleet.protocols.device_url import parse_device_url
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.poller import SnmpPoller
from avfleet.protocols.status import DeviceStatus
from tests.protocols.snmp import snmpd as snmpd_conf
from tests.protocols.snmp.snmpd import Snmpd
from tests.support.components import free_port, missing

AVFLEET = str(Path(sys.executable).with_name("avfleet"))


def avfleet(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([AVFLEET, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pdu_sim() -> Iterator[tuple[SnmpSimRunner, EmulatedPdu]]:
    library = load_library()
    pdu = EmulatedPdu(
        library.get("raritan-px"), "lab/pdu-7", outlets=[("projector", lambda: 312.0), ("display", lambda: 74.0)]
    )
    try:
        sim = SnmpSimRunner()
    except SnmpSimNotFound as exc:
        missing(str(exc))
    sim.add_text(pdu.community, pdu.snmprec())
    with sim:
        yield sim, pdu


def test_probe_json_auto_detects_the_profile_and_says_why(pdu_sim) -> None:
    sim, pdu = pdu_sim
    done = avfleet("probe", f"snmp://{quote(pdu.community, safe='')}@127.0.0.1:{sim.port}", "--json")
    assert done.returncode == 0, done.stderr
    status = DeviceStatus.model_validate(json.loads(done.stdout))
    assert status.protocol.value == "snmp" and status.kind.value == "pdu"
    assert [(o.name, o.power_w) for o in status.outlets] == [("projector", 312.0), ("display", 74.0)]
    assert status.power_w == 386.0  # outlet names and watts only come out through the Raritan map
    assert done.stderr.startswith("profile: ")


def test_probe_prints_the_auto_detection_reason(pdu_sim) -> None:
    sim, pdu = pdu_sim
    done = avfleet("probe", f"snmp://{quote(pdu.community, safe='')}@127.0.0.1:{sim.port}", "--json")
    assert "raritan-px" in done.stderr and "sysObjectID 1.3.6.1.4.1.13742.6" in done.stderr


def test_probe_table_names_the_profile_given_in_the_url(pdu_sim) -> None:
    sim, pdu = pdu_sim
    done = avfleet("probe", f"snmp://{quote(pdu.community, safe='')}@127.0.0.1:{sim.port}?profile=raritan-px3")
    assert done.returncode == 0, done.stderr
    assert "raritan-px named in the device URL" in done.stdout
    assert "projector" in done.stdout


def test_probe_unreachable_exits_1_in_bounded_time() -> None:
    started = time.monotonic()
    done = avfleet("probe", f"snmp://public@127.0.0.1:{free_port(socket.SOCK_DGRAM)}", "--json")
    assert done.returncode == 1
    assert DeviceStatus.model_validate(json.loads(done.stdout)).availability.value == "unreachable"
    assert "wrong community?" in done.stderr
    assert time.monotonic() - started < 15


def test_probe_v3_url_against_snmpd(tmp_path: Path) -> None:
    agent = Snmpd(tmp_path / "snmpd").start()
    try:
        base = f"snmp://{snmpd_conf.V3_USER}@127.0.0.1:{agent.port}?auth=SHA&auth_key={snmpd_conf.V3_AUTH_KEY}"
        good = avfleet("probe", f"{base}&priv=AES&priv_key={snmpd_conf.V3_PRIV_KEY}", "--json")
        assert good.returncode == 0, good.stderr
        assert DeviceStatus.model_validate(json.loads(good.stdout)).identity.name == "snmpd-under-test"
        assert snmpd_conf.V3_PRIV_KEY not in good.stdout + good.stderr
        bad = avfleet("probe", f"{base.replace('authpass123', 'wrongpass123')}&priv=AES&priv_key=x2345678", "--json")
        assert bad.returncode == 3
        assert json.loads(bad.stdout)["availability"] == "auth_failed"
        assert "wrongpass123" not in bad.stdout + bad.stderr
    finally:
        agent.stop()


def test_simulate_snmp_serves_pollable_devices_until_interrupted() -> None:
    proc = subprocess.Popen(
        [AVFLEET, "simulate", "snmp", "--displays", "2", "--projectors", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        urls = []
        while len(urls) < 4:  # 2 displays, 1 projector, the PDU
            line = proc.stdout.readline()
            assert line, f"simulate exited: {proc.stderr.read()}"
            urls.append(line.split()[0])
        statuses = asyncio.run(_poll_all(urls))
        kinds = [s.kind.value for s in statuses]
        assert kinds == ["display", "display", "projector", "pdu"]
        assert all(s.availability.value == "online" for s in statuses)
        assert statuses[2].lamps and statuses[2].lamps[0].hours == 500
        pdu = statuses[3]
        assert [o.name for o in pdu.outlets] == ["display-1", "display-2", "projector-1"]
        library = load_library()
        expected = [library.get("generic-display").rated_watts.on] * 2 + [library.get("epson-eb-2250u").rated_watts.on]
        assert [o.power_w for o in pdu.outlets] == expected
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def _poll_all(urls: list[str]) -> list[DeviceStatus]:
    library = load_library()
    async with SnmpEngineContext() as engine:
        return [
            await SnmpPoller(f"d{i}", parse_device_url(url), engine=engine, library=library).poll()
            for i, url in enumerate(urls)
        ]
