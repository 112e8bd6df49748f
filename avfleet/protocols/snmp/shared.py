"""What every SNMP poller of one process shares: the pysnmp engine and the profile library.

A pysnmp engine costs ~0.45 s of CPU and several MB to build, and loading the profile library
reads and validates every profile file (~0.3 s); made per device, an agent with 100 SNMP devices
spent over a minute of CPU starting. An agent makes one `SnmpShared` and hands
`poller_options()` to every SNMP poller it builds:

    shared = SnmpShared()
    poller = make_poller("disp-a12", "snmp://public@10.1.2.4", **shared.poller_options())
    ...
    await poller.close()      # leaves the shared engine alone
    shared.close()            # at shutdown, after the pollers

Both are made on first use, so an agent with only PJLink projectors builds neither. The engine
belongs to the event loop that first uses it (`SnmpEngineContext` refuses another loop).
"""

from __future__ import annotations

from typing import Any

from avfleet.profiles.library import ProfileLibrary
from avfleet.protocols.snmp.client import SnmpEngineContext


class SnmpShared:
    """One engine context and one profile library, each made once, on first use."""

    def __init__(self, *, library: ProfileLibrary | None = None, engine: SnmpEngineContext | None = None) -> None:
        self.engine = engine or SnmpEngineContext()
        self._library = library
        self.library_loads = 0  # how many times this object loaded the library (0 or 1): for tests and benchmarks

    @property
    def library(self) -> ProfileLibrary:
        if self._library is None:
            self._library = ProfileLibrary.load()
            self.library_loads += 1
        return self._library

    def poller_options(self) -> dict[str, Any]:
        """Keyword arguments for `SnmpPoller` / `make_poller` of an SNMP device."""
        return {"engine": self.engine, "library": self.library}

    def close(self) -> None:
        self.engine.close()


__all__ = ["SnmpShared"]
