"""Fleet files: a realistic mix of emulated projectors, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from avfleet.emulator.fleet_file import FleetFileError, load_fleet_file
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.pjlink.poller import PJLinkPoller
from avfleet.protocols.status import Availability, FaultLevel, Power

FLEET = """\
version: 1
defaults:
  warmup_s: 0.1
  cooldown_s: 0.1
models:
  epson-eb-l735u:
    manufacturer: EPSON
    model: EB-L735U
    pjlink_class: 2
    lamp_count: 0
    avmt_both_only: true
    inputs: ["11", "31", "32", "52", "56"]
  optoma-uhd:
    manufacturer: Optoma
    model: UHD38
    class: 1
    lowercase_replies: true
    clss_text: "Class 1"
    nul_padding: 1
projectors:
  - model: epson-eb-l735u
    count: 3
    password: secret
    power: on
  - model: optoma-uhd
    name: Aula
    serial: OPT-1
    faults: {filter: 1, fan: 2}
  - model: optoma-uhd
    faults: {lamp_failure: true}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_expands_models_counts_and_overrides(tmp_path):
    planned = load_fleet_file(write(tmp_path, FLEET))
    assert len(planned) == 5
    epsons = [p.config for p in planned[:3]]
    assert {c.manufacturer for c in epsons} == {"EPSON"}
    assert all(c.password == "secret" and c.power == "on" and c.lamp_count == 0 for c in epsons)
    assert len({c.mac for c in (p.config for p in planned)}) == 5
    assert len({c.serial for c in epsons}) == 3
    aula = planned[3].config
    assert aula.name == "Aula" and aula.serial == "OPT-1" and aula.faults.fan == 2 and aula.warmup_s == 0.1
    assert planned[4].config.faults.lamp_failure
    assert [p.config.pjlink_class for p in planned] == [2, 2, 2, 1, 1]


async def test_fleet_file_runs_and_polls_as_described(tmp_path):
    async with EmulatedFleet.from_file(write(tmp_path, FLEET)) as fleet:
        statuses = []
        for emu in fleet:
            target = PJLinkTarget("127.0.0.1", emu.port, emu.config.password)
            statuses.append(await PJLinkPoller(emu.config.name, target, reply_timeout=2).poll())
    assert [s.availability for s in statuses] == [Availability.online] * 5
    epson = statuses[0]
    assert epson.power == Power.on and epson.lamps == [] and epson.identity.pjlink_class == "2"
    aula = statuses[3]
    assert aula.identity.name == "Aula" and aula.identity.manufacturer == "Optoma"
    assert aula.faults.active() == {"fan": FaultLevel.error, "filter": FaultLevel.warning}
    assert statuses[4].faults.lamp == FaultLevel.error and statuses[4].power == Power.standby


@pytest.mark.parametrize(
    "text,message",
    [
        ("projectors:\n  - model: x\n", "model 'x' is not under models"),
        ("projectors:\n  - {count: 2}\n  - {colour: red}\n", r"fleet.yaml:3: projectors\[1\]: unknown key\(s\) colour"),
        ("defaults: {volume: 3}\n", "defaults: unknown key"),
        ("projectors:\n  - {pjlink_class: 3}\n", "pjlink_class"),
        ("projectors:\n  - {count: 2, port: 5000}\n", "port is for a single projector"),
        ("projectors:\n  - {count: 2, mac: '00:11:22:33:44:55'}\n", "mac must be unique"),
        ("version: 2\n", "version 2 unknown"),
        ("- just a list\n", "must be a mapping"),
        ("projectors: [\n", "not valid YAML"),
        ("projectors:\n  - {faults: {smoke: 1}}\n", "smoke"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(FleetFileError, match=message):
        load_fleet_file(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(FleetFileError, match="cannot read"):
        load_fleet_file(tmp_path / "nope.yaml")


MISBEHAVING = """\
version: 1
models:
  slow-epson: {manufacturer: EPSON, class: 2, reply_delay_s: [1.0, 1.5]}
projectors:
  - {model: slow-epson, count: 2}
  - class: 2
    power: on
    bad_answers: {POWR: out_of_spec, lamp: truncated, INF1: non_ascii, SNUM: garbage, FILT: none}
    stray_lines: {"*": [notify_powr, notify_lkup, late, echo], ERST: [notify_erst]}
"""


def test_misbehaviours_are_fleet_file_options(tmp_path):
    planned = load_fleet_file(write(tmp_path, MISBEHAVING))
    assert [p.config.reply_delay_s for p in planned[:2]] == [(1.0, 1.5), (1.0, 1.5)]
    odd = planned[2].config
    assert odd.bad_answers == {"POWR": "out_of_spec", "LAMP": "truncated", "INF1": "non_ascii", "SNUM": "garbage",
                               "FILT": "none"}
    assert odd.stray_lines == {"*": ["notify_powr", "notify_lkup", "late", "echo"], "ERST": ["notify_erst"]}


async def test_misbehaving_projector_from_a_fleet_file_still_gets_a_status(tmp_path):
    planned = load_fleet_file(write(tmp_path, MISBEHAVING))
    async with EmulatedFleet([planned[2].config]) as fleet:
        emu = fleet[0]
        poller = PJLinkPoller("odd", PJLinkTarget("127.0.0.1", emu.port), reply_timeout=1, min_reply_timeout=0.2)
        status = await poller.poll()
    assert status.availability == Availability.online
    assert status.power == Power.unknown and status.lamps == [] and status.filter_hours is None
    assert status.identity.manufacturer is None and status.identity.serial is None
    assert status.faults.active() == {} and status.identity.model == "EMU-1000"
    for text in ("POWR unreadable", "LAMP unreadable", "INF1 unreadable", "SNUM unreadable", "no reply to FILT"):
        assert text in status.detail
    assert poller.stray_lines > 0 and poller.notifications > 0


@pytest.mark.parametrize(
    "text,message",
    [
        ("projectors:\n  - {bad_answers: {POWR: broken}}\n", "bad_answers"),
        ("projectors:\n  - {bad_answers: {POWER: garbage}}\n", "not a PJLink command"),
        ("projectors:\n  - {stray_lines: {POWR: [shout]}}\n", "stray_lines"),
    ],
)
def test_bad_misbehaviour_options_name_the_problem(tmp_path, text, message):
    with pytest.raises(FleetFileError, match=message):
        load_fleet_file(write(tmp_path, text))
