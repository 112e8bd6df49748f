"""Conversion of pysnmp values to plain Python and back (pure)."""

from __future__ import annotations

import pytest
from pysnmp.proto import rfc1902, rfc1905

from avfleet.protocols.snmp.client import normalize_oid, oid_in_subtree
from avfleet.protocols.snmp.values import as_mac, as_text, to_python, to_snmp


def test_octet_string_with_trailing_nul_is_text() -> None:
    assert to_python(rfc1902.OctetString(b"R9861520EU\x00")) == "R9861520EU"


def test_binary_octets_stay_bytes_and_format_as_mac() -> None:
    value = to_python(rfc1902.OctetString(bytes.fromhex("B0E892FD30EC")))
    assert value == bytes.fromhex("B0E892FD30EC")
    assert as_mac(value) == "b0:e8:92:fd:30:ec"


def test_mac_of_an_empty_or_zero_address_is_none() -> None:
    assert as_mac(b"") is None
    assert as_mac(b"\0" * 6) is None
    assert as_mac(None) is None


def test_numbers_oids_and_addresses_are_plain() -> None:
    assert to_python(rfc1902.Gauge32(4_000_000_000)) == 4_000_000_000
    assert to_python(rfc1902.Counter64(2**40)) == 2**40
    assert to_python(rfc1902.Integer32(-1)) == -1
    assert to_python(rfc1902.TimeTicks(12345)) == 12345
    assert to_python(rfc1902.ObjectIdentifier("1.3.6.1.4.1.1248.4.1")) == "1.3.6.1.4.1.1248.4.1"
    assert to_python(rfc1902.IpAddress("10.1.2.3")) == "10.1.2.3"
    for value in (rfc1902.Gauge32(1), rfc1902.ObjectIdentifier("1.3"), rfc1902.OctetString(b"x")):
        assert type(to_python(value)) in (int, str, bytes)


@pytest.mark.parametrize("absent", [rfc1905.NoSuchObject(""), rfc1905.NoSuchInstance(""), rfc1905.EndOfMibView("")])
def test_absent_values_are_none(absent: object) -> None:
    assert to_python(absent) is None


def test_to_snmp_types_values_for_set() -> None:
    assert isinstance(to_snmp(1, "integer"), rfc1902.Integer32)
    assert bytes(to_snmp("abc", "string")) == b"abc"
    assert bytes(to_snmp("00ff", "hex")) == b"\x00\xff"
    with pytest.raises(ValueError, match="unknown SNMP value type 'float'"):
        to_snmp(1.5, "float")


def test_as_text_drops_nuls_and_decodes_bytes() -> None:
    assert as_text(b"55.652\x00") == "55.652"
    assert as_text(42) == "42"


def test_oid_normalization_and_subtree() -> None:
    assert normalize_oid(".1.3.6.1.2.1.1.1.0") == "1.3.6.1.2.1.1.1.0"
    with pytest.raises(ValueError, match="not a numeric OID"):
        normalize_oid("SNMPv2-MIB::sysDescr.0")
    assert oid_in_subtree("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1")
    assert not oid_in_subtree("1.3.6.1.2.1.10.5.0", "1.3.6.1.2.1.1")
