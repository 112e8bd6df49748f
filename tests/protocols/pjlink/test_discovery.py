"""Class 2 UDP search and notifications against emulated projectors on loopback."""

from __future__ import annotations

import asyncio
import socket
import time

from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import ErrorLevel, PowerState
from avfleet.protocols.pjlink.discovery import PJLinkUdpEndpoint, SearchAnswer, search
from tests.protocols.pjlink.waiting import wait_until


async def test_search_collects_acks_within_deadline(projector):
    emus = [await projector(pjlink_class=2, mac=f"00:26:ab:00:00:0{i}") for i in range(1, 4)]
    class1 = await projector(pjlink_class=1)
    assert class1.udp_port is None  # Class 1 has no UDP side
    endpoint = await PJLinkUdpEndpoint().open("127.0.0.1", 0)
    try:
        t0 = time.monotonic()
        answers = await endpoint.search([("127.0.0.1", e.udp_port) for e in emus], deadline=3.0, expected=3)
        assert time.monotonic() - t0 < 1.0  # returns as soon as all expected answers are in
    finally:
        endpoint.close()
    assert sorted(answers, key=lambda a: a.mac) == [SearchAnswer("127.0.0.1", e.config.mac) for e in emus]


async def test_search_stops_at_the_deadline(projector):
    emu = await projector(pjlink_class=2, mac="00:26:ab:00:00:99")
    t0 = time.monotonic()
    answers = await search([("127.0.0.1", emu.udp_port)], deadline=0.3, bind=("127.0.0.1", 0))
    elapsed = time.monotonic() - t0
    assert 0.25 < elapsed < 1.5
    assert answers == [SearchAnswer("127.0.0.1", "00:26:ab:00:00:99")]


async def test_silent_projector_is_not_found(projector):
    emu = await projector(pjlink_class=2)
    emu.inject_fault("silent")
    assert await search([("127.0.0.1", emu.udp_port)], deadline=0.2, bind=("127.0.0.1", 0)) == []


async def test_notifications_reach_the_callback_with_source_ip(projector):
    received: list[tuple[str, codec.Notification]] = []
    endpoint = await PJLinkUdpEndpoint(lambda ip, msg: received.append((ip, msg))).open("127.0.0.1", 0)
    try:
        emu = await projector(pjlink_class=2, mac="00:26:ab:00:00:42", warmup_s=0.05)
        emu.register_notify(*endpoint.local_address)
        emu.send_linkup()
        await wait_until(lambda: len(received) == 1)
        assert received[0] == ("127.0.0.1", codec.LinkUp("00:26:ab:00:00:42"))

        emu.press_power(True)
        await wait_until(lambda: codec.PowerNotice(PowerState.on) in [m for _, m in received])
        powers = [m.power for _, m in received if isinstance(m, codec.PowerNotice)]
        assert powers == [PowerState.warming, PowerState.on]

        emu.set_error("filter", 1)
        emu.set_input("32")
        await wait_until(lambda: len(received) == 5)
        assert received[3][1] == codec.ErrorNotice(codec.ErrorStatus(filter=ErrorLevel.warning))
        assert received[4][1] == codec.InputNotice("32")
    finally:
        endpoint.close()


async def test_one_socket_serves_search_and_notifications_and_async_callbacks(projector):
    got: list[codec.Notification] = []

    async def on_notification(ip: str, msg: codec.Notification) -> None:
        await asyncio.sleep(0)
        got.append(msg)

    endpoint = await PJLinkUdpEndpoint(on_notification).open("127.0.0.1", 0)
    try:
        emu = await projector(pjlink_class=2)
        emu.register_notify(*endpoint.local_address)
        search_task = asyncio.create_task(endpoint.search([("127.0.0.1", emu.udp_port)], deadline=0.5))
        emu.set_error("fan", 2)
        answers = await search_task
        await wait_until(lambda: len(got) == 1)
        assert answers == [SearchAnswer("127.0.0.1", emu.config.mac)]
        assert got == [codec.ErrorNotice(codec.ErrorStatus(fan=ErrorLevel.error))]
    finally:
        endpoint.close()


async def test_bad_datagrams_are_counted_not_fatal():
    got = []
    endpoint = await PJLinkUdpEndpoint(lambda ip, m: got.append(m)).open("127.0.0.1", 0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for data in (b"garbage", b"%2POWR=9\r", b"\xff" * 600, b"%2POWR=0\r"):
                s.sendto(data, endpoint.local_address)
        await wait_until(lambda: len(got) == 1)
        assert got == [codec.PowerNotice(PowerState.standby)]
        assert endpoint.bad_datagrams == 3
    finally:
        endpoint.close()
