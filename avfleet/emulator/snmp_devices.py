"""Emulated SNMP devices built from the device profiles: displays, SNMP projectors and a switched PDU.

A device's MIB is generated from its profile's SNMP object map (the same map the poller reads), by
inverting the value transforms: enum (value -> raw key), scale (divide), split (join the parts).
Readings whose raw form cannot be derived (a regex over a status string) are left out. The MIB can
be served live by the in-process `SnmpAgent` (values are callables evaluated per request: outlet
watts follow the emulated projectors, switching works) or written as `.snmprec` files for snmpsim.

    pdu = EmulatedPdu(library.get("raritan-px"), "room-a12/pdu",
                      outlets=[("pj-a12", projector_watts(projector, rated)), ("display", lambda: 60.0)])
    fleet = SnmpFleet([pdu, EmulatedDisplay(library.get("generic-display"), "room-a12/display")])
    await fleet.start()
    fleet.urls()    # ['snmp://room-a12%2Fpdu@127.0.0.1:PORT?profile=raritan-px', ...]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from avfleet.emulator.snmp_agent import MibStore, SnmpAgent, SnmpType
from avfleet.profiles.schema import Profile, RatedWatts, ValueSpec, specs

SYS = "1.3.6.1.2.1.1"
NET_SNMP_LINUX_OID = "1.3.6.1.4.1.8072.3.2.10"

Value = Any | Callable[[], Any]


def _call(value: Value) -> Any:
    return value() if callable(value) else value


def _inverse_enum(spec: ValueSpec, value: Any) -> str | None:
    for raw, mapped in (spec.enum or {}).items():
        if mapped == value or (isinstance(mapped, str) and str(value) == mapped):
            return raw
    return None


def _raw_for(spec: ValueSpec, value: Any) -> tuple[SnmpType, Any] | None:
    """The raw SNMP (type, value) that the poller turns back into `value` through `spec`."""
    if value is None:
        return None
    if spec.enum is not None:
        raw = _inverse_enum(spec, value)
        if raw is None:
            return None
        return (SnmpType.integer, int(raw)) if raw.lstrip("-").isdigit() else (SnmpType.string, raw)
    if spec.parse in ("int", "float"):
        number = float(value) / (spec.scale or 1.0)
        return SnmpType.integer if number < 0 else SnmpType.gauge, round(number)
    if spec.parse == "bool":
        return SnmpType.integer, 1 if value else 0
    if spec.parse == "mac":
        return SnmpType.string, bytes.fromhex(str(value).replace(":", ""))
    return SnmpType.string, str(value)


class EmulatedSnmpDevice:
    """An SNMP device emulated from a profile. `readings` maps status paths to values or callables:
    'identity.model', 'identity.serial', 'identity.firmware', 'identity.name', 'lamps[0].hours',
    'filter_hours', 'power_w', 'power' (a Power value), 'input', 'av_mute'."""

    def __init__(
        self,
        profile: Profile,
        community: str,
        *,
        name: str | None = None,
        sys_descr: str | None = None,
        mac: str | None = None,
        readings: dict[str, Value] | None = None,
    ) -> None:
        if profile.snmp is None:
            raise ValueError(f"profile {profile.name} has no SNMP object map to emulate")
        self.profile = profile
        self.community = community
        self.name = name or community.replace("/", "-")
        self.sys_descr = sys_descr or f"{profile.vendor} {profile.model} (avfleet emulator)"
        self.mac = mac
        self.readings: dict[str, Value] = dict(readings or {})
        self.readings.setdefault("identity.name", self.name)
        self._started = time.monotonic()
        self._mib: MibStore | None = None

    @property
    def sys_object_id(self) -> str:
        rec = self.profile.recognition.snmp
        return rec.sys_object_id[0] if rec and rec.sys_object_id else NET_SNMP_LINUX_OID

    @property
    def mib(self) -> MibStore:
        if self._mib is None:
            self._mib = self.build_mib()
        return self._mib

    def url(self, host: str, port: int, *, with_profile: bool = True) -> str:
        query = f"?profile={self.profile.name}" if with_profile else ""
        return f"snmp://{quote(self.community, safe='')}@{host}:{port}{query}"

    def build_mib(self) -> MibStore:
        mib = MibStore()
        mib.add(f"{SYS}.1.0", SnmpType.string, self.sys_descr)
        mib.add(f"{SYS}.2.0", SnmpType.oid, self.sys_object_id)
        mib.add(f"{SYS}.3.0", SnmpType.timeticks, lambda: int((time.monotonic() - self._started) * 100))
        mib.add(f"{SYS}.4.0", SnmpType.string, "avfleet emulator")
        mib.add(f"{SYS}.5.0", SnmpType.string, self._live("identity.name"))
        mib.add(f"{SYS}.6.0", SnmpType.string, "127.0.0.1")
        if self.mac:
            mib.add("1.3.6.1.2.1.2.2.1.1.1", SnmpType.integer, 1)
            mib.add("1.3.6.1.2.1.2.2.1.2.1", SnmpType.string, "eth0")
            mib.add("1.3.6.1.2.1.2.2.1.6.1", SnmpType.string, bytes.fromhex(self.mac.replace(":", "")))
        self._add_scalars(mib)
        self._add_table(mib)
        return mib

    def _add_scalars(self, mib: MibStore) -> None:
        snmp_map = self.profile.snmp
        assert snmp_map is not None  # checked in __init__
        split_parts: dict[str, tuple[str, dict[int, Value]]] = {}
        for label, reading in snmp_map.scalar_readings():
            if label.startswith("faults.") or label not in self.readings:
                continue
            primary = next((s for s in specs(reading) if s.oid is not None), None)
            if primary is None or primary.oid is None or primary.oid.startswith(SYS + "."):
                continue
            value = self._live(label)
            if primary.split is not None:
                parts = split_parts.setdefault(primary.oid, (primary.split.separator, {}))[1]
                parts[primary.split.index] = value
                continue
            if primary.regex is not None:
                continue  # cannot invert a pattern
            self._add_reading(mib, primary.oid, primary, value)
        for oid, (separator, parts) in split_parts.items():
            width = max(parts) + 1

            def joined(parts: dict[int, Value] = parts, width: int = width, separator: str = separator) -> str:
                return separator.join(str(_call(parts.get(i, ""))) for i in range(width))

            mib.add(oid, SnmpType.string, joined)

    def _live(self, label: str) -> Callable[[], Any]:
        """The reading's value at request time (the readings dict may be changed while serving)."""
        return lambda: _call(self.readings[label])

    @staticmethod
    def _add_reading(mib: MibStore, oid: str, spec: ValueSpec, value: Value, **kwargs: Any) -> None:
        sample = _raw_for(spec, _call(value))
        if sample is None:
            return
        kind = sample[0]

        def current(spec: ValueSpec = spec, value: Value = value) -> Any:
            raw = _raw_for(spec, _call(value))
            return raw[1] if raw else 0

        mib.add(oid, kind, current, **kwargs)

    def _add_table(self, mib: MibStore) -> None:
        """Per-row tables; the base device has none (see EmulatedPdu)."""

    def snmprec(self) -> str:
        return self.mib.to_snmprec()


class EmulatedDisplay(EmulatedSnmpDevice):
    """A flat panel with identity over SNMP (generic-display or a vendor profile)."""

    def __init__(self, profile: Profile, community: str, *, model: str = "Classroom Display 65", **kw: Any) -> None:
        serial = kw.pop("serial", f"DSP{abs(hash(community)) % 10**8:08d}")
        firmware = kw.pop("firmware", "1.2.3")
        readings = {"identity.model": model, "identity.serial": serial, "identity.firmware": firmware}
        readings |= kw.pop("readings", {})
        super().__init__(profile, community, readings=readings, **kw)


class EmulatedSnmpProjector(EmulatedSnmpDevice):
    """A projector giving identity and lamp hours over SNMP (e.g. epson-projector)."""

    def __init__(
        self,
        profile: Profile,
        community: str,
        *,
        lamp_hours: Value = 1234,
        serial: str = "X4E1234567",
        firmware: str = "1.02",
        **kw: Any,
    ) -> None:
        readings = {"lamps[0].hours": lamp_hours, "identity.serial": serial, "identity.firmware": firmware}
        readings |= kw.pop("readings", {})
        super().__init__(profile, community, readings=readings, **kw)


class _Outlet:
    def __init__(self, index: int, name: str, watts: Callable[[], float], on: bool, energy_wh: float) -> None:
        self.index = index
        self.name = name
        self._watts = watts
        self.on = on
        self._energy_wh = energy_wh
        self._last = time.monotonic()

    def _integrate(self) -> float:
        now = time.monotonic()
        watts = max(0.0, float(self._watts())) if self.on else 0.0
        self._energy_wh += watts * (now - self._last) / 3600.0
        self._last = now
        return watts

    def watts(self) -> float:
        return self._integrate()

    def energy_wh(self) -> float:
        self._integrate()
        return self._energy_wh

    def switch(self, on: bool) -> None:
        self._integrate()  # book the energy used at the old state first
        self.on = on


class EmulatedPdu(EmulatedSnmpDevice):
    """A switched, outlet-metered PDU. Each outlet draws what its callable says while it is on.

    `on_switch(index, on)` is called after an SNMP SET switches an outlet (so the demo can cut the
    emulated projector behind it).
    """

    def __init__(
        self,
        profile: Profile,
        community: str,
        *,
        outlets: list[tuple[str, Callable[[], float]]],
        on_switch: Callable[[int, bool], None] | None = None,
        initial_energy_wh: float = 0.0,
        **kw: Any,
    ) -> None:
        if profile.snmp is None or profile.snmp.outlets is None:
            raise ValueError(f"profile {profile.name} has no outlet table to emulate")
        self.outlets = [
            _Outlet(i, name, watts, True, initial_energy_wh) for i, (name, watts) in enumerate(outlets, start=1)
        ]
        self.on_switch = on_switch
        readings = {"identity.serial": "PDU0001", "identity.model": profile.model.split("/")[0]}
        readings |= kw.pop("readings", {})
        super().__init__(profile, community, readings=readings, **kw)
        if "power_w" not in self.readings:
            self.readings["power_w"] = self.total_watts

    def total_watts(self) -> float:
        return sum(o.watts() for o in self.outlets)

    def outlet(self, index: int) -> _Outlet:
        return self.outlets[index - 1]

    def _add_table(self, mib: MibStore) -> None:
        table = self.profile.snmp.outlets  # type: ignore[union-attr]  # checked in __init__
        for outlet in self.outlets:
            index = str(outlet.index)
            mib.add(f"{table.index_column}.{index}", SnmpType.integer, outlet.index)
            columns: list[tuple[Any, Value]] = [
                (table.name, outlet.name),
                (table.power_w, outlet.watts),
                (table.energy_wh, outlet.energy_wh),
                (table.on, lambda outlet=outlet: outlet.on),
            ]
            for reading, value in columns:
                primary = next((s for s in specs(reading) if s.column is not None), None)
                if primary is not None:
                    self._add_reading(mib, primary.instance(index), primary, value)
            switch = table.switch
            if switch is not None:

                def state(outlet: _Outlet = outlet, switch: Any = switch) -> int:
                    return int(switch.on.value if outlet.on else switch.off.value)

                def operate(raw: Any, outlet: _Outlet = outlet, switch: Any = switch) -> None:
                    if raw == int(switch.on.value):
                        outlet.switch(True)
                    elif raw == int(switch.off.value):
                        outlet.switch(False)
                    else:
                        raise ValueError(f"outlet command {raw} not supported")
                    if self.on_switch is not None:
                        self.on_switch(outlet.index, outlet.on)

                mib.add(f"{switch.column}.{index}", SnmpType.integer, state, on_set=operate)


def projector_watts(projector: Any, rated: RatedWatts) -> Callable[[], float]:
    """Watts of an emulated projector from its power state (anything with `.power.name`).

    on and warming draw the rated 'on' figure, cooling about a fifth (fans only), standby the
    networked-standby figure (the emulator answers on the network), else the standby figure.
    """
    standby = rated.networked_standby if rated.networked_standby is not None else (rated.standby or 0.5)

    def watts() -> float:
        state = getattr(getattr(projector, "power", None), "name", "standby")
        if state in ("on", "warming"):
            return rated.on
        if state == "cooling":
            return round(rated.on * 0.2, 1)
        return standby

    return watts


class SnmpFleet:
    """Emulated SNMP devices on one UDP port (one community each), served in-process."""

    def __init__(self, devices: list[EmulatedSnmpDevice], *, host: str = "127.0.0.1", port: int = 0) -> None:
        communities = [d.community for d in devices]
        if len(set(communities)) != len(communities):
            raise ValueError("every emulated SNMP device needs its own community")
        self.devices = devices
        self.agent = SnmpAgent({d.community: d.mib for d in devices}, host=host, port=port)

    @property
    def host(self) -> str:
        return self.agent.host

    @property
    def port(self) -> int:
        return self.agent.port

    async def start(self) -> SnmpFleet:
        await self.agent.start()
        return self

    async def stop(self) -> None:
        await self.agent.stop()

    async def __aenter__(self) -> SnmpFleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def urls(self, *, with_profile: bool = True) -> list[str]:
        return [d.url(self.host, self.port, with_profile=with_profile) for d in self.devices]
