"""Real SNMP agents for the SNMP tests: snmpsim (from its own venv) and Debian's snmpd, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from avfleet.emulator.snmp_sim import SnmpSimNotFound, SnmpSimRunner
from avfleet.profiles.library import ProfileLibrary, load_library
from avfleet.protocols.snmp.client import SnmpEngineContext
from tests.protocols.snmp.snmpd import Snmpd
from tests.support.components import missing

BIG_TABLE_ROWS = 10_000
BIG_TABLE_COLUMN = "1.3.6.1.4.1.99999.1.1.2"
# Epson status strings "SS WWWW AAAA" (status, warning, alarm) served by snmpsim.
EPSON_STATUS_RECORDS = {
    "epson-standby-ok": "01 0000 0000",
    "epson-on-lampwarn-fanalarm": "03 0001 0004",
    "epson-cooling-filter": "04 0004 0000",
}


def snmpsim_runner() -> SnmpSimRunner:
    try:
        return SnmpSimRunner()
    except SnmpSimNotFound as exc:
        missing(str(exc))
        raise


def big_table_snmprec(rows: int = BIG_TABLE_ROWS) -> str:
    lines = ["1.3.6.1.2.1.1.1.0|4|big table agent", "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999"]
    lines += [f"{BIG_TABLE_COLUMN}.{i}|2|{i * 7}" for i in range(1, rows + 1)]
    lines.append("1.3.6.1.4.1.99999.1.1.3.1|4|after the table")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def library() -> ProfileLibrary:
    return load_library()


@pytest.fixture
async def engine() -> AsyncIterator[SnmpEngineContext]:
    context = SnmpEngineContext()
    _ = context.engine  # built here (~0.45 s, more on a busy machine), not inside a test's timed section
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    agent = Snmpd(tmp_path_factory.mktemp("snmpd"))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[SnmpSimRunner]:
    """snmpsim with generated data: a 10,000-row table, a writable object, a garbled Epson."""
    runner = snmpsim_runner()
    runner.add_text("big", big_table_snmprec())
    runner.add_text(
        "writable",
        "1.3.6.1.2.1.1.1.0|4|writable agent\n"
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999\n"
        "1.3.6.1.4.1.1248.4.1.1.2.1.0|2:writecache|value=1\n",
    )
    runner.add_text(
        "garbled-epson",
        "1.3.6.1.2.1.1.1.0|4|EPSON Network Projector\n"
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1248.4.1\n"
        "1.3.6.1.2.1.1.5.0|4|pj-garbled\n"
        "1.3.6.1.4.1.1248.4.1.1.1.1.0|4|lots\n",
    )
    runner.add_text(
        "negative-lamp-epson",
        "1.3.6.1.2.1.1.1.0|4|EPSON Network Projector\n"
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1248.4.1\n"
        "1.3.6.1.4.1.1248.4.1.1.1.1.0|2|-5\n",
    )
    for community, status_string in EPSON_STATUS_RECORDS.items():
        runner.add_text(
            community,
            "1.3.6.1.2.1.1.1.0|4|EPSON Network Projector\n"
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.1248.4.1\n"
            f"1.3.6.1.2.1.1.5.0|4|{community}\n"
            "1.3.6.1.4.1.1248.4.1.1.1.1.0|2|1500\n"
            "1.3.6.1.4.1.1248.4.1.1.1.8.0|4|1.05/X4E9876543\n"
            f"1.3.6.1.4.1.1248.4.1.1.1.9.0|4|{status_string}\n",
        )
    try:
        runner.start()
        yield runner
    finally:
        runner.cleanup()
