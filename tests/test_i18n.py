"""The one string catalogue: every key in both languages, with the same placeholders."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from avfleet.i18n import local_time, text
from avfleet.i18n.catalogue import CATALOGUE, _merge


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_key_has_swedish_and_english_with_the_same_placeholders(key: str) -> None:
    entry = CATALOGUE[key]
    assert entry.get("sv") and entry.get("en"), f"{key} lacks a language"
    assert _fields(entry["sv"]) == _fields(entry["en"]), key


def test_a_key_defined_in_two_parts_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"kind\.lamp"):
        _merge({"kind.lamp": {"sv": "a", "en": "b"}}, {"kind.lamp": {"sv": "c", "en": "d"}})


def test_unknown_language_falls_back_to_swedish_and_times_are_stockholm_24h() -> None:
    assert text("kind.lamp", "de") == "Lampfel"
    # 13:05 UTC on a winter day is 14:05 in Stockholm; in summer 15:05.
    assert local_time(datetime(2026, 12, 1, 13, 5, tzinfo=UTC)) == "2026-12-01 14:05"
    assert local_time(datetime(2026, 7, 1, 13, 5, tzinfo=UTC)) == "2026-07-01 15:05"
