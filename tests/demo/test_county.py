"""The demo county and the identities of its emulated units, without running anything."""

from __future__ import annotations

import pytest

from avfleet.demo.county import municipalities, plan_rooms
from avfleet.demo.fleet import build_projectors
from avfleet.demo.identities import identity_settings, projector_models
from avfleet.demo.run import DEFAULT_PROJECTORS
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.profiles.library import load_library

JONKOPINGS_LAN = {"Aneby", "Eksjö", "Gislaved", "Gnosjö", "Habo", "Jönköping", "Mullsjö", "Nässjö", "Sävsjö",
                  "Tranås", "Vaggeryd", "Vetlanda", "Värnamo"}


def device_ids(projectors: int) -> list[str]:
    ids = []
    for room in plan_rooms(projectors):
        ids += [room.projector_id(n) for n in range(1, len(room.projectors) + 1)]
        ids += [room.display_id] if room.display else []
        ids += [room.pdu_id] if room.pdu else []
    return ids


def test_the_county_is_jonkopings_lan() -> None:
    county = municipalities()
    assert {m.name for m in county} == JONKOPINGS_LAN
    assert all(1 <= len(m.schools) <= 3 for m in county if m.name != "Jönköping")
    assert len(next(m for m in county if m.name == "Jönköping").schools) > 3
    assert len({m.code for m in county}) == 13


@pytest.mark.parametrize("projectors", [13, DEFAULT_PROJECTORS])
def test_thirteen_projectors_already_reach_every_municipality(projectors: int) -> None:
    rooms = plan_rooms(projectors)
    assert {r.municipality for r in rooms} == JONKOPINGS_LAN
    assert sum(len(r.projectors) for r in rooms) == projectors
    assert sorted(i for r in rooms for i in r.projectors) == list(range(projectors))


def test_the_default_demo_stays_light() -> None:
    rooms = plan_rooms(DEFAULT_PROJECTORS)
    assert 60 <= DEFAULT_PROJECTORS <= 80
    assert len(rooms) <= 60  # one agent per room
    assert sum(r.pdu for r in rooms) == 1


@pytest.mark.parametrize("projectors", [1, 20, DEFAULT_PROJECTORS, 2000])
def test_device_and_agent_ids_are_unique_and_readable(projectors: int) -> None:
    ids = device_ids(projectors)
    assert len(ids) == len(set(ids))
    agents = [r.agent_id for r in plan_rooms(projectors)]
    assert len(agents) == len(set(agents))
    assert all(i.isascii() and i == i.lower() and len(i) <= 40 for i in ids)
    assert device_ids(DEFAULT_PROJECTORS)[0] == "jkpg-ekhagen-a12-pj1"


def test_every_model_identity_is_recognised_as_that_model() -> None:
    library = load_library()
    for model in projector_models():
        profile = library.get(model.profile)
        config = ProjectorConfig.model_validate(identity_settings(model, profile, 7))
        clss = str(config.pjlink_class)
        match = library.match_pjlink(config.manufacturer, config.model, clss)
        assert match is not None and match.profile.name == profile.name, match
        assert clss == profile.recognition.pjlink.pjlink_class
        assert (config.lamp_count > 0) == (profile.light_source == "lamp")
        assert config.has_filter == (profile.filter is not None)
        assert "emulat" not in (config.info + config.firmware).lower()
        assert config.serial and config.serial != ProjectorConfig().serial


def test_the_built_fleet_has_unique_serials_and_macs() -> None:
    fleet = build_projectors(plan_rooms(DEFAULT_PROJECTORS), load_library())
    serials = [e.config.serial for e in fleet]
    macs = [e.config.mac for e in fleet]
    assert len(set(serials)) == len(serials) and len(set(macs)) == len(macs)
    assert {e.config.model for e in fleet} == {"EB-2250U", "EB-L630U", "PT-VMZ51", "MW560", "ME403U"}
