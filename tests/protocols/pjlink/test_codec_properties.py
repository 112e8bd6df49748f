"""Property tests: whatever bytes arrive, the codec returns a value or raises a typed PJLink error."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.errors import PJLinkError

TYPED = (PJLinkError,)

replies = st.sampled_from(
    [b"%1POWR=1", b"%1LAMP=1200 1 300 0", b"%1ERST=000210", b"%1AVMT=31", b"%2INST=11 3A 56", b"%1CLSS=Class 1",
     b"%2IRES=1920x1080", b"%2FILT=42", b"%1NAME=Aula", b"PJLINK 1 498e4a67", b"%2ACKN=00:26:ab:00:00:01"]
)


def _all_parsers(line: bytes) -> None:
    for fn in (codec.parse_reply, codec.parse_greeting, codec.parse_request, codec.parse_datagram):
        with contextlib.suppress(TYPED):
            fn(line)
    text = line.decode("utf-8", errors="replace")
    for command in ("POWR", "INPT", "INST", "AVMT", "ERST", "LAMP", "NAME", "INF1", "INF2", "INFO", "CLSS",
                    "SNUM", "SVER", "INNM", "IRES", "RRES", "FILT", "RLMP", "RFIL", "SVOL", "MVOL", "FREZ"):
        with contextlib.suppress(TYPED):
            codec.parse_value(command, text)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=700))
def test_random_bytes_never_raise_untyped(data):
    _all_parsers(data)


@settings(max_examples=300, deadline=None)
@given(replies, st.integers(min_value=0, max_value=40))
def test_truncated_replies(line, cut):
    _all_parsers(line[: max(0, len(line) - cut)])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_values(text):
    _all_parsers(("%1LAMP=" + text).encode("utf-8", errors="replace"))
    _all_parsers(text.encode("utf-8", errors="replace"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12), st.integers(min_value=16, max_value=512))
def test_framer_on_random_chunks(chunks, cap):
    framer = codec.LineFramer(max_line=cap)
    for chunk in chunks:
        try:
            lines = framer.feed(chunk)
        except TYPED:
            continue
        for line in lines:
            assert line and b"\r" not in line and b"\0" not in line and b"\n" not in line
            assert len(line) <= cap
            _all_parsers(line)
        assert len(framer.pending) <= cap


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=513, max_value=5000))
def test_oversize_lines_are_refused(size):
    framer = codec.LineFramer()
    try:
        framer.feed(b"%1NAME=" + b"a" * size)
    except TYPED as exc:
        assert exc.raw
    else:
        raise AssertionError("an oversize line was accepted")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 99999), st.booleans()), min_size=1, max_size=8))
def test_lamp_round_trip(lamps):
    value = " ".join(f"{h} {int(on)}" for h, on in lamps)
    assert codec.parse_lamps(value) == [codec.LampReading(h, on) for h, on in lamps]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789abcdef", min_size=8, max_size=8), st.text(max_size=32))
def test_digest_is_32_lowercase_hex(token, password):
    digest = codec.auth_digest(token, password)
    assert len(digest) == 32 and digest == digest.lower()
    assert codec.parse_request(codec.encode_request("POWR", digest=digest)[:-1]).digest == digest
