"""The projector emulator on raw bytes: what a real client sees on the wire."""

from __future__ import annotations

import asyncio
import re

import pytest
from pydantic import ValidationError

from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.pjlink import codec
from avfleet.protocols.pjlink.codec import PowerState
from avfleet.protocols.pjlink.session import PJLinkSession
from tests.protocols.pjlink.waiting import wait_until


@pytest.fixture
async def emulator():
    started = []

    async def make(**settings) -> ProjectorEmulator:
        emu = await ProjectorEmulator(**settings).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        await emu.stop()


class Raw:
    """A bare TCP client that shows the exact bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def read_until_cr(self, extra: int = 0) -> bytes:
        data = await asyncio.wait_for(self.reader.readuntil(b"\r"), 2)
        if extra:
            data += await asyncio.wait_for(self.reader.readexactly(extra), 2)
        return data

    async def ask(self, line: bytes, extra: int = 0) -> bytes:
        self.writer.write(line)
        await self.writer.drain()
        return await self.read_until_cr(extra)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_spec_bytes_without_auth(emulator):
    emu = await emulator(name="Aula", lamp_hours=1200, power="on")
    raw = await Raw.open(emu.port)
    assert await raw.read_until_cr() == b"PJLINK 0\r"
    assert await raw.ask(b"%1POWR ?\r") == b"%1POWR=1\r"
    assert await raw.ask(b"%1NAME ?\r") == b"%1NAME=Aula\r"
    assert await raw.ask(b"%1LAMP ?\r") == b"%1LAMP=1200 1\r"
    assert await raw.ask(b"%1ERST ?\r") == b"%1ERST=000000\r"
    assert await raw.ask(b"%1CLSS ?\r") == b"%1CLSS=1\r"
    assert await raw.ask(b"%1XYZW ?\r") == b"%1XYZW=ERR1\r"
    assert await raw.ask(b"%1POWR 7\r") == b"%1POWR=ERR2\r"
    assert await raw.ask(b"%1ERST 1\r") == b"%1ERST=ERR2\r"
    assert await raw.ask(b"%2SNUM ?\r") == b"%2SNUM=ERR1\r"  # Class 1 unit
    assert await raw.ask(b"%1INPT 31\r") == b"%1INPT=OK\r"
    await raw.close()


async def test_pipelined_commands_are_answered_in_order(emulator):
    emu = await emulator(reply_delay_s=(0.0, 0.02), seed=1)
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    raw.writer.write(b"%1POWR ?\r%1CLSS ?\r%1INF1 ?\r")
    assert [await raw.read_until_cr() for _ in range(3)] == [b"%1POWR=0\r", b"%1CLSS=1\r", b"%1INF1=AVFLEET\r"]
    await raw.close()


async def test_auth_bytes(emulator):
    emu = await emulator(password="JBMIAProjectorLink")
    raw = await Raw.open(emu.port)
    greeting = await raw.read_until_cr()
    m = re.fullmatch(rb"PJLINK 1 ([0-9a-f]{8})\r", greeting)
    assert m
    digest = codec.auth_digest(m.group(1).decode(), "JBMIAProjectorLink")
    assert await raw.ask(digest.encode() + b"%1POWR ?\r") == b"%1POWR=0\r"
    assert await raw.ask(b"%1POWR ?\r") == b"%1POWR=0\r"  # no digest needed after the first command
    await raw.close()

    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await raw.ask(b"0" * 32 + b"%1POWR ?\r") == b"PJLINK ERRA\r"
    assert await asyncio.wait_for(raw.reader.read(), 2) == b""  # and the projector hangs up
    await raw.close()

    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await raw.ask(b"%1POWR ?\r") == b"PJLINK ERRA\r"  # a command without digest
    await raw.close()


async def test_wire_deviations(emulator):
    emu = await emulator(lowercase_replies=True, mixed_case_greeting=True, clss_text="Version1", nul_padding=2,
                         crlf=True, blank_lines=True)
    raw = await Raw.open(emu.port)
    data = await asyncio.wait_for(raw.reader.readexactly(len(b"\rPJLink 0\r\n\0\0")), 2)
    assert data == b"\rPJLink 0\r\n\0\0"
    raw.writer.write(b"%1CLSS ?\r")
    want = b"\r%1clss=Version1\r\n\0\0"
    assert await asyncio.wait_for(raw.reader.readexactly(len(want)), 2) == want
    await raw.close()


async def test_err3_when_not_on_and_laser_err1(emulator):
    emu = await emulator(lamp_count=0, busy_when_not_on=["INPT", "AVMT", "LAMP", "INST"])
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    for cmd in (b"INPT", b"AVMT", b"INST"):
        assert await raw.ask(b"%1" + cmd + b" ?\r") == b"%1" + cmd + b"=ERR3\r"
    assert await raw.ask(b"%1LAMP ?\r") == b"%1LAMP=ERR1\r"  # laser beats standby
    await raw.close()


async def test_class2_values(emulator):
    emu = await emulator(pjlink_class=2, power="on", inputs=["11", "31", "3A", "61"], input_names={"3A": "HDBaseT"},
                         serial="SN1", firmware="2.0", filter_hours=12, has_speaker=False)
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await raw.ask(b"%1CLSS ?\r") == b"%1CLSS=2\r"
    assert await raw.ask(b"%2INST ?\r") == b"%2INST=11 31 3A 61\r"
    assert await raw.ask(b"%1INST ?\r") == b"%1INST=11 31\r"  # Class 1 view of the inputs
    assert await raw.ask(b"%2INNM ?3A\r") == b"%2INNM=HDBaseT\r"
    assert await raw.ask(b"%2SNUM ?\r") == b"%2SNUM=SN1\r"
    assert await raw.ask(b"%2SVER ?\r") == b"%2SVER=2.0\r"
    assert await raw.ask(b"%2IRES ?\r") == b"%2IRES=1920x1080\r"
    assert await raw.ask(b"%2RRES ?\r") == b"%2RRES=1920x1200\r"
    assert await raw.ask(b"%2FILT ?\r") == b"%2FILT=12\r"
    assert await raw.ask(b"%2RLMP ?\r") == b"%2RLMP=ELPLP96\r"
    assert await raw.ask(b"%2SVOL 1\r") == b"%2SVOL=ERR1\r"
    assert await raw.ask(b"%2FREZ 1\r") == b"%2FREZ=OK\r"
    assert await raw.ask(b"%2FREZ ?\r") == b"%2FREZ=1\r"
    assert await raw.ask(b"%1INPT 3A\r") == b"%1INPT=ERR2\r"  # needs %2
    assert await raw.ask(b"%2INPT 3A\r") == b"%2INPT=OK\r"
    await raw.close()


async def test_idle_close(emulator):
    emu = await emulator(idle_close_s=0.2)
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await asyncio.wait_for(raw.reader.read(), 2) == b""
    await raw.close()


async def test_stall_mid_reply_sends_half_a_line(emulator):
    emu = await emulator()
    emu.inject_fault("stall_mid_reply")
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    raw.writer.write(b"%1POWR ?\r")
    assert await asyncio.wait_for(raw.reader.read(100), 2) == b"%1PO"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(raw.reader.read(100), 0.2)
    await raw.close()


async def test_power_walk_and_hours(emulator):
    emu = await emulator(warmup_s=0.1, cooldown_s=0.1, hours_per_second=36000.0)
    assert emu.press_power(True) == "OK" and emu.power == PowerState.warming
    assert emu.press_power(False) == "ERR3"
    await wait_until(lambda: emu.power == PowerState.on)
    await wait_until(lambda: emu.lamp_hours >= 10 and emu.filter_hours >= 10)
    assert emu.press_power(False) == "OK" and emu.power == PowerState.cooling
    assert emu.press_power(True) == "ERR3"
    await wait_until(lambda: emu.power == PowerState.standby)
    hours = emu.lamp_hours
    await asyncio.sleep(0.05)  # time passes in standby; the hours must not
    assert emu.lamp_hours == hours


async def test_network_off_refuses_connections_then_comes_back_on_the_same_port(emulator):
    emu = await emulator()
    port = emu.port
    await emu.set_network(False)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    await emu.set_network(True)
    async with PJLinkSession("127.0.0.1", port) as s:
        assert await s.query("POWR") == PowerState.standby


async def test_udp_search_answer_bytes(emulator):
    emu = await emulator(pjlink_class=2, mac="00:26:AB:00:00:01")
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
    try:
        transport.sendto(b"%2SRCH\r", ("127.0.0.1", emu.udp_port))
        assert await asyncio.wait_for(got, 2) == b"%2ACKN=00:26:ab:00:00:01\r"
    finally:
        transport.close()


def test_config_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError, match="colour"):
        ProjectorConfig(colour="red")
    with pytest.raises(ValidationError, match="input"):
        ProjectorConfig(inputs=["HDMI"])
    with pytest.raises(ValidationError, match="Class 1"):
        ProjectorConfig(pjlink_class=1, inputs=["3A"])
    with pytest.raises(ValidationError):
        ProjectorConfig(reply_delay_s=(0.5, 0.1))
    with pytest.raises(ValidationError):
        ProjectorEmulator(pjlink_class=3)
    assert "secret" not in repr(ProjectorConfig(password="secret"))
    assert "secret" not in repr(ProjectorEmulator(password="secret"))


def test_inject_unknown_fault_names_the_known_ones():
    with pytest.raises(ValueError, match="stall_mid_reply"):
        ProjectorEmulator().inject_fault("meltdown")


async def test_fleet_from_count_unique_identities():
    async with EmulatedFleet.from_count(20, pjlink_class=2, password="pw") as fleet:
        assert len({e.port for e in fleet}) == 20
        assert len({e.config.mac for e in fleet}) == 20
        assert len({e.config.serial for e in fleet}) == 20
        assert fleet.urls()[0].startswith("pjlink://:pw@127.0.0.1:")
        assert "pw" not in fleet.urls(with_password=False)[0]
        async with PJLinkSession("127.0.0.1", fleet[7].port, "pw") as s:
            assert await s.query("NAME") == "Projector 8"


async def test_five_hundred_projectors_in_one_process():
    async with EmulatedFleet.from_count(500, pjlink_class=2, reply_delay_s=(0.0, 0.01), seed=3) as fleet:

        async def ask(port: int) -> object:
            async with PJLinkSession("127.0.0.1", port, reply_timeout=10, connect_timeout=10) as s:
                return await s.query("SNUM", 2)

        serials = await asyncio.gather(*(ask(e.port) for e in fleet))
        assert serials == [e.config.serial for e in fleet]


async def test_bad_answers_on_the_wire(emulator):
    emu = await emulator(power="on", bad_answers={"POWR": "out_of_spec", "ERST": "truncated", "NAME": "non_ascii",
                                                  "INF1": "garbage", "LAMP": "none", "inf2": "out_of_spec"})
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await raw.ask(b"%1POWR ?\r") == b"%1POWR=7\r"
    assert await raw.ask(b"%1AVMT 31\r") == b"%1AVMT=OK\r"  # only queries are spoiled
    assert await raw.ask(b"%1ERST ?\r") == b"%1ERST\r"
    assert await raw.ask(b"%1NAME ?\r") == b"%1NAME=Projector\xe9\r"
    assert await raw.ask(b"%1INF1 ?\r") == b"#?! \x7fgarbage\r"
    assert await raw.ask(b"%1INF2 ?\r") == b"%1INF2=" + b"X" * 140 + b"\r"  # over the 128 bytes allowed
    raw.writer.write(b"%1LAMP ?\r%1CLSS ?\r")
    assert await raw.read_until_cr() == b"%1CLSS=1\r"  # LAMP is never answered
    await raw.close()


async def test_stray_lines_on_the_wire(emulator):
    every = ["notify_lkup", "notify_powr", "notify_erst", "notify_inpt", "late", "echo"]
    emu = await emulator(pjlink_class=2, power="on", mac="00:26:ab:00:00:07", stray_lines={"ERST": every})
    raw = await Raw.open(emu.port)
    await raw.read_until_cr()
    assert await raw.ask(b"%1POWR ?\r") == b"%1POWR=1\r"  # nothing stray for POWR
    raw.writer.write(b"%1ERST ?\r")
    lines = [await raw.read_until_cr() for _ in range(7)]
    assert lines == [b"%2LKUP=00:26:ab:00:00:07\r", b"%2POWR=1\r", b"%2ERST=000000\r", b"%2INPT=31\r",
                     b"%1POWR=1\r",  # a late answer to the previous question
                     b"%1ERST ?\r",  # the request echoed
                     b"%1ERST=000000\r"]
    assert emu.commands_received == 2  # the late answer is not counted as a question
    await raw.close()


async def test_per_answer_delay_range(emulator):
    emu = await emulator(reply_delay_s=(0.2, 0.3), seed=5)
    async with PJLinkSession("127.0.0.1", emu.port, reply_timeout=2.0) as s:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await s.query("POWR")
        assert 0.19 < loop.time() - t0 < 0.6
