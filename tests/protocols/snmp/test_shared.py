"""SnmpShared: one engine for a fleet, a second only where SNMPv3 keys would collide on one engine.

Against two real net-snmp agents whose v3 user has the same name but different keys (as two
schools' displays configured by different people would be): on one pysnmp engine the keys overwrite
each other between requests and some polls fail as auth errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from avfleet.profiles.library import ProfileLibrary
from avfleet.protocols.device_url import SnmpTarget, SnmpV3Credentials
from avfleet.protocols.snmp.poller import SnmpPoller
from avfleet.protocols.snmp.shared import SnmpShared
from avfleet.protocols.status import Availability
from tests.protocols.snmp.snmpd import READ_COMMUNITY, V3_USER, Snmpd


@pytest.fixture(scope="module")
def two_snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Snmpd, Snmpd]]:
    first = Snmpd(tmp_path_factory.mktemp("snmpd-a"), auth_key="authkey-aaaa", priv_key="privkey-aaaa")
    second = Snmpd(tmp_path_factory.mktemp("snmpd-b"), auth_key="authkey-bbbb", priv_key="privkey-bbbb")
    first.start()
    try:
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def v3_target(agent: Snmpd) -> SnmpTarget:
    return SnmpTarget("127.0.0.1", agent.port, None, SnmpV3Credentials(V3_USER, "SHA", agent.auth_key, "AES",
                                                                       agent.priv_key))


def test_devices_share_one_engine_unless_v3_keys_differ_under_one_user_name() -> None:
    library = ProfileLibrary.load()
    shared = SnmpShared(library=library)
    a = SnmpTarget("127.0.0.1", 1161, None, SnmpV3Credentials("tech", "SHA", "key-a", "AES", "priv-a"))
    a_again = SnmpTarget("127.0.0.2", 1161, None, SnmpV3Credentials("tech", "SHA", "key-a", "AES", "priv-a"))
    b = SnmpTarget("127.0.0.3", 1161, None, SnmpV3Credentials("tech", "SHA", "key-b", "AES", "priv-b"))
    other_user = SnmpTarget("127.0.0.4", 1161, None, SnmpV3Credentials("other", "SHA", "key-b", "AES", "priv-b"))
    v2c = SnmpTarget("127.0.0.5", 161, "public")
    assert shared.engine_for(v2c) is shared.engine
    assert shared.engine_for(a) is shared.engine and shared.engine_for(a_again) is shared.engine
    assert shared.engine_for(other_user) is shared.engine
    assert shared.engine_for(b) is not shared.engine
    assert len(shared.engines) == 2
    assert shared.poller_options(v2c) == {"engine": shared.engine, "library": library}
    assert shared.library_loads == 0  # a library handed in is not loaded again


async def test_same_v3_user_with_other_keys_polls_cleanly_beside_v2c(two_snmpd: tuple[Snmpd, Snmpd]) -> None:
    first, second = two_snmpd
    shared = SnmpShared()
    try:
        targets = [v3_target(first), v3_target(second), SnmpTarget("127.0.0.1", first.port, READ_COMMUNITY)]
        pollers = [SnmpPoller(f"d{i}", t, **shared.poller_options(t)) for i, t in enumerate(targets)]
        assert shared.library_loads == 1 and all(p.library is shared.library for p in pollers)
        results: list[list[Availability]] = [[] for _ in pollers]

        async def keep_polling(index: int) -> None:
            for _ in range(40):
                results[index].append((await pollers[index].poll()).availability)

        await asyncio.gather(*(keep_polling(i) for i in range(len(pollers))))
        assert [set(r) for r in results] == [{Availability.online}] * 3, results
        assert [e.engines_built for e in shared.engines] == [1, 1]  # v2c and the first v3 key set share one
    finally:
        shared.close()
