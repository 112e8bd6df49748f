"""The shipped profile library: library-wide invariants, lookups, and errors that name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avfleet.profiles.library import (
    ProfileError,
    ProfileLibrary,
    UnknownProfile,
    firmware_configs_dir,
    load_library,
    profiles_dir,
)
from avfleet.profiles.schema import Capability, ProtocolName, specs
from avfleet.protocols.status import Kind


@pytest.fixture(scope="module")
def library() -> ProfileLibrary:
    return load_library()


def test_every_shipped_file_loads(library: ProfileLibrary) -> None:
    files = sorted(profiles_dir().glob("*.yaml"))
    assert len(library) == len(files) >= 15
    assert profiles_dir().parent == firmware_configs_dir()


def test_the_required_families_are_there(library: ProfileLibrary) -> None:
    kinds = {p.name: p.kind for p in library}
    for name in ("generic-pjlink-class1", "generic-pjlink-class2", "epson-projector", "christie-projector",
                 "generic-display", "generic-host", "raritan-px", "apc-rack-pdu", "planet-ipm", "cyberpower-epdu",
                 "barco-clickshare"):
        assert name in kinds, name
    switching = [p for p in library if p.kind == Kind.pdu and p.snmp.outlets and p.snmp.outlets.switch
                 and p.snmp.outlets.power_w and p.snmp.outlets.energy_wh]
    assert len({p.vendor for p in switching}) >= 3  # per-outlet watts, energy and switching
    models = [p for p in library if p.kind == Kind.projector and p.rated_watts and p.vendor != "Generic"]
    assert len(models) >= 5


def test_models_are_unique(library: ProfileLibrary) -> None:
    pairs = [(p.vendor.lower(), p.model.lower()) for p in library]
    assert len(pairs) == len(set(pairs))


def test_every_alias_resolves_to_its_profile(library: ProfileLibrary) -> None:
    names = [n.lower() for p in library for n in p.all_names]
    assert len(names) == len(set(names)), "a name or alias is used twice"
    for profile in library:
        for name in profile.all_names:
            assert library.get(name) is profile
            assert library.get(name.upper()) is profile


def test_every_mapped_reading_has_an_oid(library: ProfileLibrary) -> None:
    for profile in library:
        if profile.snmp is None:
            continue
        for label, reading in [*profile.snmp.scalar_readings(), *profile.snmp.table_readings()]:
            for spec in specs(reading):
                assert spec.oid or spec.column or spec.value is not None, f"{profile.name}: {label}"
                if label.startswith("outlets."):
                    assert spec.column, f"{profile.name}: {label} must be a column"


def test_rated_watts_are_ordered(library: ProfileLibrary) -> None:
    for profile in library:
        watts = profile.rated_watts
        if watts is None:
            continue
        if watts.eco is not None:
            assert watts.on > watts.eco, profile.name
        low = watts.eco if watts.eco is not None else watts.on
        if watts.standby is not None:
            assert low >= watts.standby, profile.name
        if watts.networked_standby is not None:
            assert low >= watts.networked_standby, profile.name


def test_every_projector_model_has_rated_watts(library: ProfileLibrary) -> None:
    for profile in library:
        family = "family" in profile.model.lower()
        if profile.kind == Kind.projector and not family:
            assert profile.rated_watts is not None, profile.name
            assert profile.lamp is not None, f"{profile.name}: lamp/light-source life"


def test_capabilities_are_backed_by_the_snmp_map(library: ProfileLibrary) -> None:
    for profile in library:
        snmp_only = profile.protocols == [ProtocolName.snmp]
        caps = set(profile.capabilities)
        outlets = profile.snmp.outlets if profile.snmp else None
        if Capability.outlet_switching in caps:
            assert outlets is not None and outlets.switch is not None, profile.name
        if Capability.outlet_power in caps:
            assert outlets is not None and outlets.power_w is not None, profile.name
        if Capability.outlet_energy in caps:
            assert outlets is not None and outlets.energy_wh is not None, profile.name
        if snmp_only and Capability.lamp_hours in caps:
            assert profile.snmp.lamps, profile.name


def test_each_snmp_profile_is_recognized_by_its_own_sys_object_id(library: ProfileLibrary) -> None:
    for profile in library:
        rec = profile.recognition.snmp
        for prefix in rec.sys_object_id if rec else []:
            match = library.match_snmp(prefix + ".1.2", "")
            assert match is not None and match.profile is profile, prefix
            assert prefix in match.reason


def test_epson_printers_are_not_epson_projectors(library: ProfileLibrary) -> None:
    match = library.match_snmp("1.3.6.1.4.1.1248.1.2.2.1", "EPSON WF-C5790")
    assert match is not None and match.profile.name == "generic-host"
    assert "fallback" in match.reason


def test_longest_sys_object_id_prefix_wins(tmp_path: Path, library: ProfileLibrary) -> None:
    for name in ("raritan-px.yaml", "generic-host.yaml"):
        shutil.copy(profiles_dir() / name, tmp_path / name)
    (tmp_path / "raritan-px5.yaml").write_text(
        "name: raritan-px5\nextends: raritan-px\nvendor: Raritan\nmodel: PX5\nkind: pdu\n"
        "recognition:\n  snmp:\n    sys_object_id: [1.3.6.1.4.1.13742.6.99]\n"
    )
    small = ProfileLibrary.load(tmp_path)
    assert small.match_snmp("1.3.6.1.4.1.13742.6.99.1", "").profile.name == "raritan-px5"
    assert small.match_snmp("1.3.6.1.4.1.13742.6.1", "").profile.name == "raritan-px"
    # the child inherits the parent's object map but not its aliases
    assert small.get("raritan-px5").snmp == small.get("raritan-px").snmp
    assert small.get("raritan-px5").aliases == []


def test_pjlink_matching(library: ProfileLibrary) -> None:
    assert library.match_pjlink("EPSON", "EB-2250U", "2").profile.name == "epson-eb-2250u"
    assert library.match_pjlink("EPSON", "EB-X9999", "1").profile.name == "epson-projector"
    assert library.match_pjlink("NEC", "ME403U", "2").profile.name == "nec-me403u"
    unknown = library.match_pjlink("ACME", "Beamer 3000", "2")
    assert unknown.profile.name == "generic-pjlink-class2" and "class 2" in unknown.reason
    assert library.match_pjlink(None, None, None).profile.name == "generic-pjlink-class1"
    # a model profile needs its maker too: an NEC INF2 from another maker is not an NEC
    assert library.match_pjlink("ACME", "ME403U", "1").profile.name == "generic-pjlink-class1"


def test_unknown_name_suggests_close_ones(library: ProfileLibrary) -> None:
    with pytest.raises(UnknownProfile) as caught:
        library.get("apc-rack-pd")
    assert "apc-rack-pdu" in caught.value.suggestions
    assert "did you mean" in str(caught.value)


def test_profiles_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(profiles_dir() / "generic-host.yaml", tmp_path / "generic-host.yaml")
    monkeypatch.setenv("AVFLEET_PROFILES_DIR", str(tmp_path))
    assert load_library().names() == ["generic-host"]


# --- bad files ---------------------------------------------------------------------------------

GOOD = """\
name: test-pdu
vendor: Test
model: Test PDU
kind: pdu
protocols: [snmp]
rated_watts:
  on: 10
  standby: 1
snmp:
  outlets:
    index_column: 1.3.6.1.4.1.99999.1
    power_w: {column: 1.3.6.1.4.1.99999.2, parse: float}
"""


def load_one(tmp_path: Path, text: str, name: str = "bad.yaml") -> ProfileError:
    (tmp_path / name).write_text(text)
    with pytest.raises(ProfileError) as caught:
        ProfileLibrary.load(tmp_path)
    return caught.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_good_example_loads(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    assert ProfileLibrary.load(tmp_path).get("test-pdu").snmp.outlets.power_w.parse == "float"


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace("  standby: 1\n", "  standby: 1\n  stanby: 2\n")
    error = load_one(tmp_path, text)
    [problem] = error.problems
    assert problem.file.endswith("bad.yaml")
    assert problem.line == line_of(text, "stanby")
    assert problem.field == "rated_watts.stanby"
    assert "unknown key" in problem.message
    assert f"bad.yaml:{problem.line}: rated_watts.stanby" in str(error)


def test_bad_value_deep_in_the_object_map(tmp_path: Path) -> None:
    text = GOOD.replace("power_w: {column: 1.3.6.1.4.1.99999.2", "power_w: {column: 1.3.6.x")
    [problem] = load_one(tmp_path, text).problems
    assert problem.line == line_of(text, "power_w:")
    assert problem.field.startswith("snmp.outlets.power_w")
    assert "not a numeric OID" in problem.message


def test_bad_enum_value_names_the_field(tmp_path: Path) -> None:
    text = GOOD.replace("kind: pdu", "kind: toaster")
    [problem] = load_one(tmp_path, text).problems
    assert (problem.field, problem.line) == ("kind", line_of(text, "kind:"))


def test_watts_out_of_order(tmp_path: Path) -> None:
    text = GOOD.replace("  on: 10\n", "  on: 10\n  eco: 12\n")
    [problem] = load_one(tmp_path, text).problems
    assert problem.field == "rated_watts"
    assert problem.line == line_of(text, "rated_watts:")
    assert "eco" in problem.message


def test_missing_required_field(tmp_path: Path) -> None:
    text = GOOD.replace("vendor: Test\n", "")
    [problem] = load_one(tmp_path, text).problems
    assert problem.field == "vendor" and "required" in problem.message.lower()


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    text = GOOD.replace("kind: pdu", "kind: [pdu")
    [problem] = load_one(tmp_path, text).problems
    assert problem.file.endswith("bad.yaml") and problem.line is not None and problem.line >= line_of(text, "kind:")


def test_extends_an_unknown_profile(tmp_path: Path) -> None:
    text = GOOD.replace("vendor: Test\n", "extends: nothing-here\nvendor: Test\n")
    [problem] = load_one(tmp_path, text).problems
    assert (problem.field, problem.line) == ("extends", line_of(text, "extends:"))


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    error = load_one(tmp_path, GOOD, name="b.yaml")
    assert any(p.file.endswith("b.yaml") and p.field == "name" and "a.yaml" in p.message for p in error.problems)


def test_alias_clash_between_profiles(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.replace("model: Test PDU", "model: Test PDU\naliases: [shared]"))
    other = GOOD.replace("name: test-pdu", "name: other-pdu").replace("model: Test PDU", "model: B\naliases: [shared]")
    error = load_one(tmp_path, other, name="b.yaml")
    assert "'shared' names both" in str(error)


def test_power_enum_must_map_to_power_states(tmp_path: Path) -> None:
    text = GOOD + "  power: {oid: 1.3.6.1.4.1.99999.3.0, enum: {'1': running}}\n"
    [problem] = load_one(tmp_path, text).problems
    assert problem.field == "snmp" and "running" in problem.message


# ---- the shared YAML helper (avfleet/yamlcheck): exact lines, suggestions, every problem, limits ----


def test_misspelt_keys_get_the_closest_known_key_and_every_problem_is_listed(tmp_path: Path) -> None:
    text = GOOD.replace("  standby: 1\n", "  standby: 1\n  stanby: 2\n").replace("kind: pdu", "knd: pdu")
    (tmp_path / "bad.yaml").write_text(text)
    (tmp_path / "other.yaml").write_text(GOOD.replace("name: test-pdu", "name: other-pdu")
                                         .replace("vendor: Test", "vendr: Test"))
    with pytest.raises(ProfileError) as caught:
        ProfileLibrary.load(tmp_path)
    bad, other = tmp_path / "bad.yaml", tmp_path / "other.yaml"
    assert sorted(str(caught.value).splitlines()) == sorted([
        f"{bad}:4: knd: unknown key (not in the profile schema) (did you mean 'kind'?)",
        f"{bad}:1: kind: missing (required)",
        f"{bad}:9: rated_watts.stanby: unknown key (not in the profile schema) (did you mean 'standby'?)",
        f"{other}:2: vendr: unknown key (not in the profile schema) (did you mean 'vendor'?)",
        f"{other}:1: vendor: missing (required)",
    ])


@pytest.mark.parametrize(("tail", "message"), [
    ("notes: [.nan]\n", "13: notes[0]: nan is not a finite number"),
    ("x: &a [a, a, a, a, a, a, a, a, a, a]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "z: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nw: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "v: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
     "17: (yaml): more than 100000 values once aliases are expanded (an alias bomb?); refused"),
    ("deep: " + "{a: " * 40 + "1" + "}" * 40 + "\n", "13: (yaml): nested deeper than 32 levels; refused"),
])
def test_hostile_profile_files_are_refused_with_a_line(tmp_path: Path, tail: str, message: str) -> None:
    error = load_one(tmp_path, GOOD + tail)
    assert str(error) == f"{tmp_path / 'bad.yaml'}:{message}"


def test_a_problem_inherited_from_a_parent_names_the_parents_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(GOOD.replace("kind: pdu", "kind: toaster"))
    (tmp_path / "child.yaml").write_text("name: child-pdu\nextends: test-pdu\nvendor: Test\nmodel: Child\n")
    with pytest.raises(ProfileError) as caught:
        ProfileLibrary.load(tmp_path)
    parent = tmp_path / "parent.yaml"
    message = "Input should be 'projector', 'display', 'pdu' or 'other'"
    # The parent fails on its own and the child inherits the bad value: one problem, at the parent's line 4.
    assert str(caught.value).splitlines() == [f"{parent}:4: kind: {message}"]
