"""SnmpPoller: the DevicePoller for SNMP devices, driven by a device profile.

First contact reads the system group, picks the profile (the one named in the URL/config, else by
sysObjectID/sysDescr) and, for PDUs, walks the outlet index column once. Every later poll is one
GET (split into chunks of 40 varbinds) of every OID the profile maps, turned into the normalized
`DeviceStatus`. `poll()` never raises for device trouble:

- no answer -> unreachable. SNMPv1/v2c agents drop a wrong community silently, so a timeout cannot
  by itself be told from a dead host; the poller then sends one SNMPv3 discovery probe: if the agent
  answers that, the host is up and the detail says "wrong community?".
- SNMPv3 auth/decryption/unknown-user report -> auth_failed. net-snmp drops a request whose
  privacy key is wrong without a report; a timeout with a live discovery answer is reported as
  auth_failed "wrong privacy key?".
- an answer the profile cannot convert -> error.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import ValidationError

from avfleet.profiles.library import ProfileLibrary
from avfleet.profiles.schema import Profile
from avfleet.protocols.device_url import SnmpTarget, SnmpV3Credentials
from avfleet.protocols.errors import CommandError, CommandRetryable, CommandUnsupported
from avfleet.protocols.snmp.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, SnmpClient, SnmpEngineContext
from avfleet.protocols.snmp.errors import (
    SnmpAuthError,
    SnmpError,
    SnmpNotWritable,
    SnmpPduError,
    SnmpTimeout,
)
from avfleet.protocols.snmp.readings import UnparsableValue, oids_of, read, read_fault
from avfleet.protocols.snmp.values import SnmpScalar, as_mac, as_text
from avfleet.protocols.status import (
    FAULT_COMPONENTS,
    Availability,
    DeviceStatus,
    Faults,
    Identity,
    Kind,
    Lamp,
    Outlet,
    Power,
    Protocol,
)

log = logging.getLogger(__name__)

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_PHYS_ADDRESS = "1.3.6.1.2.1.2.2.1.6"
_GENERIC_VENDORS = {"generic", "unknown"}
_PROBE_USER = "avfleet-discovery-probe"


class SnmpPoller:
    """Polls one SNMP device. Pass a shared `engine` (one per event loop) and `library` in a fleet."""

    def __init__(
        self,
        device_id: str,
        target: SnmpTarget,
        *,
        kind: Kind | None = None,
        engine: SnmpEngineContext | None = None,
        library: ProfileLibrary | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        context_name: str = "",
        walk_deadline: float = 10.0,
    ) -> None:
        self.device_id = device_id
        self.target = target
        self._kind_override = Kind(kind) if kind else None
        self._owns_engine = engine is None
        self._engine = engine or SnmpEngineContext()
        self.library = library or ProfileLibrary.load()
        self._client: SnmpClient = self._engine.client(
            target, timeout=timeout, retries=retries, context_name=context_name
        )
        self._walk_deadline = walk_deadline
        self.profile: Profile | None = None
        self.selection_reason: str = "no profile picked yet (the device has not answered)"
        if target.profile:
            # A misspelt profile is a configuration error: fail at start, with suggestions.
            self.profile = self.library.get(target.profile)
            self.selection_reason = f"profile {self.profile.name} named in the device URL/config"
        self._discovered = False
        self._outlet_indexes: list[str] = []
        self._mac: str | None = None
        self._last_uptime: int | None = None
        self.sys_object_id: str | None = None
        self.sys_descr: str | None = None

    def __repr__(self) -> str:
        return f"SnmpPoller({self.device_id!r}, {self.target.redacted()}, profile={self.profile and self.profile.name})"

    @property
    def kind(self) -> Kind:
        if self._kind_override:
            return self._kind_override
        return self.profile.kind if self.profile else Kind.other

    # discovery ----------------------------------------------------------------------------------
    async def _discover(self) -> None:
        system = await self._client.get(SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)
        self.sys_descr = as_text(system[SYS_DESCR])
        self.sys_object_id = as_text(system[SYS_OBJECT_ID])
        if self.target.profile and self.profile is not None:
            match = self.library.match_snmp(self.sys_object_id, self.sys_descr)
            if match is not None and match.profile.name != self.profile.name:
                self.selection_reason = (
                    f"profile {self.profile.name} named in the device URL/config "
                    f"(auto-detection would pick {match.profile.name}: {match.reason})"
                )
        else:
            match = self.library.match_snmp(self.sys_object_id, self.sys_descr)
            if match is None:
                raise UnparsableValue("no profile matches and the library has no SNMP fallback profile")
            self.profile = match.profile
            self.selection_reason = match.reason
        snmp_map = self.profile.snmp
        self._outlet_indexes = []
        if snmp_map is not None and snmp_map.outlets is not None:
            table = snmp_map.outlets
            rows = await self._client.bulk_walk(
                table.index_column, max_rows=table.max_outlets, deadline=self._walk_deadline
            )
            prefix = table.index_column + "."
            self._outlet_indexes = [oid[len(prefix) :] for oid, _ in rows if oid.startswith(prefix)]
        self._mac = None
        if snmp_map is not None and snmp_map.identity.mac is None and snmp_map.mac_from_interfaces:
            try:
                rows = await self._client.bulk_walk(IF_PHYS_ADDRESS, max_rows=64, deadline=self._walk_deadline)
            except SnmpPduError:  # the MAC is a nicety: an agent that refuses the walk is still polled
                rows = []
            self._mac = next((mac for _, value in rows if (mac := as_mac(value))), None)
        self._discovered = True

    def _wanted_oids(self) -> list[str]:
        wanted = [SYS_UPTIME, SYS_NAME]
        snmp_map = self.profile.snmp if self.profile else None
        if snmp_map is not None:
            for _, reading in snmp_map.scalar_readings():
                wanted += oids_of(reading)
            if snmp_map.outlets is not None:
                for index in self._outlet_indexes:
                    for _, reading in snmp_map.table_readings():
                        wanted += oids_of(reading, index)
        return list(dict.fromkeys(wanted))

    # polling ------------------------------------------------------------------------------------
    async def poll(self) -> DeviceStatus:
        started = time.monotonic()
        try:
            if not self._discovered:
                await self._discover()
            values = await self._client.get(*self._wanted_oids())
            uptime = values.get(SYS_UPTIME)
            if isinstance(uptime, int):
                if self._last_uptime is not None and uptime < self._last_uptime:
                    self._discovered = False  # rebooted: outlets and MAC may have changed
                self._last_uptime = uptime
            return self._status(values)
        except SnmpTimeout as exc:
            return await self._timeout_status(exc, time.monotonic() - started)
        except SnmpAuthError as exc:
            return self._unavailable(Availability.auth_failed, str(exc))
        except UnparsableValue as exc:
            return self._unavailable(Availability.error, f"unparsable value: {exc}")
        except ValidationError as exc:  # e.g. negative lamp hours: answered, but not a valid reading
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            return self._unavailable(
                Availability.error, f"unparsable value: {where}: {first['msg']} (got {first.get('input')!r})"
            )
        except SnmpError as exc:
            return self._unavailable(Availability.error, str(exc))

    def _unavailable(self, availability: Availability, detail: str) -> DeviceStatus:
        return DeviceStatus(
            device_id=self.device_id,
            kind=self.kind,
            protocol=Protocol.snmp,
            availability=availability,
            detail=detail,
        )

    async def _answers_v3_discovery(self) -> bool:
        """True when the agent answers an SNMPv3 engine-discovery request (proves the host is up)."""
        probe_target = SnmpTarget(
            host=self.target.host, port=self.target.port, community=None, v3=SnmpV3Credentials(_PROBE_USER)
        )
        probe = self._engine.client(probe_target, timeout=1.0, retries=0)
        try:
            await probe.get(SYS_UPTIME)
        except SnmpAuthError:
            return True  # unknown user / unsupported level: it answered
        except SnmpError:
            return False
        return True

    async def _timeout_status(self, exc: SnmpTimeout, waited: float) -> DeviceStatus:
        alive = await self._answers_v3_discovery()
        if self.target.v3 is None:
            if alive:
                detail = (
                    f"no answer to community requests after {waited:.1f} s, but the agent answers SNMPv3 "
                    "discovery: no answer (wrong community?)"
                )
            else:
                detail = f"no answer after {waited:.1f} s (host down or filtered, or wrong community?)"
            return self._unavailable(Availability.unreachable, detail)
        if alive:
            return self._unavailable(
                Availability.auth_failed,
                f"the agent answers SNMPv3 discovery but not our authenticated requests after {waited:.1f} s "
                "(wrong privacy key?)",
            )
        return self._unavailable(Availability.unreachable, f"no answer after {waited:.1f} s ({exc})")

    def _status(self, values: dict[str, SnmpScalar]) -> DeviceStatus:
        profile = self.profile
        snmp_map = profile.snmp if profile else None
        identity = Identity(name=as_text(values.get(SYS_NAME)) or None, mac=self._mac)
        if profile is not None and profile.vendor.lower() not in _GENERIC_VENDORS:
            identity.manufacturer = profile.vendor
        power = Power.unknown
        faults = Faults()
        lamps: list[Lamp] = []
        outlets: list[Outlet] = []
        filter_hours = input_ = av_mute = power_w = None
        if snmp_map is not None:
            for field in ("manufacturer", "model", "serial", "firmware", "name", "mac"):
                value = read(getattr(snmp_map.identity, field), values)
                if value is not None:
                    setattr(identity, field, str(value))
            raw_power = read(snmp_map.power, values)
            power = Power(raw_power) if raw_power else Power.unknown
            for component in FAULT_COMPONENTS:
                setattr(faults, component, read_fault(getattr(snmp_map.faults, component), values))
            for lamp in snmp_map.lamps:
                hours = read(lamp.hours, values)
                if hours is None:
                    continue
                if int(hours) < 0:
                    where = ", ".join(oids_of(lamp.hours))
                    raise UnparsableValue(f"{where}: lamp hours {hours} below zero")
                on = read(lamp.on, values) if lamp.on is not None else None
                if on is None:
                    on = power in (Power.on, Power.warming)
                lamps.append(Lamp(hours=int(hours), on=bool(on)))
            filter_hours = read(snmp_map.filter_hours, values)
            input_ = read(snmp_map.input, values)
            av_mute = read(snmp_map.av_mute, values)
            power_w = read(snmp_map.power_w, values)
            table = snmp_map.outlets
            if table is not None:
                for position, index in enumerate(self._outlet_indexes, start=1):
                    name = read(table.name, values, index=index)
                    outlets.append(
                        Outlet(
                            index=int(index) if index.isdigit() else position,
                            name=str(name) if name is not None else None,
                            power_w=read(table.power_w, values, index=index),
                            energy_wh=read(table.energy_wh, values, index=index),
                            on=read(table.on, values, index=index),
                        )
                    )
                if power_w is None and any(o.power_w is not None for o in outlets):
                    power_w = float(sum(o.power_w or 0.0 for o in outlets))
        if self.kind == Kind.pdu and power == Power.unknown:
            power = Power.on  # a PDU that answers is powered
        return DeviceStatus(
            device_id=self.device_id,
            kind=self.kind,
            protocol=Protocol.snmp,
            availability=Availability.online,
            power=power,
            faults=faults,
            lamps=lamps,
            filter_hours=int(filter_hours) if filter_hours is not None else None,
            input=str(input_) if input_ is not None else None,
            av_mute=bool(av_mute) if av_mute is not None else None,
            power_w=float(power_w) if power_w is not None else None,
            outlets=outlets,
            identity=identity,
        )

    # commands -----------------------------------------------------------------------------------
    async def execute(self, action: str, args: dict[str, Any]) -> None:
        """power_on/power_off (device-level where the profile maps it, or with args {"outlet": N}
        to switch a PDU outlet); outlet_on/outlet_off are the same with a required outlet."""
        if action not in ("power_on", "power_off", "outlet_on", "outlet_off"):
            raise CommandUnsupported(f"{action} is not supported over SNMP")
        turn_on = action.endswith("_on")
        outlet = args.get("outlet")
        if action.startswith("outlet_") and outlet is None:
            raise CommandError(f"{action} needs args.outlet (the outlet number)")
        try:
            if not self._discovered:
                await self._discover()
            profile = self.profile
            snmp_map = profile.snmp if profile else None
            if snmp_map is None:
                raise CommandUnsupported(f"profile {profile and profile.name} has no SNMP commands")
            if outlet is not None:
                table = snmp_map.outlets
                if table is None or table.switch is None:
                    raise CommandUnsupported(f"profile {profile.name} cannot switch outlets")
                index = str(outlet)
                if self._outlet_indexes and index not in self._outlet_indexes:
                    raise CommandError(f"no outlet {index}; outlets are {', '.join(self._outlet_indexes)}")
                setting = table.switch.on if turn_on else table.switch.off
                await self._client.set(f"{table.switch.column}.{index}", setting.value, setting.type)
                return
            command = snmp_map.power_on if turn_on else snmp_map.power_off
            if command is None:
                raise CommandUnsupported(f"profile {profile.name} has no SNMP {action}")
            await self._client.set(command.oid, command.value, command.type)
        except SnmpTimeout as exc:
            raise CommandRetryable(f"no answer: {exc}") from exc
        except SnmpNotWritable as exc:
            raise CommandError(f"the agent refused the write ({exc.status}): read-only community or object") from exc
        except (SnmpError, UnparsableValue) as exc:
            raise CommandError(str(exc)) from exc

    async def close(self) -> None:
        if self._owns_engine:
            self._engine.close()
