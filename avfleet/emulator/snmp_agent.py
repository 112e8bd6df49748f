"""An in-process SNMPv2c command responder on asyncio, serving live values from Python callables.

snmpsim serves files; an emulated PDU must report watts that follow the emulated projectors *now*
and must obey outlet switching, so it needs values computed at request time. This agent speaks
real SNMPv2c bytes (pysnmp's codec, pyasn1 BER) on a UDP socket: GET, GETNEXT, GETBULK and SET,
with noSuchObject/noSuchInstance/endOfMibView, and the SET errors notWritable, wrongType and
noCreation. An unknown community is dropped without an answer, as real agents do.

    mib = MibStore()
    mib.add("1.3.6.1.2.1.1.1.0", SnmpType.string, "Emulated PDU")
    mib.add("1.3.6.1.4.1.x.1", SnmpType.gauge, lambda: meter.watts())
    agent = SnmpAgent({"public": mib})
    await agent.start()            # agent.port is the bound UDP port
    await agent.stop()
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api, rfc1902

log = logging.getLogger(__name__)


class SnmpType(IntEnum):
    """BER tags, as in the .snmprec format."""

    integer = 2
    string = 4
    oid = 6
    ipaddress = 64
    counter = 65
    gauge = 66
    timeticks = 67
    counter64 = 70


_WIRE_TYPES: dict[SnmpType, Any] = {
    SnmpType.integer: rfc1902.Integer32,
    SnmpType.string: rfc1902.OctetString,
    SnmpType.oid: rfc1902.ObjectIdentifier,
    SnmpType.ipaddress: rfc1902.IpAddress,
    SnmpType.counter: rfc1902.Counter32,
    SnmpType.gauge: rfc1902.Gauge32,
    SnmpType.timeticks: rfc1902.TimeTicks,
    SnmpType.counter64: rfc1902.Counter64,
}

# RFC 3416 error-status values the agent uses.
NO_ERROR, GEN_ERR, WRONG_TYPE, WRONG_VALUE, NO_CREATION, NOT_WRITABLE = 0, 5, 7, 10, 11, 17


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.strip().lstrip(".").split("."))


@dataclass
class MibEntry:
    type: SnmpType
    value: Any  # a plain value, or a callable returning one at request time
    on_set: Callable[[Any], Any] | None = None  # writable when given; may raise ValueError (wrongValue)

    def current(self) -> Any:
        return self.value() if callable(self.value) else self.value

    def encode(self) -> Any:
        value = self.current()
        wire = _WIRE_TYPES[self.type]
        if self.type == SnmpType.string:
            if isinstance(value, bytes):
                return wire(value)
            return wire(str(value).encode("utf-8"))
        if self.type in (SnmpType.counter, SnmpType.gauge, SnmpType.timeticks):
            return wire(max(0, int(value)) & 0xFFFFFFFF)
        if self.type == SnmpType.counter64:
            return wire(max(0, int(value)) & 0xFFFFFFFFFFFFFFFF)
        if self.type == SnmpType.integer:
            return wire(int(value))
        return wire(value)

    def snmprec_value(self) -> tuple[str, str]:
        """(tag, value) as written in a .snmprec file."""
        value = self.current()
        if self.type == SnmpType.string:
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            printable = all(32 <= b < 127 for b in raw)
            return ("4", raw.decode()) if printable and "|" not in raw.decode() else ("4x", raw.hex().upper())
        if self.type in (SnmpType.integer, SnmpType.counter, SnmpType.gauge, SnmpType.timeticks, SnmpType.counter64):
            return str(int(self.type)), str(int(value))
        return str(int(self.type)), str(value)


class MibStore:
    """The objects of one emulated device, kept in OID order for GETNEXT/GETBULK."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, ...], MibEntry] = {}
        self._keys: list[tuple[int, ...]] = []

    def add(
        self, oid: str, type_: SnmpType, value: Any, *, on_set: Callable[[Any], Any] | None = None
    ) -> MibEntry:
        key = _oid_key(oid)
        entry = MibEntry(SnmpType(type_), value, on_set)
        if key not in self._entries:
            bisect.insort(self._keys, key)
        self._entries[key] = entry
        return entry

    def __contains__(self, oid: str) -> bool:
        return _oid_key(oid) in self._entries

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key: tuple[int, ...]) -> MibEntry | None:
        return self._entries.get(key)

    def next_after(self, key: tuple[int, ...]) -> tuple[tuple[int, ...], MibEntry] | None:
        position = bisect.bisect_right(self._keys, key)
        if position >= len(self._keys):
            return None
        found = self._keys[position]
        return found, self._entries[found]

    def value(self, oid: str) -> Any:
        entry = self._entries.get(_oid_key(oid))
        return entry.current() if entry else None

    def to_snmprec(self) -> str:
        """A snapshot in snmpsim's .snmprec format (sorted, callables evaluated now)."""
        lines = []
        for key in self._keys:
            tag, value = self._entries[key].snmprec_value()
            lines.append(f"{'.'.join(map(str, key))}|{tag}|{value}")
        return "\n".join(lines) + "\n"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, agent: SnmpAgent) -> None:
        self.agent = agent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.agent.handle(data)
        except (PyAsn1Error, ValueError, KeyError, TypeError) as exc:
            # A malformed or unsupported request: real agents drop it (and count it); so do we.
            log.debug("dropping SNMP request from %s: %s", addr, exc)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class SnmpAgent:
    """Serves one MibStore per community on a UDP port of 127.0.0.1 (SNMPv2c)."""

    def __init__(self, communities: dict[str, MibStore], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.communities = dict(communities)
        self.host = host
        self.requested_port = port
        self.port = 0
        self.max_repetitions_cap = 64
        self.requests = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> SnmpAgent:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.requested_port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def running(self) -> bool:
        return self._transport is not None

    async def __aenter__(self) -> SnmpAgent:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # request handling (pure: bytes in, bytes out) ----------------------------------------------
    def handle(self, data: bytes) -> bytes | None:
        version = int(api.decodeMessageVersion(data))
        if version != api.SNMP_VERSION_2C:
            return None  # v1 and v3 are not emulated here (snmpsim and snmpd cover them in tests)
        p_mod = api.PROTOCOL_MODULES[version]
        request, _ = decoder.decode(data, asn1Spec=p_mod.Message())
        community = bytes(p_mod.apiMessage.get_community(request)).decode("utf-8", "replace")
        mib = self.communities.get(community)
        if mib is None:
            return None  # wrong community: no answer, like net-snmp and snmpsim
        self.requests += 1
        req_pdu = p_mod.apiMessage.get_pdu(request)
        response = p_mod.apiMessage.get_response(request)
        rsp_pdu = p_mod.apiMessage.get_pdu(response)
        if req_pdu.isSameTypeWith(p_mod.GetRequestPDU()):
            binds, status, index = self._get(p_mod, mib, p_mod.apiPDU.get_varbinds(req_pdu)), 0, 0
        elif req_pdu.isSameTypeWith(p_mod.GetNextRequestPDU()):
            binds, status, index = self._next(p_mod, mib, p_mod.apiPDU.get_varbinds(req_pdu)), 0, 0
        elif req_pdu.isSameTypeWith(p_mod.GetBulkRequestPDU()):
            binds, status, index = self._bulk(p_mod, mib, req_pdu), 0, 0
        elif req_pdu.isSameTypeWith(p_mod.SetRequestPDU()):
            binds, status, index = self._set(p_mod, mib, p_mod.apiPDU.get_varbinds(req_pdu))
        else:
            return None
        p_mod.apiPDU.set_varbinds(rsp_pdu, binds)
        p_mod.apiPDU.set_error_status(rsp_pdu, status)
        p_mod.apiPDU.set_error_index(rsp_pdu, index)
        return encoder.encode(response)

    def _get(self, p_mod: Any, mib: MibStore, binds: list) -> list:
        out = []
        for oid, _ in binds:
            key = tuple(oid)
            entry = mib.get(key)
            if entry is not None:
                out.append((oid, entry.encode()))
                continue
            # The object (column/scalar) exists but not this instance -> noSuchInstance.
            sibling = mib.next_after(key[:-1])
            known_object = sibling is not None and sibling[0][: len(key) - 1] == key[:-1]
            out.append((oid, p_mod.NoSuchInstance("") if known_object else p_mod.NoSuchObject("")))
        return out

    def _next_one(self, p_mod: Any, mib: MibStore, oid: Any) -> tuple[Any, Any]:
        found = mib.next_after(tuple(oid))
        if found is None:
            return oid, p_mod.EndOfMibView("")
        key, entry = found
        return p_mod.ObjectIdentifier(key), entry.encode()

    def _next(self, p_mod: Any, mib: MibStore, binds: list) -> list:
        return [self._next_one(p_mod, mib, oid) for oid, _ in binds]

    def _bulk(self, p_mod: Any, mib: MibStore, pdu: Any) -> list:
        non_repeaters = int(p_mod.apiBulkPDU.get_non_repeaters(pdu))
        repetitions = min(int(p_mod.apiBulkPDU.get_max_repetitions(pdu)), self.max_repetitions_cap)
        binds = p_mod.apiBulkPDU.get_varbinds(pdu)
        out = [self._next_one(p_mod, mib, oid) for oid, _ in binds[:non_repeaters]]
        cursors = [oid for oid, _ in binds[non_repeaters:]]
        for _ in range(repetitions):
            if not cursors:
                break
            row = [self._next_one(p_mod, mib, oid) for oid in cursors]
            out.extend(row)
            cursors = [oid for oid, _ in row]
            if all(isinstance(value, p_mod.EndOfMibView) for _, value in row):
                break
        return out

    def _set(self, p_mod: Any, mib: MibStore, binds: list) -> tuple[list, int, int]:
        # Validate every varbind first (SET is all-or-nothing), then apply.
        for position, (oid, value) in enumerate(binds, start=1):
            entry = mib.get(tuple(oid))
            if entry is None:
                return list(binds), NO_CREATION, position
            if entry.on_set is None:
                return list(binds), NOT_WRITABLE, position
            if value.tagSet != _WIRE_TYPES[entry.type].tagSet:
                return list(binds), WRONG_TYPE, position
        for position, (oid, value) in enumerate(binds, start=1):
            entry = mib.get(tuple(oid))
            if entry is None or entry.on_set is None:  # cannot happen: checked in the loop above
                return list(binds), GEN_ERR, position
            if entry.type == SnmpType.string:
                plain: Any = bytes(value)
            elif entry.type in (SnmpType.oid, SnmpType.ipaddress):
                plain = str(value) if entry.type == SnmpType.oid else value.prettyPrint()
            else:
                plain = int(value)
            try:
                entry.on_set(plain)
            except ValueError:
                return list(binds), WRONG_VALUE, position
        return [(oid, mib.get(tuple(oid)).encode()) for oid, _ in binds], NO_ERROR, 0
