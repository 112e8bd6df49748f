"""PJLinkPoller: normalized status and commands against the emulator on loopback."""

from __future__ import annotations

import time

import pytest

from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.errors import CommandError, CommandRetryable, CommandUnsupported
from avfleet.protocols.factory import make_poller
from avfleet.protocols.pjlink.codec import ERST_COMPONENTS
from avfleet.protocols.pjlink.poller import PJLinkPoller
from avfleet.protocols.status import Availability, FaultLevel, Power
from tests.protocols.pjlink.conftest import poller_for
from tests.protocols.pjlink.waiting import wait_until
from tests.support.components import free_port


async def test_class2_full_status(projector):
    emu = await projector(
        pjlink_class=2, power="on", manufacturer="EPSON", model="EB-1470Ui", serial="X5CK0012", firmware="2.10",
        info="Main 1.05", name="A12", lamp_hours=1234, filter_hours=321, mac="00:26:ab:00:00:07",
    )
    emu.set_av_mute(True, True)
    status = await poller_for(emu, mac="00:26:ab:00:00:07").poll()
    assert status.availability == Availability.online and status.detail is None
    assert status.power == Power.on
    assert [(lamp.hours, lamp.on) for lamp in status.lamps] == [(1234, True)]
    assert status.filter_hours == 321
    assert status.input == "31" and status.av_mute is True
    assert all(getattr(status.faults, n) == FaultLevel.ok for n in ERST_COMPONENTS)
    ident = status.identity
    assert (ident.manufacturer, ident.model, ident.serial, ident.firmware, ident.name, ident.mac, ident.pjlink_class) \
        == ("EPSON", "EB-1470Ui", "X5CK0012", "2.10", "A12", "00:26:ab:00:00:07", "2")
    assert status.protocol.value == "pjlink" and status.kind.value == "projector"
    await wait_until(lambda: emu.open_connections == 0)  # one connection per poll, closed afterwards
    assert emu.connections_accepted == 1


async def test_class1_is_never_asked_class2_questions(projector):
    emu = await projector(pjlink_class=1, power="on", info="FW 3.2", serial="hidden")
    status = await poller_for(emu).poll()
    assert status.availability == Availability.online
    assert status.identity.pjlink_class == "1"
    assert status.identity.serial is None and status.filter_hours is None
    assert status.identity.firmware == "FW 3.2"  # INFO when there is no SVER
    assert not [c for c in emu.commands if c.startswith("%2")]


async def test_standby_err3_is_a_state_not_a_fault(projector):
    emu = await projector(pjlink_class=2, busy_when_not_on=["INPT", "AVMT", "LAMP", "FILT"])
    status = await poller_for(emu).poll()
    assert status.availability == Availability.online
    assert status.power == Power.standby
    assert status.input is None and status.av_mute is None
    assert status.faults.active() == {}
    assert "%1INPT" not in emu.commands and "%1AVMT" not in emu.commands  # only asked while on


async def test_lamp_hours_survive_err3_in_standby_and_grow_while_on(projector):
    emu = await projector(power="on", lamp_hours=100, hours_per_second=3600.0, busy_when_not_on=["LAMP"])
    poller = poller_for(emu)
    first = (await poller.poll()).lamps[0].hours
    await wait_until(lambda: emu.lamp_hours >= first + 2)
    second = (await poller.poll()).lamps[0].hours
    assert second >= first + 2
    emu.set_power("standby")
    frozen = emu.lamp_hours
    status = await poller.poll()
    assert status.power == Power.standby
    assert status.lamps[0].hours >= second  # LAMP answered ERR3; the last reading stands
    assert emu.lamp_hours == frozen  # no growth while off


async def test_laser_projector_has_no_lamps_and_is_asked_once(projector):
    emu = await projector(lamp_count=0, power="on")
    poller = poller_for(emu)
    for _ in range(2):
        status = await poller.poll()
        assert status.availability == Availability.online and status.lamps == []
        assert status.faults.lamp == FaultLevel.ok
    assert emu.commands["%1LAMP"] == 1


@pytest.mark.parametrize("component", ERST_COMPONENTS)
@pytest.mark.parametrize("level,expected", [(1, FaultLevel.warning), (2, FaultLevel.error)])
async def test_each_erst_flag(projector, component, level, expected):
    emu = await projector(pjlink_class=2)
    emu.inject_fault(component, level)
    status = await poller_for(emu).poll()
    assert status.availability == Availability.online
    assert status.faults.active() == {component: expected}


async def test_lamp_failure_fault(projector):
    emu = await projector(power="on", lamp_hours=5000)
    emu.inject_fault("lamp_failure")
    poller = poller_for(emu)
    status = await poller.poll()
    assert status.power == Power.standby and status.faults.lamp == FaultLevel.error
    assert status.lamps[0].on is False and status.lamps[0].hours == 5000
    with pytest.raises(CommandError, match="ERR4") as err:
        await poller.execute("power_on", {})
    assert not isinstance(err.value, CommandRetryable | CommandUnsupported)
    emu.clear_fault("lamp_failure")
    assert (await poller.poll()).faults.active() == {}


async def test_silent_device_is_unreachable_in_bounded_time(projector):
    emu = await projector()
    emu.inject_fault("silent")
    t0 = time.monotonic()
    status = await poller_for(emu, reply_timeout=0.3).poll()
    assert time.monotonic() - t0 < 2
    assert status.availability == Availability.unreachable and status.power == Power.unknown
    assert "greeting" in status.detail


async def test_device_stopping_mid_reply(projector):
    emu = await projector()
    emu.inject_fault("stall_mid_reply")
    t0 = time.monotonic()
    status = await poller_for(emu, reply_timeout=0.3).poll()
    assert time.monotonic() - t0 < 2
    assert status.availability == Availability.unreachable and "no reply to POWR" in status.detail


async def test_slow_device_is_cut_by_the_poll_deadline_and_keeps_what_was_read(projector):
    emu = await projector(power="on")
    emu.inject_fault("slow_replies", 0.2)
    t0 = time.monotonic()
    status = await poller_for(emu, reply_timeout=1.0, poll_deadline=0.5).poll()
    assert time.monotonic() - t0 < 1.5
    assert status.availability == Availability.online and "poll deadline 0.5 s" in status.detail
    assert status.power == Power.on and status.faults.active() == {}  # POWR and ERST came first
    assert status.input is None and status.identity.manufacturer is None  # not reached: unknown


async def test_device_slower_than_the_whole_deadline_is_unreachable(projector):
    emu = await projector()
    emu.inject_fault("slow_replies", 0.8)
    status = await poller_for(emu, reply_timeout=1.0, poll_deadline=0.5).poll()
    assert status.availability == Availability.unreachable and "0.5 s" in status.detail


async def test_wrong_password_and_lockout(projector):
    emu = await projector(password="right", lockout_after=2, lockout_s=60)
    assert (await poller_for(emu, "wrong").poll()).availability == Availability.auth_failed
    assert (await poller_for(emu, "wrong").poll()).availability == Availability.auth_failed
    assert emu.locked_out
    locked = await poller_for(emu, "right").poll()
    assert locked.availability == Availability.auth_failed  # locked out even with the right password
    assert locked.power == Power.unknown


async def test_right_password_after_wrong_one(projector):
    emu = await projector(password="right")
    assert (await poller_for(emu, "nope").poll()).availability == Availability.auth_failed
    assert (await poller_for(emu, "right").poll()).availability == Availability.online


async def test_unreachable_is_not_standby():
    poller = PJLinkPoller("pj-x", PJLinkTarget("127.0.0.1", free_port()), connect_timeout=0.5)
    status = await poller.poll()
    assert status.availability == Availability.unreachable and status.power == Power.unknown
    assert status.device_id == "pj-x" and "refused" in status.detail


async def test_network_off_in_standby_is_unreachable_then_back(projector):
    emu = await projector()
    poller = poller_for(emu)
    assert (await poller.poll()).power == Power.standby
    await emu.set_network(False)
    status = await poller.poll()
    assert status.availability == Availability.unreachable and status.power == Power.unknown
    assert "network off in standby" in status.detail
    await emu.set_network(True)
    assert (await poller.poll()).availability == Availability.online


async def test_warm_up_seen_through_to_on(projector):
    emu = await projector(warmup_s=0.4, cooldown_s=0.4)
    poller = poller_for(emu)
    await poller.execute("power_on", {})
    seen = [(await poller.poll()).power]
    assert seen[0] == Power.warming
    with pytest.raises(CommandRetryable):
        await poller.execute("power_off", {})  # ERR3 during warm-up

    async def is_on() -> bool:
        seen.append((await poller.poll()).power)
        return seen[-1] == Power.on

    await wait_until(is_on, timeout=5, step=0.05)
    assert set(seen) <= {Power.warming, Power.on}
    await poller.execute("power_off", {})
    assert (await poller.poll()).power == Power.cooling
    await wait_until(lambda: emu.power == 0, timeout=5)
    assert (await poller.poll()).power == Power.standby


async def test_commands(projector):
    emu = await projector(pjlink_class=2, power="on", inputs=["11", "31", "32", "3A", "61"])
    poller = poller_for(emu)
    await poller.execute("set_input", {"input": "32"})
    assert emu.input == "32"
    await poller.execute("set_input", {"input": "3a"})  # Class 2 code, sent with %2
    assert emu.input == "3A" and emu.commands["%2INPT"] == 1
    await poller.execute("av_mute", {"on": True})
    assert emu.video_muted and emu.audio_muted
    assert (await poller.poll()).av_mute is True
    await poller.execute("av_mute", {"on": False})
    assert not emu.video_muted
    with pytest.raises(CommandUnsupported):
        await poller.execute("set_input", {"input": "59"})  # ERR2: no such input
    with pytest.raises(CommandUnsupported):
        await poller.execute("reboot", {})
    with pytest.raises(CommandError, match="input code"):
        await poller.execute("set_input", {"input": "HDMI"})
    with pytest.raises(CommandError, match="on"):
        await poller.execute("av_mute", {})


async def test_commands_while_standby_are_retryable(projector):
    emu = await projector()
    with pytest.raises(CommandRetryable):
        await poller_for(emu).execute("set_input", {"input": "31"})


async def test_separate_mute_unsupported_on_epson_style(projector):
    emu = await projector(power="on", avmt_both_only=True)
    with pytest.raises(CommandUnsupported):
        await poller_for(emu).execute("av_mute", {"on": True, "channel": "video"})
    await poller_for(emu).execute("av_mute", {"on": True})
    assert emu.video_muted


async def test_command_to_unreachable_projector():
    poller = PJLinkPoller("pj-x", PJLinkTarget("127.0.0.1", free_port()), connect_timeout=0.5)
    with pytest.raises(CommandError, match="unreachable") as err:
        await poller.execute("power_on", {})
    assert not isinstance(err.value, CommandRetryable | CommandUnsupported)


async def test_all_deviations_together(projector):
    emu = await projector(
        power="on", lowercase_replies=True, mixed_case_greeting=True, clss_text="Class 1", nul_padding=4, crlf=True,
        blank_lines=True, password="admin", lamp_count=0, avmt_both_only=True,
        busy_when_not_on=["INPT", "AVMT", "LAMP", "INST"], idle_close_s=5, name="Optoma UHD",
    )
    status = await poller_for(emu).poll()
    assert status.availability == Availability.online, status.detail
    assert status.power == Power.on and status.lamps == [] and status.input == "31"
    assert status.identity.name == "Optoma UHD" and status.identity.pjlink_class == "1"


async def test_make_poller_builds_pjlink_from_url(projector):
    emu = await projector(password="pw")
    poller = make_poller("pj-url", f"pjlink://:pw@127.0.0.1:{emu.port}", reply_timeout=1.0)
    assert isinstance(poller, PJLinkPoller)
    assert "pw" not in repr(poller)
    assert (await poller.poll()).availability == Availability.online
    await poller.close()


async def test_identity_is_read_once_per_interval_and_again_after_a_failure(projector):
    emu = await projector(pjlink_class=2, serial="OLD-1")
    poller = poller_for(emu)
    first = await poller.poll()
    second = await poller.poll()
    assert emu.commands["%1INF1"] == 1 and emu.commands["%2SNUM"] == 1  # not asked again within the interval
    assert emu.commands["%1POWR"] == 2  # while status is asked every poll
    assert second.identity == first.identity and second.identity.serial == "OLD-1"
    # A unit swapped on the same address: it is away for a moment, then answers with a new serial.
    await emu.set_network(False)
    assert (await poller.poll()).availability == Availability.unreachable
    emu.config.serial = "NEW-2"
    await emu.set_network(True)
    assert (await poller.poll()).identity.serial == "NEW-2"
    assert emu.commands["%2SNUM"] == 2


async def test_identity_interval_zero_reads_identity_every_poll(projector):
    emu = await projector(pjlink_class=1)
    poller = poller_for(emu, identity_interval=0)
    await poller.poll()
    await poller.poll()
    assert emu.commands["%1INF1"] == 2
