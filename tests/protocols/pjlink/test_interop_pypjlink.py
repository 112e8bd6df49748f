"""Interoperability: the independent PyPI client pypjlink2 (synchronous, Class 1) against our emulator.

pypjlink2 runs in a worker thread while the emulator serves from the test's event loop.
"""

from __future__ import annotations

import asyncio

from pypjlink import Projector

from avfleet.protocols.pjlink.codec import PowerState


def _read_all(port: int, password: str | None) -> dict:
    with Projector.from_address("127.0.0.1", port, timeout=5) as p:
        auth = p.authenticate(password)
        return {
            "auth": auth,
            "power": p.get_power(),
            "lamps": p.get_lamps(),
            "errors": p.get_errors(),
            "name": p.get_name(),
            "manufacturer": p.get_manufacturer(),
            "model": p.get_product_name(),
            "info": p.get_other_info(),
            "inputs": p.get_inputs(),
            "input": p.get_input(),
            "mute": p.get_mute(),
        }


async def test_pypjlink_reads_power_lamps_errors_and_name(projector):
    emu = await projector(
        power="on", lamp_hours=2345, name="Aula Nord", manufacturer="EPSON", model="EB-1470Ui", info="Main 1.05",
        inputs=["11", "21", "32", "52"], initial_input="32",
    )
    emu.set_error("filter", 1)
    emu.set_error("temperature", 2)
    emu.set_av_mute(True, True)
    got = await asyncio.to_thread(_read_all, emu.port, None)
    assert got["auth"] is None  # no password asked
    assert got["power"] == "on"
    assert got["lamps"] == [(2345, True)]
    assert got["errors"] == {"fan": "ok", "lamp": "ok", "temperature": "error", "cover": "ok", "filter": "warning",
                             "other": "ok"}
    assert got["name"] == "Aula Nord"
    assert (got["manufacturer"], got["model"], got["info"]) == ("EPSON", "EB-1470Ui", "Main 1.05")
    assert got["inputs"] == [("RGB", 1), ("VIDEO", 1), ("DIGITAL", 2), ("NETWORK", 2)]
    assert got["input"] == ("DIGITAL", 2)
    assert got["mute"] == (True, True)


async def test_pypjlink_with_password(projector):
    emu = await projector(password="JBMIAProjectorLink", power="on", lamp_hours=10)
    got = await asyncio.to_thread(_read_all, emu.port, "JBMIAProjectorLink")
    assert got["auth"] is True and got["power"] == "on" and got["lamps"] == [(10, True)]
    assert emu.auth_failures == 0


async def test_pypjlink_wrong_password_is_refused(projector):
    emu = await projector(password="right")

    def attempt() -> object:
        with Projector.from_address("127.0.0.1", emu.port, timeout=5) as p:
            return p.authenticate("wrong")

    assert await asyncio.to_thread(attempt) is False
    assert emu.auth_failures == 1


async def test_pypjlink_powers_on_through_warm_up(projector):
    emu = await projector(warmup_s=30)

    def power_on() -> str:
        with Projector.from_address("127.0.0.1", emu.port, timeout=5) as p:
            p.authenticate()
            p.set_power("on")
            return p.get_power()

    assert await asyncio.to_thread(power_on) == "warm-up"
    assert emu.power == PowerState.warming


async def test_pypjlink_reads_a_mixed_case_greeting(projector):
    emu = await projector(power="on", mixed_case_greeting=True, password="pw")
    got = await asyncio.to_thread(_read_all, emu.port, "pw")
    assert got["auth"] is True and got["power"] == "on"
