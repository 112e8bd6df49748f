"""Conversion between pysnmp/pyasn1 values and plain Python.

Everything the client returns goes through `to_python`: ints, text, bytes or an OID string, never a
pysnmp object. Going the other way, `to_snmp` builds the typed value a SET needs (an untyped value
would be refused with wrongType).
"""

from __future__ import annotations

from typing import Any

from pysnmp.proto import rfc1902, rfc1905

# What a successful read yields: None means "the agent has no such object".
SnmpScalar = int | str | bytes | None

_ABSENT = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)
_INTEGERS = (
    rfc1902.Integer,
    rfc1902.Integer32,
    rfc1902.Counter32,
    rfc1902.Counter64,
    rfc1902.Gauge32,
    rfc1902.Unsigned32,
    rfc1902.TimeTicks,
)

# The names a profile or a caller may use for a SET value type.
SET_TYPES: dict[str, Any] = {
    "integer": rfc1902.Integer32,
    "unsigned": rfc1902.Unsigned32,
    "gauge": rfc1902.Gauge32,
    "counter": rfc1902.Counter32,
    "timeticks": rfc1902.TimeTicks,
    "string": rfc1902.OctetString,
    "hex": rfc1902.OctetString,
    "oid": rfc1902.ObjectIdentifier,
    "ipaddress": rfc1902.IpAddress,
}


def is_absent(value: object) -> bool:
    return isinstance(value, _ABSENT)


def octets_to_python(raw: bytes) -> str | bytes:
    """Text when the octets are text (trailing NULs dropped, as ClickShare sends them), else the bytes."""
    stripped = raw.rstrip(b"\0")
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return text
    return raw


def to_python(value: object) -> SnmpScalar:
    """One varbind value as plain Python; None for noSuchObject/noSuchInstance/endOfMibView."""
    if is_absent(value) or isinstance(value, rfc1902.Null):
        return None
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in bytes(value.asOctets()))
    if isinstance(value, rfc1902.ObjectIdentifier):
        return str(value)
    if isinstance(value, _INTEGERS):
        return int(value)
    if isinstance(value, rfc1902.Bits | rfc1902.Opaque):
        return bytes(value.asOctets())
    if isinstance(value, rfc1902.OctetString):
        return octets_to_python(bytes(value.asOctets()))
    # Any other ASN.1 type: its printed form is the most honest plain value.
    return value.prettyPrint() if hasattr(value, "prettyPrint") else str(value)


def to_snmp(value: int | str | bytes, type_name: str) -> Any:
    """A typed SNMP value for a SET; `type_name` is one of SET_TYPES."""
    try:
        cls = SET_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown SNMP value type {type_name!r}; use one of {', '.join(SET_TYPES)}") from None
    if type_name == "hex":
        return cls(hexValue=value if isinstance(value, str) else bytes(value).hex())
    if cls is rfc1902.OctetString and isinstance(value, str):
        return cls(value.encode("utf-8"))
    return cls(value)


def as_text(value: SnmpScalar) -> str | None:
    """A value shown as text (bytes decoded leniently, NULs dropped)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8", "replace")
    return str(value)


def as_mac(value: SnmpScalar) -> str | None:
    """A 6-octet physical address as aa:bb:cc:dd:ee:ff; None when empty or all zero (loopback)."""
    if value is None:
        return None
    raw = value.encode("utf-8") if isinstance(value, str) else value if isinstance(value, bytes) else None
    if raw is None or len(raw) != 6 or raw == b"\0" * 6:
        return None
    return raw.hex(":")
