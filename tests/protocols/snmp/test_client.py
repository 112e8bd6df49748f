"""SnmpClient against real agents on loopback: Debian's snmpd (C) and snmpsim (Python)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from avfleet.emulator.snmp_sim import SnmpSimRunner
from avfleet.protocols.device_url import SnmpTarget, SnmpV3Credentials, parse_device_url
from avfleet.protocols.snmp.client import SnmpEngineContext
from avfleet.protocols.snmp.errors import (
    SnmpAuthError,
    SnmpNoSuchObject,
    SnmpNotWritable,
    SnmpTimeout,
    SnmpWrongType,
)
from tests.protocols.snmp import snmpd as snmpd_conf
from tests.protocols.snmp.conftest import BIG_TABLE_COLUMN, BIG_TABLE_ROWS
from tests.protocols.snmp.snmpd import Snmpd
from tests.support.components import free_port

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"


def v3_target(port: int, *, auth_key: str = snmpd_conf.V3_AUTH_KEY, priv_key: str = snmpd_conf.V3_PRIV_KEY,
              user: str = snmpd_conf.V3_USER) -> SnmpTarget:
    return SnmpTarget(
        host="127.0.0.1", port=port, community=None,
        v3=SnmpV3Credentials(user, "SHA", auth_key, "AES", priv_key),
    )


def v2c(port: int, community: str = "public") -> SnmpTarget:
    return SnmpTarget(host="127.0.0.1", port=port, community=community)


# --- snmpd -------------------------------------------------------------------------------------

async def test_v2c_get_reads_what_snmpd_is_configured_to_serve(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    values = await engine.client(v2c(snmpd.port)).get(SYS_DESCR, SYS_NAME, snmpd_conf.EPSON_LAMP_OID)
    assert values == {
        SYS_DESCR: "avfleet test snmpd",
        SYS_NAME: "snmpd-under-test",
        snmpd_conf.EPSON_LAMP_OID: snmpd_conf.EPSON_LAMP_HOURS,
    }


async def test_v3_authpriv_sha_aes_get(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    values = await engine.client(v3_target(snmpd.port)).get(SYS_NAME, snmpd_conf.EPSON_LAMP_OID)
    assert values[SYS_NAME] == "snmpd-under-test"
    assert values[snmpd_conf.EPSON_LAMP_OID] == snmpd_conf.EPSON_LAMP_HOURS


async def test_v3_wrong_auth_key_is_an_auth_error_at_once(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    client = engine.client(v3_target(snmpd.port, auth_key="not-the-key-1"))
    started = time.monotonic()
    with pytest.raises(SnmpAuthError, match="refused the SNMPv3 credentials"):
        await client.get(SYS_NAME)
    assert time.monotonic() - started < client.worst_case_seconds  # a report, not a timeout


async def test_v3_unknown_user_is_an_auth_error(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    with pytest.raises(SnmpAuthError):
        await engine.client(v3_target(snmpd.port, user="mallory")).get(SYS_NAME)


async def test_v3_wrong_priv_key_net_snmp_stays_silent(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    # net-snmp drops a request it cannot decrypt without a report: on the wire that is a timeout
    # (the poller then tells it apart with a discovery probe; see test_poller).
    client = engine.client(v3_target(snmpd.port, priv_key="not-the-key-2"), timeout=0.5, retries=0)
    with pytest.raises(SnmpTimeout):
        await client.get(SYS_NAME)


async def test_wrong_community_times_out_within_the_bound(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(snmpd.port, "wrong-community"))
    started = time.monotonic()
    with pytest.raises(SnmpTimeout, match="no answer"):
        await client.get(SYS_NAME)
    elapsed = time.monotonic() - started
    assert client.worst_case_seconds * 0.9 <= elapsed < client.worst_case_seconds + 1.5


async def test_missing_object_reads_as_none_and_get_value_raises(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(snmpd.port))
    missing_oid = "1.3.6.1.4.1.99999.42.0"
    assert (await client.get(SYS_NAME, missing_oid))[missing_oid] is None
    with pytest.raises(SnmpNoSuchObject) as caught:
        await client.get_value(missing_oid)
    assert caught.value.oid == missing_oid


async def test_set_with_wrong_type_is_refused(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(snmpd.port, snmpd_conf.WRITE_COMMUNITY))
    with pytest.raises(SnmpWrongType) as caught:
        await client.set(snmpd_conf.WRITABLE_OID, "on", "string")
    assert caught.value.status == "wrongType"
    assert caught.value.oid == snmpd_conf.WRITABLE_OID


async def test_set_through_read_only_community_is_not_writable(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    with pytest.raises(SnmpNotWritable):
        await engine.client(v2c(snmpd.port)).set(snmpd_conf.WRITABLE_OID, 0)


async def test_set_integer_changes_the_value(snmpd: Snmpd, engine: SnmpEngineContext) -> None:
    writer = engine.client(v2c(snmpd.port, snmpd_conf.WRITE_COMMUNITY))
    before = await writer.get_value(snmpd_conf.WRITABLE_OID)
    wanted = 0 if before else 1
    assert await writer.set(snmpd_conf.WRITABLE_OID, wanted) == wanted
    assert await engine.client(v2c(snmpd.port)).get_value(snmpd_conf.WRITABLE_OID) == wanted


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "getnext"])
async def test_walk_of_the_system_group_matches_net_snmp_snmpwalk(
    snmpd: Snmpd, engine: SnmpEngineContext, bulk: bool
) -> None:
    snmpwalk = shutil.which("snmpwalk")
    if snmpwalk is None:
        from tests.support.components import missing

        missing("snmpwalk (Debian package snmp) is not installed")
    out = subprocess.run(
        [snmpwalk, "-v2c", "-c", "public", "-On", "-Oq", f"127.0.0.1:{snmpd.port}", "1.3.6.1.2.1.1"],
        capture_output=True, text=True, timeout=20, check=True, env={"MIBS": "", "PATH": "/usr/bin"},
    ).stdout
    expected_oids = [line.split(" ", 1)[0].lstrip(".") for line in out.splitlines() if line.strip()]
    client = engine.client(v2c(snmpd.port))
    rows = await (client.bulk_walk("1.3.6.1.2.1.1") if bulk else client.walk("1.3.6.1.2.1.1"))
    assert [oid for oid, _ in rows] == expected_oids
    assert all(oid.startswith("1.3.6.1.2.1.1.") for oid, _ in rows)  # stopped at the end of the subtree


# --- snmpsim -----------------------------------------------------------------------------------

async def test_bulk_walk_of_a_10000_row_table(sim: SnmpSimRunner, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(sim.port, "big"))
    rows = await client.bulk_walk(BIG_TABLE_COLUMN, max_repetitions=50)
    assert len(rows) == BIG_TABLE_ROWS
    assert rows[0] == (f"{BIG_TABLE_COLUMN}.1", 7)
    assert rows[-1] == (f"{BIG_TABLE_COLUMN}.{BIG_TABLE_ROWS}", BIG_TABLE_ROWS * 7)
    indexes = [int(oid.rsplit(".", 1)[1]) for oid, _ in rows]
    assert indexes == list(range(1, BIG_TABLE_ROWS + 1))  # in order, no gaps, no duplicates


async def test_walk_stops_at_max_rows(sim: SnmpSimRunner, engine: SnmpEngineContext) -> None:
    rows = await engine.client(v2c(sim.port, "big")).bulk_walk(BIG_TABLE_COLUMN, max_rows=123)
    assert len(rows) == 123
    assert rows[-1][0] == f"{BIG_TABLE_COLUMN}.123"


async def test_getnext_walk_reads_the_same_rows_as_bulk(sim: SnmpSimRunner, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(sim.port, "big"))
    assert await client.walk(BIG_TABLE_COLUMN, max_rows=300) == await client.bulk_walk(BIG_TABLE_COLUMN, max_rows=300)


async def test_v3_against_snmpsim_selects_the_data_file_by_context(
    sim: SnmpSimRunner, engine: SnmpEngineContext
) -> None:
    user = sim.v3_user
    assert user is not None
    target = SnmpTarget(
        host="127.0.0.1", port=sim.port, community=None,
        v3=SnmpV3Credentials(user.user, "SHA", user.auth_key, "AES", user.priv_key),
    )
    values = await engine.client(target, context_name="big").get(SYS_DESCR, f"{BIG_TABLE_COLUMN}.5")
    assert values == {SYS_DESCR: "big table agent", f"{BIG_TABLE_COLUMN}.5": 35}


async def test_v3_wrong_priv_key_against_snmpsim_is_a_decryption_error(
    sim: SnmpSimRunner, engine: SnmpEngineContext
) -> None:
    user = sim.v3_user
    assert user is not None
    target = SnmpTarget(
        host="127.0.0.1", port=sim.port, community=None,
        v3=SnmpV3Credentials(user.user, "SHA", user.auth_key, "AES", "wrong-priv-key"),
    )
    with pytest.raises(SnmpAuthError):
        await engine.client(target, context_name="big").get(SYS_DESCR)


async def test_set_on_snmpsim_writecache(sim: SnmpSimRunner, engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(sim.port, "writable"))
    oid = "1.3.6.1.4.1.1248.4.1.1.2.1.0"
    await client.set(oid, 0)
    assert await client.get_value(oid) == 0
    await client.set(oid, 1)
    assert await client.get_value(oid) == 1


# --- a host that never answers ------------------------------------------------------------------

async def test_dead_host_get_fails_in_bounded_time(engine: SnmpEngineContext) -> None:
    client = engine.client(v2c(free_port(socket.SOCK_DGRAM)))
    started = time.monotonic()
    with pytest.raises(SnmpTimeout):
        await client.get(SYS_DESCR)
    assert time.monotonic() - started < client.worst_case_seconds + 1.5


async def test_dead_host_bulk_walk_ends(engine: SnmpEngineContext) -> None:
    # pysnmp's bulk walk retries a dead host for ever unless the caller breaks out.
    client = engine.client(v2c(free_port(socket.SOCK_DGRAM)), timeout=0.5, retries=1)
    started = time.monotonic()
    with pytest.raises(SnmpTimeout):
        await client.bulk_walk("1.3.6.1.2.1.1")
    assert time.monotonic() - started < client.worst_case_seconds + 1.5


async def test_silent_udp_socket_walk_ends(engine: SnmpEngineContext) -> None:
    # A socket that receives but never answers (a firewall that drops, a hung agent).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        client = engine.client(v2c(sink.getsockname()[1]), timeout=0.3, retries=2)
        started = time.monotonic()
        with pytest.raises(SnmpTimeout):
            await client.walk("1.3.6.1.2.1.1")
        assert time.monotonic() - started < client.worst_case_seconds + 1.5
        sink.settimeout(0.1)
        assert sink.recv(65535)  # the requests really went out


async def test_engine_context_refuses_a_second_event_loop(snmpd: Snmpd) -> None:
    import asyncio
    import threading

    context = SnmpEngineContext()
    try:
        await context.client(v2c(snmpd.port)).get(SYS_NAME)
        errors: list[BaseException] = []

        def other_loop() -> None:
            try:
                asyncio.run(context.client(v2c(snmpd.port)).get(SYS_NAME))
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_loop)
        thread.start()
        thread.join(10)
        assert errors and "another event loop" in str(errors[0])
    finally:
        context.close()


def test_url_v3_credentials_reach_the_client_without_leaking() -> None:
    target = parse_device_url("snmp://avfleet@127.0.0.1:1161?auth=SHA&auth_key=authpass123&priv=AES&priv_key=privpass123")
    client = SnmpEngineContext().client(target)
    assert "authpass123" not in repr(client) and "privpass123" not in repr(client)
