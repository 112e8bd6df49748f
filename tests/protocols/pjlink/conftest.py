from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.pjlink.poller import PJLinkPoller


@pytest.fixture
async def projector() -> AsyncIterator[Callable[..., Awaitable[ProjectorEmulator]]]:
    """A factory of started emulated projectors on free loopback ports, stopped after the test."""
    started: list[ProjectorEmulator] = []

    async def make(**settings: Any) -> ProjectorEmulator:
        settings.setdefault("warmup_s", 0.2)
        settings.setdefault("cooldown_s", 0.2)
        emu = await ProjectorEmulator(**settings).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        await emu.stop()


def poller_for(emu: ProjectorEmulator, password: str | None = None, **options: Any) -> PJLinkPoller:
    options.setdefault("connect_timeout", 1.0)
    options.setdefault("reply_timeout", 1.0)
    pw = emu.config.password if password is None else password
    return PJLinkPoller("pj-test", PJLinkTarget("127.0.0.1", emu.port, pw), **options)
