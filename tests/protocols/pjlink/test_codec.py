"""The PJLink codec on bytes only: every value form, every deviation of the reference, the spec's auth vectors."""

from __future__ import annotations

import pytest

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import (
    AvMute,
    ErrorCode,
    ErrorLevel,
    ErrorStatus,
    LampReading,
    LineFramer,
    PowerState,
    Resolution,
)
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkParameterError,
    PJLinkProjectorFailure,
    PJLinkProtocolError,
    PJLinkUnavailable,
    PJLinkUndefinedCommand,
)

# ---------------------------------------------------------------- authentication


def test_spec_auth_vector_without_the_typo_space():
    assert codec.auth_digest("498e4a67", "JBMIAProjectorLink") == "5d8409bc1c3fa39749434aa3a5c38682"


def test_hitachi_auth_vector():
    assert codec.auth_digest("a572f60c", "password") == "e3d97429adffa11bce1f7275813d4bde"


def test_auth_line_carries_digest_before_first_command():
    digest = codec.auth_digest("498e4a67", "JBMIAProjectorLink")
    line = codec.encode_request("POWR", "?", digest=digest)
    assert line == b"5d8409bc1c3fa39749434aa3a5c38682%1POWR ?\r"
    parsed = codec.parse_request(line[:-1])
    assert parsed.digest == digest and parsed.command == "POWR" and parsed.param == "?"


@pytest.mark.parametrize("token", ["498e4a6", "498e4a6g", "498e4a6712", ""])
def test_token_must_be_eight_hex_chars(token):
    with pytest.raises(PJLinkProtocolError):
        codec.auth_digest(token, "x")


# ---------------------------------------------------------------- greetings


def test_greeting_without_auth():
    assert codec.parse_greeting(b"PJLINK 0") == codec.Greeting(None)
    assert not codec.parse_greeting(b"PJLINK 0").auth_required


def test_greeting_with_auth():
    g = codec.parse_greeting(b"PJLINK 1 498e4a67")
    assert g.auth_required and g.token == "498e4a67"


def test_mixed_case_greeting_is_accepted():  # deviation 2
    assert codec.parse_greeting(b"PJLink 1 498e4a67").token == "498e4a67"
    assert codec.parse_greeting(b"pjlink 0").token is None


def test_greeting_erra_is_auth_error():
    with pytest.raises(PJLinkAuthError):
        codec.parse_greeting(b"PJLINK ERRA")


@pytest.mark.parametrize("line", [b"HELLO 0", b"PJLINK 2", b"PJLINK 1 zzzzzzzz", b"PJLINK 1", b"", b"PJLINK 0 extra"])
def test_bad_greetings_are_protocol_errors_with_raw_bytes(line):
    with pytest.raises(PJLinkProtocolError) as err:
        codec.parse_greeting(line)
    assert err.value.raw == line


def test_greeting_encoding():
    assert codec.encode_greeting() == b"PJLINK 0\r"
    assert codec.encode_greeting("0123abcd") == b"PJLINK 1 0123abcd\r"
    assert codec.encode_greeting(None, mixed_case=True) == b"PJLink 0\r"


# ---------------------------------------------------------------- requests


def test_requests_are_strict():
    assert codec.encode_query("POWR") == b"%1POWR ?\r"
    assert codec.encode_request("INPT", "31") == b"%1INPT 31\r"
    assert codec.encode_request("SNUM", "?", 2) == b"%2SNUM ?\r"
    assert codec.encode_request("INNM", "?31", 2) == b"%2INNM ?31\r"
    assert codec.encode_request("powr", "1") == b"%1POWR 1\r"  # upper-cased on the wire
    for bad in (dict(command="POW"), dict(command="PO R"), dict(command="POWR", param="x" * 129),
                dict(command="POWR", param="1\r"), dict(command="POWR", pjlink_class=3)):
        with pytest.raises(ValueError):
            codec.encode_request(**bad)


def test_parse_request_without_digest_and_with_separator_rules():
    r = codec.parse_request(b"%2INPT 3A")
    assert (r.pjlink_class, r.command, r.param, r.digest) == (2, "INPT", "3A", None)
    assert codec.parse_request(b"%2SRCH").param == ""
    with pytest.raises(PJLinkProtocolError):
        codec.parse_request(b"%1POWR=1")
    with pytest.raises(PJLinkProtocolError):
        codec.parse_request(b"%3POWR ?")


# ---------------------------------------------------------------- replies


def test_reply_echo_and_value():
    r = codec.parse_reply(b"%1POWR=1")
    assert (r.pjlink_class, r.command, r.value, r.error) == (1, "POWR", "1", None)
    assert r.raise_for_error() is r


def test_lowercase_reply_echo_keeps_value_case():  # deviation 1
    r = codec.parse_reply(b"%1name=Optoma UHD")
    assert r.command == "NAME" and r.value == "Optoma UHD"


@pytest.mark.parametrize(
    "code,exc",
    [("ERR1", PJLinkUndefinedCommand), ("ERR2", PJLinkParameterError), ("ERR3", PJLinkUnavailable),
     ("ERR4", PJLinkProjectorFailure), ("err3", PJLinkUnavailable)],
)
def test_error_replies_map_to_device_errors(code, exc):
    reply = codec.parse_reply(f"%1LAMP={code}".encode())
    assert reply.error == ErrorCode(code.upper()) and reply.value == ""
    with pytest.raises(exc) as err:
        reply.raise_for_error()
    assert err.value.command == "LAMP"


def test_erra_reply_is_auth_error():
    with pytest.raises(PJLinkAuthError):
        codec.parse_reply(b"PJLINK ERRA")
    with pytest.raises(PJLinkAuthError):
        codec.parse_reply(b"pjlink erra")


@pytest.mark.parametrize(
    "line",
    [b"", b"%1POWR", b"#1POWR=1", b"%3POWR=1", b"%1PO R=1", b"%1POWR 1", b"%1POWR=" + b"x" * 129, b"garbage"],
)
def test_malformed_replies_carry_raw_bytes(line):
    with pytest.raises(PJLinkProtocolError) as err:
        codec.parse_reply(line)
    assert err.value.raw == line


def test_utf8_values_with_bad_bytes_are_replaced_not_fatal():
    r = codec.parse_reply("%2INNM=Hörsal ".encode() + b"\xff")
    assert r.value.startswith("Hörsal") and "\ufffd" in r.value


def test_reply_encoding_for_the_emulator():
    assert codec.encode_reply("POWR", "1") == b"%1POWR=1\r"
    assert codec.encode_reply("POWR", "1", lowercase=True) == b"%1powr=1\r"
    assert codec.encode_reply("SNUM", "X1", 2, terminator=b"\r\n") == b"%2SNUM=X1\r\n"


def test_query_reply_checks_the_echo():
    assert codec.parse_query_reply("POWR", b"%1POWR=3") == PowerState.warming
    with pytest.raises(PJLinkProtocolError):
        codec.parse_query_reply("POWR", b"%1ERST=000000")
    with pytest.raises(PJLinkUnavailable):
        codec.parse_query_reply("INPT", b"%1INPT=ERR3")


# ---------------------------------------------------------------- every value form


@pytest.mark.parametrize("value,expected", [("0", PowerState.standby), ("1", PowerState.on),
                                            ("2", PowerState.cooling), ("3", PowerState.warming)])
def test_power(value, expected):
    assert codec.parse_value("POWR", value) == expected


@pytest.mark.parametrize("value", ["4", "", "on", "11"])
def test_bad_power(value):
    with pytest.raises(PJLinkProtocolError):
        codec.parse_power(value)


def test_inputs_class1_and_class2():
    assert codec.parse_value("INPT", "31") == "31"
    assert codec.parse_input("3a", 2) == "3A"
    assert codec.parse_input("61", 2) == "61"
    for bad in ("3A", "61"):
        with pytest.raises(PJLinkProtocolError):
            codec.parse_input(bad, 1)
    for bad in ("71", "30", "3", "311", ""):
        with pytest.raises(PJLinkProtocolError):
            codec.parse_input(bad)
    assert codec.parse_value("INST", "11 12 21 31 32") == ["11", "12", "21", "31", "32"]
    assert codec.parse_value("INST", "") == []
    assert codec.parse_input_list("11 3A 56", 2) == ["11", "3A", "56"]


@pytest.mark.parametrize(
    "value,expected",
    [("10", AvMute(False, False)), ("11", AvMute(True, False)), ("20", AvMute(False, False)),
     ("21", AvMute(False, True)), ("30", AvMute(False, False)), ("31", AvMute(True, True))],
)
def test_av_mute(value, expected):
    assert codec.parse_value("AVMT", value) == expected


@pytest.mark.parametrize("value", ["40", "12", "3", "310", ""])
def test_bad_av_mute(value):
    with pytest.raises(PJLinkProtocolError):
        codec.parse_av_mute(value)


def test_error_status_by_component():
    s = codec.parse_value("ERST", "012021")
    assert s == ErrorStatus(ErrorLevel.ok, ErrorLevel.warning, ErrorLevel.error, ErrorLevel.ok, ErrorLevel.error,
                            ErrorLevel.warning)
    assert s.lamp == ErrorLevel.warning and s.temperature == ErrorLevel.error
    assert s.encode() == "012021"
    for bad in ("01202", "0120210", "012a21", "013000"):
        with pytest.raises(PJLinkProtocolError):
            codec.parse_error_status(bad)


def test_lamps():
    assert codec.parse_value("LAMP", "1200 1") == [LampReading(1200, True)]
    assert codec.parse_lamps("0 0 99999 1") == [LampReading(0, False), LampReading(99999, True)]
    eight = " ".join(["5 1"] * 8)
    assert len(codec.parse_lamps(eight)) == 8
    for bad in ("", "1200", "1200 2", "100000 1", "-1 1", "12 1 13", " ".join(["5 1"] * 9), "١٢ 1"):
        with pytest.raises(PJLinkProtocolError):
            codec.parse_lamps(bad)


@pytest.mark.parametrize("command", ["NAME", "INF1", "INF2", "INFO", "SNUM", "SVER", "INNM"])
def test_text_values(command):
    assert codec.parse_value(command, "Room A12 ") == "Room A12"
    assert codec.parse_value(command, "") == ""


@pytest.mark.parametrize("value,expected", [("1", 1), ("2", 2), ("Class 1", 1), ("Version1", 1), ("", 1),
                                            ("class 2", 2)])
def test_class_takes_first_digit(value, expected):  # deviation 3
    assert codec.parse_value("CLSS", value) == expected


def test_class_other_than_1_or_2_is_an_error():
    with pytest.raises(PJLinkProtocolError):
        codec.parse_class("3")


def test_resolutions():
    assert codec.parse_value("IRES", "1920x1080") == Resolution("ok", 1920, 1080)
    assert codec.parse_value("RRES", "1920X1200") == Resolution("ok", 1920, 1200)
    assert codec.parse_value("IRES", "-") == Resolution("none")
    assert codec.parse_value("IRES", "*") == Resolution("unrecognized")
    with pytest.raises(PJLinkProtocolError):
        codec.parse_resolution("1920")


def test_filter_hours_and_replacement_models():
    assert codec.parse_value("FILT", "0") == 0
    assert codec.parse_value("FILT", "12345") == 12345
    for bad in ("", "123456", "x"):
        with pytest.raises(PJLinkProtocolError):
            codec.parse_hours(bad)
    assert codec.parse_value("RLMP", "ELPLP96 ELPLP97") == ["ELPLP96", "ELPLP97"]
    assert codec.parse_value("RFIL", "") == []


def test_volume_and_freeze():
    assert codec.parse_value("SVOL", "OK") is None
    assert codec.parse_value("MVOL", "ok") is None
    with pytest.raises(PJLinkProtocolError):
        codec.parse_ok("1")
    assert codec.parse_value("FREZ", "1") is True
    assert codec.parse_value("FREZ", "0") is False
    with pytest.raises(PJLinkProtocolError):
        codec.parse_freeze("2")


def test_unknown_command_value():
    with pytest.raises(PJLinkProtocolError):
        codec.parse_value("ABCD", "1")


# ---------------------------------------------------------------- framing (deviations 4 and 5)


def test_framer_splits_on_cr():
    f = LineFramer()
    assert f.feed(b"PJLINK 0\r%1POWR=1\r%1ER") == [b"PJLINK 0", b"%1POWR=1"]
    assert f.pending == b"%1ER"
    assert f.feed(b"ST=000000\r") == [b"%1ERST=000000"]
    assert f.pending == b""


def test_framer_drops_nul_padding():
    f = LineFramer()
    assert f.feed(b"PJLINK 0\r\0\0\0%1POWR=0\r\0\0") == [b"PJLINK 0", b"%1POWR=0"]


def test_framer_handles_crlf_and_blank_lines_and_spaces():
    f = LineFramer()
    assert f.feed(b"\r\n\r\n  %1POWR=1 \r\n\r%1NAME=A B\r\n") == [b"%1POWR=1", b"%1NAME=A B"]


def test_framer_caps_a_line_without_cr():
    f = LineFramer(max_line=512)
    with pytest.raises(PJLinkProtocolError) as err:
        f.feed(b"x" * 600)
    assert err.value.raw == b"x" * 512
    assert f.pending == b""  # recovers: the garbage is dropped
    assert f.feed(b"%1POWR=1\r") == [b"%1POWR=1"]


def test_framer_caps_an_oversize_line_with_cr():
    with pytest.raises(PJLinkProtocolError):
        LineFramer(max_line=100).feed(b"y" * 101 + b"\r")


def test_framer_byte_by_byte():
    f = LineFramer()
    out = []
    for b in b"PJLink 1 498e4a67\r\n\0%1powr=2\r":
        out += f.feed(bytes([b]))
    assert out == [b"PJLink 1 498e4a67", b"%1powr=2"]


# ---------------------------------------------------------------- UDP datagrams


def test_search_and_ack():
    assert codec.encode_search() == b"%2SRCH\r"
    assert len(codec.encode_search()) == 7
    assert codec.parse_datagram(b"%2SRCH\r") == codec.SearchRequest()
    ack = codec.encode_datagram(codec.SearchAck("00:26:AB:00:00:01"))
    assert ack == b"%2ACKN=00:26:ab:00:00:01\r" and len(ack) == 25
    assert codec.parse_datagram(ack) == codec.SearchAck("00:26:ab:00:00:01")


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"%2LKUP=aa:bb:cc:dd:ee:ff\r", codec.LinkUp("aa:bb:cc:dd:ee:ff")),
        (b"%2ERST=000200\r", codec.ErrorNotice(ErrorStatus(cover=ErrorLevel.error))),
        (b"%2POWR=1\r", codec.PowerNotice(PowerState.on)),
        (b"%2POWR=3\r", codec.PowerNotice(PowerState.warming)),
        (b"%2INPT=31\r", codec.InputNotice("31")),
        (b"%2lkup=AA-BB-CC-DD-EE-FF\r\n\0", codec.LinkUp("aa:bb:cc:dd:ee:ff")),
    ],
)
def test_notifications_round_trip(data, expected):
    assert codec.parse_datagram(data) == expected
    assert codec.parse_datagram(codec.encode_datagram(expected)) == expected


def test_notification_sizes_match_the_spec():
    assert len(codec.encode_datagram(codec.LinkUp("aa:bb:cc:dd:ee:ff"))) == 25
    assert len(codec.encode_datagram(codec.ErrorNotice(ErrorStatus()))) == 14
    assert len(codec.encode_datagram(codec.PowerNotice(PowerState.on))) == 9
    assert len(codec.encode_datagram(codec.InputNotice("31"))) == 10


@pytest.mark.parametrize("data", [b"%2ACKN=nomac\r", b"%2ABCD=1\r", b"%2POWR=ERR3\r", b"%2POWR=9\r", b"hello",
                                  b"%2POWR=1\r%2POWR=0\r"])
def test_bad_datagrams(data):
    with pytest.raises(PJLinkProtocolError) as err:
        codec.parse_datagram(data)
    assert err.value.raw
