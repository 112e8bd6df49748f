"""Issue 9 points 1-3 against the emulator on loopback: one unreadable value costs one reading, answers
are matched to questions, and slow projectors still get a status."""

from __future__ import annotations

import time

import pytest

from avfleet.protocols.pjlink.codec import ERST_COMPONENTS, LinkUp, PowerNotice, PowerState
from avfleet.protocols.status import Availability, FaultLevel, Power
from tests.protocols.pjlink.conftest import poller_for

CLASS2_ON = {"pjlink_class": 2, "power": "on", "manufacturer": "EPSON", "model": "EB-L735U", "serial": "X5CK0012",
             "lamp_hours": 1234, "filter_hours": 321, "name": "A12"}


def _field(status, command):
    """The status field that the answer to `command` fills."""
    return {
        "POWR": status.power,
        "ERST": status.faults.model_dump(mode="json"),
        "LAMP": [(lamp.hours, lamp.on) for lamp in status.lamps],
        "FILT": status.filter_hours,
        "INPT": status.input,
        "AVMT": status.av_mute,
        "INF1": status.identity.manufacturer,
        "INF2": status.identity.model,
        "NAME": status.identity.name,
        "SNUM": status.identity.serial,
    }[command]


UNKNOWN = {"POWR": Power.unknown, "ERST": {n: "unknown" for n in ERST_COMPONENTS}, "LAMP": [], "FILT": None,
           "INPT": None, "AVMT": None, "INF1": None, "INF2": None, "NAME": None, "SNUM": None}


@pytest.mark.parametrize("mode", ["garbage", "out_of_spec", "truncated", "non_ascii"])
@pytest.mark.parametrize("command", list(UNKNOWN))
async def test_one_unreadable_answer_costs_one_reading(projector, command, mode):
    clean = await projector(**CLASS2_ON)
    expected = await poller_for(clean).poll()
    emu = await projector(**CLASS2_ON, bad_answers={command: mode})
    status = await poller_for(emu).poll()
    assert status.availability == Availability.online, status.detail
    assert _field(status, command) == UNKNOWN[command]
    assert command in status.detail and "unreadable" in status.detail  # with the raw bytes
    for other in UNKNOWN:
        if other == command or (command == "POWR" and other in ("INPT", "AVMT")):  # asked only while on
            continue
        assert _field(status, other) == _field(expected, other), other


async def test_unreadable_class_asks_only_class1_questions_and_asks_again(projector):
    emu = await projector(**CLASS2_ON, bad_answers={"CLSS": "out_of_spec"})
    poller = poller_for(emu)
    status = await poller.poll()
    assert status.availability == Availability.online and status.power == Power.on
    assert status.identity.pjlink_class is None and status.identity.serial is None
    assert "CLSS unreadable" in status.detail and "%2SNUM" not in emu.commands
    emu.config.bad_answers = {}
    status = await poller.poll()
    assert status.identity.pjlink_class == "2" and status.identity.serial == "X5CK0012"
    assert emu.commands["%1INF1"] == 1  # read the first time; only what was missing is asked again


async def test_nothing_readable_is_error(projector):
    emu = await projector(bad_answers={"*": "garbage"})
    status = await poller_for(emu).poll()
    assert status.availability == Availability.error and "garbage" in status.detail


async def test_an_ignored_question_costs_one_reading_and_bounded_time(projector):
    emu = await projector(**CLASS2_ON, bad_answers={"LAMP": "none"})
    t0 = time.monotonic()
    status = await poller_for(emu, reply_timeout=1.0, min_reply_timeout=0.2).poll()
    assert time.monotonic() - t0 < 2.5
    assert status.availability == Availability.online and "no reply to LAMP" in status.detail
    assert status.lamps == [] and status.filter_hours == 321 and status.identity.serial == "X5CK0012"


async def test_stray_lines_and_pushed_notifications_are_never_answers(projector):
    clean = await projector(**CLASS2_ON)
    expected = await poller_for(clean).poll()
    emu = await projector(**CLASS2_ON, password="pw",
                          stray_lines={"*": ["notify_lkup", "notify_erst", "notify_powr", "late", "echo"],
                                       "SNUM": ["notify_inpt"]})
    seen = []
    poller = poller_for(emu, on_notification=lambda host, n: seen.append((host, n)))
    status = await poller.poll()
    assert status.comparable() == expected.comparable()  # exactly what the device said, nothing stray
    assert poller.stray_lines >= 24 and poller.notifications >= 3 * 13  # a late `%2INPT=` reads as a notice
    assert ("127.0.0.1", PowerNotice(PowerState.on)) in seen
    assert ("127.0.0.1", LinkUp(emu.config.mac)) in seen


async def test_questions_go_in_order_of_value(projector):
    emu = await projector(**CLASS2_ON)
    await poller_for(emu).poll()
    assert list(emu.commands) == ["%1POWR", "%1ERST", "%1LAMP", "%1CLSS", "%2FILT", "%1INF1", "%1INF2", "%2INPT",
                                  "%1AVMT", "%1INFO", "%1NAME", "%2SNUM", "%2SVER"]


async def test_slow_projector_partial_status_keeps_identity_from_the_last_read(projector):
    emu = await projector(**CLASS2_ON)
    poller = poller_for(emu, identity_interval=0, reply_timeout=1.0, poll_deadline=5.0)
    first = await poller.poll()
    assert first.detail is None and first.identity.serial == "X5CK0012"
    emu.config.reply_delay_s = (0.1, 0.15)  # now every answer takes 100-150 ms: 13 do not fit in 0.8 s
    poller.poll_deadline = 0.8
    emu.set_error("fan", 1)
    status = await poller.poll()
    assert status.availability == Availability.online and "poll deadline" in status.detail
    assert status.power == Power.on and status.faults.fan == FaultLevel.warning  # read first
    assert status.identity == first.identity  # identity from the last successful read
    poller.poll_deadline = 5.0
    assert (await poller.poll()).detail is None  # a full status again once it fits


async def test_a_device_that_hangs_mid_poll_is_found_quickly(projector):
    emu = await projector(**CLASS2_ON)
    poller = poller_for(emu, reply_timeout=3.0, min_reply_timeout=0.2)
    assert (await poller.poll()).availability == Availability.online  # learns its answers are fast
    emu.inject_fault("stall_mid_reply")
    t0 = time.monotonic()
    status = await poller.poll()
    assert time.monotonic() - t0 < 1.5  # two missed answers at the learned timeout, not 2 x 3 s
    assert status.availability == Availability.unreachable and "no reply to POWR" in status.detail


async def test_slow_projector_is_not_cut_off(projector):
    emu = await projector(**CLASS2_ON, reply_delay_s=(0.25, 0.35), seed=7)
    poller = poller_for(emu, reply_timeout=2.0, min_reply_timeout=0.1)
    status = await poller.poll()
    assert status.availability == Availability.online and status.detail is None
    assert 0.6 < poller.clock.timeout() < 1.2  # about 3 x 0.3 s: a fast device's floor would cut it off


async def test_commands_wait_the_full_reply_timeout_not_the_learned_one(projector):
    emu = await projector(**CLASS2_ON)
    poller = poller_for(emu, reply_timeout=2.0, min_reply_timeout=0.2)
    await poller.poll()  # learns that answers come at once
    assert poller.clock.timeout() == 0.2
    emu.config.reply_delay_s = 0.5
    await poller.execute("av_mute", {"on": True})  # 0.5 s is past the learned 0.2 s
    assert emu.video_muted


async def test_two_ignored_questions_in_a_row_end_the_poll_with_what_was_read(projector):
    emu = await projector(**CLASS2_ON, bad_answers={"LAMP": "none", "CLSS": "none"})
    status = await poller_for(emu, reply_timeout=0.5, min_reply_timeout=0.1).poll()
    assert status.availability == Availability.online and status.power == Power.on
    assert "no reply to LAMP, CLSS" in status.detail and "stopped asking at CLSS" in status.detail
    assert "%2FILT" not in emu.commands and status.identity.manufacturer is None


async def test_a_class1_replacement_does_not_keep_the_old_serial(projector):
    emu = await projector(**CLASS2_ON)
    poller = poller_for(emu)
    assert (await poller.poll()).identity.serial == "X5CK0012"
    await emu.stop()
    assert (await poller.poll()).availability == Availability.unreachable
    newer = await projector(pjlink_class=1, power="on", manufacturer="NEC", port=emu.port)
    status = await poller.poll()
    assert status.identity.pjlink_class == "1" and status.identity.manufacturer == "NEC"
    assert status.identity.serial is None and status.identity.firmware == newer.config.info
