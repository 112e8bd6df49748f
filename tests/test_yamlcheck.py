"""The YAML helper's limits on their own: brackets inside scalars do not count as nesting, a deep
flow document is refused before ruamel's scanner (slow in flow depth) sees it, aliases count once
expanded."""

from __future__ import annotations

import time

import pytest

from avfleet.yamlcheck import YamlCheckError, load_yaml


def test_brackets_in_scalars_and_comments_are_not_nesting() -> None:
    many = "[" * 40
    text = (f"url: pjlink://[::1]:4352\nname: \"{many}\"\nother: '{many}'\n"
            f"plain: a{many}\n# {many}\nok: [[1, 2], {{a: [3]}}]\n")
    tree = load_yaml(text, source="t.yaml")
    assert tree["url"] == "pjlink://[::1]:4352" and tree["ok"] == [[1, 2], {"a": [3]}]


def test_a_deep_flow_document_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(YamlCheckError) as info:
        load_yaml("a: " + "[" * 200_000 + "]" * 200_000 + "\n", source="t.yaml")
    assert str(info.value) == "t.yaml:1: (yaml): nested deeper than 32 levels; refused"
    assert time.monotonic() - started < 5.0  # ruamel alone needs minutes for a few thousand levels


def test_aliases_are_counted_expanded_and_a_modest_reuse_is_fine() -> None:
    small = "base: &b {x: 1, y: 2}\na: *b\nb: *b\n"
    assert load_yaml(small)["b"] == {"x": 1, "y": 2}
    with pytest.raises(YamlCheckError, match="alias bomb"):
        load_yaml("a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 101) + "]\n")


def test_size_limit() -> None:
    with pytest.raises(YamlCheckError, match="larger than 100 bytes"):
        load_yaml("a: " + "x" * 200, source="t.yaml", max_bytes=100)


def test_an_alias_to_its_own_collection_ends() -> None:
    # ruamel cuts the loop (the inner alias loads as None); the shape check must not spin on it either.
    assert load_yaml("ok: 1\na: &a [1, *a]\n", source="t.yaml")["a"] == [1, None]
