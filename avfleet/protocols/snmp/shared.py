"""What every SNMP poller of one process shares: the pysnmp engine and the profile library.

A pysnmp engine costs ~0.45 s of CPU to build, and loading the profile library reads and validates
every profile file (0.1-0.3 s); made per device, an agent with 100 SNMP devices spent 71 s of CPU
starting instead of 16 s, and 208 MB of RSS instead of 81 MB (benchmarks/agent_load.py --snmp 100).
An agent makes one `SnmpShared` and hands `poller_options(target)` to every SNMP poller it builds:

    shared = SnmpShared()
    target = parse_device_url("snmp://public@10.1.2.4")
    poller = make_poller("disp-a12", target, **shared.poller_options(target))
    ...
    await poller.close()      # leaves the shared engine alone
    shared.close()            # at shutdown, after the pollers

Both are made on first use, so an agent with only PJLink projectors builds neither. An engine
belongs to the event loop that first uses it (`SnmpEngineContext` refuses another loop).

One exception to "one engine": pysnmp keeps one SNMPv3 user per user name in an engine, so two
devices with the same v3 user name but different keys would overwrite each other's keys between
requests (measured: 1 to 2 requests in 100 fail as an auth error, a false `auth_failed`). Such a
device gets a second engine; v1/v2c devices and v3 devices whose credentials agree share the first.
"""

from __future__ import annotations

from typing import Any

from avfleet.profiles.library import ProfileLibrary
from avfleet.protocols.device_url import SnmpTarget, SnmpV3Credentials
from avfleet.protocols.snmp.client import SnmpEngineContext


class SnmpShared:
    """The engine context(s) and the one profile library of a process, each made on first use."""

    def __init__(self, *, library: ProfileLibrary | None = None, engine: SnmpEngineContext | None = None) -> None:
        self._engines: list[SnmpEngineContext] = [engine or SnmpEngineContext()]
        # Per engine: v3 user name -> the credentials installed under it.
        self._v3_users: list[dict[str, SnmpV3Credentials]] = [{}]
        self._library = library
        self.library_loads = 0  # how many times this object loaded the library (0 or 1): for tests and benchmarks

    @property
    def engine(self) -> SnmpEngineContext:
        """The engine every v1/v2c device and every non-conflicting v3 device uses."""
        return self._engines[0]

    @property
    def engines(self) -> list[SnmpEngineContext]:
        return list(self._engines)

    def engine_for(self, target: SnmpTarget) -> SnmpEngineContext:
        v3 = target.v3
        if v3 is None:
            return self._engines[0]
        for engine, users in zip(self._engines, self._v3_users, strict=True):
            installed = users.setdefault(v3.user, v3)
            if installed == v3:
                return engine
        self._engines.append(SnmpEngineContext())
        self._v3_users.append({v3.user: v3})
        return self._engines[-1]

    @property
    def library(self) -> ProfileLibrary:
        if self._library is None:
            self._library = ProfileLibrary.load()
            self.library_loads += 1
        return self._library

    def poller_options(self, target: SnmpTarget) -> dict[str, Any]:
        """Keyword arguments for `SnmpPoller` / `make_poller` of this SNMP device."""
        return {"engine": self.engine_for(target), "library": self.library}

    def close(self) -> None:
        for engine in self._engines:
            engine.close()


__all__ = ["SnmpShared"]
