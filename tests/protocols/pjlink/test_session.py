"""PJLinkSession against the emulator speaking real bytes on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from avfleet.protocols.pjlink.codec import ErrorNotice, ErrorStatus, LampReading, LinkUp, PowerNotice, PowerState
from avfleet.protocols.pjlink.errors import (
    PJLinkAuthError,
    PJLinkNoReply,
    PJLinkParameterError,
    PJLinkProjectorFailure,
    PJLinkProtocolError,
    PJLinkTimeout,
    PJLinkUnavailable,
    PJLinkUndefinedCommand,
    PJLinkUnreachable,
)
from avfleet.protocols.pjlink.session import AnswerClock, PJLinkSession
from tests.protocols.pjlink.waiting import wait_until
from tests.support.components import free_port


def session_for(emu, password=None, **kw) -> PJLinkSession:
    kw.setdefault("connect_timeout", 1.0)
    kw.setdefault("reply_timeout", 1.0)
    return PJLinkSession("127.0.0.1", emu.port, password, **kw)


async def test_no_password(projector):
    emu = await projector(power="on", lamp_hours=1200)
    async with session_for(emu) as s:
        assert await s.query("POWR") == PowerState.on
        assert await s.query("LAMP") == [LampReading(1200, True)]
        assert await s.query("ERST") == ErrorStatus()
        assert s.connects == 1


async def test_right_password_digest_only_on_first_command(projector):
    emu = await projector(password="JBMIAProjectorLink")
    async with session_for(emu, "JBMIAProjectorLink") as s:
        assert await s.query("POWR") == PowerState.standby
        assert await s.query("NAME") == "Projector"
        assert await s.query("CLSS") == 1
    assert emu.auth_failures == 0 and emu.commands_received == 3


async def test_password_given_to_a_device_without_auth_is_unused(projector):
    emu = await projector()
    async with session_for(emu, "spare") as s:
        assert await s.query("POWR") == PowerState.standby
    assert emu.auth_failures == 0


async def test_wrong_password(projector):
    emu = await projector(password="right")
    async with session_for(emu, "wrong") as s:
        with pytest.raises(PJLinkAuthError):
            await s.query("POWR")
        assert not s.connected
    assert emu.auth_failures == 1


async def test_password_needed_but_missing(projector):
    emu = await projector(password="right")
    async with session_for(emu, None) as s:
        with pytest.raises(PJLinkAuthError, match="requires a password"):
            await s.query("POWR")


async def test_idle_close_then_reconnect_and_repeat(projector):
    emu = await projector(idle_close_s=0.2)
    async with session_for(emu, retries=1) as s:
        assert await s.query("POWR") == PowerState.standby
        await wait_until(lambda: emu.open_connections == 0)  # the projector dropped us silently
        assert await s.query("POWR") == PowerState.standby  # EOF seen, reconnected, command repeated
        assert s.connects == 2
    assert emu.connections_accepted == 2


async def test_idle_close_without_retries_is_unreachable(projector):
    emu = await projector(idle_close_s=0.2)
    async with session_for(emu, retries=0) as s:
        await s.query("POWR")
        await wait_until(lambda: emu.open_connections == 0)
        with pytest.raises(PJLinkUnreachable, match="closed the connection"):
            await s.query("POWR")


async def test_stale_connection_is_replaced_before_use(projector):
    emu = await projector()
    async with session_for(emu, max_idle=0.05) as s:
        await s.query("POWR")
        first = emu.connections_accepted
        await asyncio.sleep(0.1)  # let the connection grow older than max_idle; time passing is the point
        await s.query("POWR")
        assert emu.connections_accepted == first + 1


async def test_err3_in_standby_and_err1_for_laser(projector):
    emu = await projector(lamp_count=0, busy_when_not_on=["INPT", "AVMT"])
    async with session_for(emu) as s:
        with pytest.raises(PJLinkUnavailable):
            await s.query("INPT")
        with pytest.raises(PJLinkUnavailable):
            await s.query("AVMT")
        with pytest.raises(PJLinkUndefinedCommand):
            await s.query("LAMP")
        reply = await s.request("INPT", "?")
        assert reply.error is not None and reply.error.value == "ERR3"
        assert await s.query("POWR") == PowerState.standby  # the session stays usable


async def test_class1_refuses_class2_commands_class2_answers(projector):
    c1 = await projector(pjlink_class=1)
    c2 = await projector(pjlink_class=2, serial="SN-42", has_filter=True, filter_hours=17)
    async with session_for(c1) as s:
        assert await s.query("CLSS") == 1
        with pytest.raises(PJLinkUndefinedCommand):
            await s.query("SNUM", 2)
    async with session_for(c2) as s:
        assert await s.query("CLSS") == 2
        assert await s.query("SNUM", 2) == "SN-42"
        assert await s.query("FILT", 2) == 17
        with pytest.raises(PJLinkUndefinedCommand):
            await s.query("SNUM", 1)  # Class 2 commands need the %2 header
        assert await s.query("INNM", 2, "?31") == "HDMI1"
        with pytest.raises(PJLinkParameterError):
            await s.query("INNM", 2, "?59")
        assert (await s.query("RRES", 2)).width == 1920


async def test_set_commands_and_parameter_errors(projector):
    emu = await projector(power="on", avmt_both_only=True)
    async with session_for(emu) as s:
        await s.set("INPT", "32")
        assert emu.input == "32"
        with pytest.raises(PJLinkParameterError):
            await s.set("INPT", "59")
        with pytest.raises(PJLinkParameterError):
            await s.set("AVMT", "11")  # separate video mute unsupported (Epson)
        await s.set("AVMT", "31")
        assert emu.video_muted and emu.audio_muted


async def test_lamp_failure_answers_err4_to_power_on(projector):
    emu = await projector(power="on")
    emu.inject_fault("lamp_failure")
    async with session_for(emu) as s:
        assert await s.query("POWR") == PowerState.standby
        assert (await s.query("ERST")).lamp == 2
        with pytest.raises(PJLinkProjectorFailure):
            await s.set("POWR", "1")


async def test_stop_mid_reply_costs_bounded_time(projector):
    emu = await projector()
    emu.inject_fault("stall_mid_reply")
    async with session_for(emu, reply_timeout=0.3) as s:
        t0 = time.monotonic()
        with pytest.raises(PJLinkTimeout) as err:
            await s.query("POWR")
        assert time.monotonic() - t0 < 1.5
        assert "%1P" in str(err.value)  # what it sent before it stalled is in the message
        assert not s.connected


async def test_silent_device_times_out_at_greeting(projector):
    emu = await projector()
    emu.inject_fault("silent")
    async with session_for(emu, reply_timeout=0.3) as s:
        t0 = time.monotonic()
        with pytest.raises(PJLinkTimeout, match="greeting"):
            await s.query("POWR")
        assert time.monotonic() - t0 < 1.5


async def test_slow_replies_within_and_beyond_the_timeout(projector):
    emu = await projector(reply_delay_s=0.15)
    async with session_for(emu, reply_timeout=1.0) as s:
        assert await s.query("POWR") == PowerState.standby
    async with session_for(emu, reply_timeout=0.05) as s:
        with pytest.raises(PJLinkTimeout, match="no reply to POWR"):
            await s.query("POWR")


async def test_refused_port_is_unreachable():
    async with PJLinkSession("127.0.0.1", free_port(), connect_timeout=1.0) as s:
        with pytest.raises(PJLinkUnreachable, match="refused"):
            await s.query("POWR")


async def test_single_session_device_refuses_a_second_session(projector):
    emu = await projector(single_session=True)
    async with session_for(emu) as first, session_for(emu) as second:
        await first.query("POWR")
        with pytest.raises(PJLinkUnreachable):
            await second.query("POWR")


async def test_deviations_read_correctly(projector):
    emu = await projector(
        power="on", lowercase_replies=True, mixed_case_greeting=True, clss_text="Class 1", nul_padding=3,
        crlf=True, blank_lines=True, password="pw", name="Optoma UHD",
    )
    async with session_for(emu, "pw") as s:
        assert await s.query("POWR") == PowerState.on
        assert await s.query("NAME") == "Optoma UHD"
        assert await s.query("CLSS") == 1
        assert await s.query("INPT") == "31"


async def test_benq_version1_clss(projector):
    emu = await projector(clss_text="Version1")
    async with session_for(emu) as s:
        assert await s.query("CLSS") == 1


async def _raw_server(greeting: bytes, reply: bytes):
    """A TCP peer that greets and answers with fixed bytes (a broken device; the emulator is always well-formed)."""

    async def handle(reader, writer):
        writer.write(greeting)
        await writer.drain()
        await reader.read(100)
        writer.write(reply)
        await writer.drain()
        await reader.read(100)
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize(
    "greeting,reply,raw",
    [
        (b"HELLO WORLD\r", b"", b"HELLO WORLD"),
        (b"PJLINK 0\r", b"%1POWR=7\r", b"%1POWR=7"),  # the whole line, for the record
        (b"PJLINK 0\r", b"SSH-2.0\r", b"SSH-2.0"),
        (b"PJLINK 0\r", b"x" * 600, b"x" * 512),
        (b"PJLINK 1 nothex!!\r", b"", b"PJLINK 1 nothex!!"),
    ],
)
async def test_garbage_device_is_a_protocol_error(greeting, reply, raw):
    server = await _raw_server(greeting, reply)
    port = server.sockets[0].getsockname()[1]
    try:
        async with PJLinkSession("127.0.0.1", port, "pw", reply_timeout=1.0) as s:
            with pytest.raises(PJLinkProtocolError) as err:
                await s.query("POWR")
            assert err.value.raw == raw
    finally:
        server.close()
        await server.wait_closed()


async def _scripted_server(answers: dict[bytes, bytes], greeting: bytes = b"PJLINK 0\r"):
    """A TCP peer that greets, then answers each request line (CR stripped) with the scripted bytes."""

    async def handle(reader, writer):
        writer.write(greeting)
        await writer.drain()
        try:
            while True:
                line = await reader.readuntil(b"\r")
                writer.write(answers.get(line.rstrip(b"\r"), b""))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_an_unreadable_answer_costs_that_question_not_the_connection():
    server = await _scripted_server({
        b"%1POWR ?": b"%1POWR=7\r",  # out of spec
        b"%1ERST ?": b"%1ERST=001000\r",
        b"%1NAME ?": b"%1NAME=Aula\xe9\r",  # not UTF-8
        b"%1INF1 ?": b"%1INF1\r",  # truncated after the command
        b"%1INF2 ?": b"@@@\r",  # garbage
        b"%1CLSS ?": b"%1CLSS=2\r",
    })
    port = server.sockets[0].getsockname()[1]
    try:
        async with PJLinkSession("127.0.0.1", port, reply_timeout=1.0) as s:
            for command, raw in ((b"POWR", b"%1POWR=7"), (b"NAME", b"%1NAME=Aula\xe9"), (b"INF1", b"%1INF1"),
                                 (b"INF2", b"@@@")):
                with pytest.raises(PJLinkProtocolError) as err:
                    await s.query(command.decode())
                assert err.value.raw == raw
                assert s.connected  # the device answered: one line for one question, still in step
            assert (await s.query("ERST")).temperature == 1
            assert await s.query("CLSS") == 2
            assert s.connects == 1 and s.stray_lines == 0
    finally:
        server.close()
        await server.wait_closed()


async def test_lines_that_answer_nothing_asked_are_never_taken_for_the_answer():
    server = await _scripted_server({
        b"%1POWR ?": (b"%2LKUP=00:26:ab:00:00:01\r"  # Class 2 notifications pushed on the control connection
                      b"%2ERST=000000\r%2POWR=0\r"
                      b"%1ERST=001000\r"  # a late answer to an earlier question
                      b"%1POWR ?\r"  # an echo of the request
                      b"%1POWR=1\r"),
        b"%1ERST ?": b"%1POWR=1\r%1ERST=000002\r",
    })
    port = server.sockets[0].getsockname()[1]
    seen = []
    try:
        async with PJLinkSession("127.0.0.1", port, reply_timeout=1.0,
                                 on_notification=lambda host, n: seen.append((host, n))) as s:
            assert await s.query("POWR") == PowerState.on
            assert (await s.query("ERST")).other == 2
            assert s.stray_lines == 3 and s.notifications == 3 and s.connects == 1
    finally:
        server.close()
        await server.wait_closed()
    assert seen == [("127.0.0.1", LinkUp("00:26:ab:00:00:01")), ("127.0.0.1", ErrorNotice(ErrorStatus())),
                    ("127.0.0.1", PowerNotice(PowerState.standby))]


async def test_only_stray_lines_is_no_reply_within_the_same_timeout():
    server = await _scripted_server({b"%1POWR ?": b"%1ERST=000000\r%1POWR ?\r"})
    port = server.sockets[0].getsockname()[1]
    try:
        async with PJLinkSession("127.0.0.1", port, reply_timeout=0.3) as s:
            t0 = time.monotonic()
            with pytest.raises(PJLinkNoReply, match="no reply to POWR"):
                await s.query("POWR")
            assert time.monotonic() - t0 < 1.0
            assert s.stray_lines == 2
    finally:
        server.close()
        await server.wait_closed()


async def test_emulator_stray_lines_and_pushed_notifications(projector):
    every = ["notify_lkup", "notify_erst", "notify_powr", "notify_inpt", "late", "echo"]
    emu = await projector(pjlink_class=2, power="on", password="pw", lamp_hours=42, stray_lines={"*": every})
    seen = []
    async with session_for(emu, "pw", on_notification=lambda host, n: seen.append(n)) as s:
        assert await s.query("POWR") == PowerState.on
        assert await s.query("LAMP") == [LampReading(42, True)]
        assert await s.query("ERST") == ErrorStatus()  # not the %2ERST notification pushed just before
        assert await s.query("SNUM", 2) == emu.config.serial
        assert s.stray_lines == 8 and s.notifications == 16  # late + echo, four notifications, per question
    assert PowerNotice(PowerState.on) in seen and LinkUp(emu.config.mac) in seen


def test_answer_clock_follows_answer_times_within_bounds():
    clock = AnswerClock(5.0, 1.0, k=3.0)
    assert clock.timeout() == 5.0  # nothing measured yet: the ceiling
    clock.observe(0.03)
    assert clock.timeout() == 1.0  # a fast device: the floor
    for _ in range(30):
        clock.observe(1.5)
    assert 4.4 < clock.timeout() <= 4.5  # a slow one gets k x typical
    clock.observe(30.0)
    assert clock.timeout() == 5.0  # never past the ceiling
    fast = AnswerClock(5.0, 1.0)
    fast.observe(0.02)
    fast.missed(1.0)
    assert fast.timeout() == 2.0  # a missed answer doubles the next wait


async def test_slow_device_is_not_cut_off_and_a_dead_one_is_found_quickly(projector):
    slow = await projector(reply_delay_s=(0.3, 0.4), seed=3)
    async with session_for(slow, reply_timeout=3.0, min_reply_timeout=0.1) as s:
        for _ in range(4):
            assert await s.query("POWR") == PowerState.standby
        assert 0.85 < s.clock.timeout() < 1.25  # about 3 x 0.35 s
    fast = await projector()
    async with session_for(fast, reply_timeout=3.0, min_reply_timeout=0.2) as s:
        for _ in range(4):
            await s.query("POWR")
        fast.inject_fault("silent")
        t0 = time.monotonic()
        with pytest.raises(PJLinkNoReply):
            await s.query("POWR")
        assert time.monotonic() - t0 < 0.6  # the floor, not the 3 s ceiling
