"""Device URLs: what each form parses to, and that bad ones name their problem without leaking secrets."""

from __future__ import annotations

import pytest

from avfleet.protocols.device_url import DeviceUrlError, PJLinkTarget, SnmpTarget, parse_device_url


def test_pjlink_with_password_and_port() -> None:
    target = parse_device_url("pjlink://:s3cret@10.1.2.3:4353")
    assert target == PJLinkTarget(host="10.1.2.3", port=4353, password="s3cret")
    assert "s3cret" not in repr(target)
    assert "s3cret" not in target.redacted()


def test_pjlink_defaults() -> None:
    target = parse_device_url("pjlink://projector.local")
    assert isinstance(target, PJLinkTarget)
    assert (target.port, target.password) == (4352, None)


def test_pjlink_password_may_be_percent_encoded() -> None:
    assert parse_device_url("pjlink://:a%40b@h").password == "a@b"


def test_snmp_v2c_community_and_profile() -> None:
    target = parse_device_url("snmp://private@127.0.0.1:1161?profile=raritan-px2")
    assert isinstance(target, SnmpTarget)
    assert (target.community, target.port, target.profile, target.v3) == ("private", 1161, "raritan-px2", None)


def test_snmp_default_community_and_config_profile_wins() -> None:
    target = parse_device_url("snmp://10.0.0.9?profile=a", profile="b")
    assert (target.community, target.port, target.profile) == ("public", 161, "b")


def test_snmp_v3() -> None:
    target = parse_device_url("snmp://avfleet@h:1162?auth=sha&auth_key=authpass123&priv=aes&priv_key=privpass123")
    assert target.v3 is not None
    assert (target.v3.user, target.v3.auth_protocol, target.v3.priv_protocol) == ("avfleet", "SHA", "AES")
    assert target.community is None
    assert "authpass123" not in repr(target) and "privpass123" not in target.redacted()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://h", "unknown scheme"),
        ("pjlink://", "no host"),
        ("pjlink://user:pw@h", "no user name"),
        ("pjlink://h:99999", "port"),
        ("pjlink://h?x=1", "no query"),
        ("snmp://h?colour=red", "unknown parameter"),
        ("snmp://h?auth=SHA&auth_key=authpass123", "needs a user"),
        ("snmp://u@h?auth=SHA", "go together"),
        ("snmp://u@h?auth=XXX&auth_key=authpass123", "unknown"),
        ("snmp://u@h?priv=AES&priv_key=privpass123", "needs authentication"),
        ("snmp://u@h?auth=SHA&auth_key=short", "at least 8"),
        ("snmp://u:pw@h", "not USER:PASSWORD"),
    ],
)
def test_bad_urls_name_the_problem(url: str, fragment: str) -> None:
    with pytest.raises(DeviceUrlError) as info:
        parse_device_url(url)
    assert fragment in str(info.value)


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(DeviceUrlError) as info:
        parse_device_url("pjlink://:topsecret@h:notaport")
    assert "topsecret" not in str(info.value)


# A URL is read whole or refused: each of these was once cut short or silently changed by urlsplit.
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pjlink://h:4352/x", "pjlink://h:4352: unexpected text after the host and port ('/x')"),
        ("pjlink://h:4352garbage", "pjlink://h: the port is not a number between 1 and 65535"),
        ("pjlink://h:", "pjlink://h: empty port after ':'; write HOST:PORT or leave the port out"),
        ("pjlink://h:0", "pjlink://h: the port is not a number between 1 and 65535"),
        ("pjlink://h:4352:1", "pjlink://h: 'h:4352' is not a host name or IP address"),
        ("pjlink://:p%zz@h", "pjlink://***@h: bad percent-encoding in the password (% takes two hex digits)"),
        ("pjlink://:p%ff@h", "pjlink://***@h: the password is not UTF-8 once percent-decoded"),
        ("pjlink://ho st", "pjlink://ho st: a space or control character in the URL (percent-encode it)"),
        ("pjlink://ho\tst", "pjlink://host: a space or control character in the URL (percent-encode it)"),
        ("pjlink://h#x", "pjlink://h: a device URL takes no #fragment"),
        ("pjlink://:a@b@h", "pjlink://***@h: more than one '@'; percent-encode an @ in a password as %40"),
        ("pjlink://[::1]x", "pjlink://::1: unexpected text after the IPv6 address"),
        ("snmp://h?profile=a&profile=b", "snmp://h: parameter profile given twice"),
        ("snmp://h?profile", "snmp://h: query part 'profile' is not NAME=VALUE"),
        ("snmp://h?profile=a%zz", "snmp://h: bad percent-encoding in the parameter profile (% takes two hex digits)"),
        ("snmp://%ff@h", "snmp://***@h: the community or user name is not UTF-8 once percent-decoded"),
        ("snmp://pub%@h", "snmp://***@h: bad percent-encoding in the community or user name (% takes two hex digits)"),
    ],
)
def test_a_url_is_read_whole_or_refused(url: str, message: str) -> None:
    with pytest.raises(DeviceUrlError) as info:
        parse_device_url(url)
    assert str(info.value) == message


def test_what_a_whole_url_may_hold() -> None:
    assert parse_device_url("pjlink://[::1]:4353") == PJLinkTarget(host="::1", port=4353)
    assert parse_device_url("pjlink://h.example.org./") == PJLinkTarget(host="h.example.org.")
    assert parse_device_url("  snmp://c%C3%A5@h?profile=x  ").community == "cå"
