"""Many emulated projectors in the current event loop, from a count or a fleet file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avfleet.emulator.fleet_file import load_fleet_file
from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import ProjectorConfig

_START_BATCH = 100


class EmulatedFleet:
    """N ProjectorEmulators. With `base_port` P projector i listens on P+i (TCP, and UDP for Class 2);
    with base_port 0 every one gets a free port."""

    def __init__(
        self,
        configs: list[ProjectorConfig],
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        ports: list[int | None] | None = None,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.emulators: list[ProjectorEmulator] = []
        for i, config in enumerate(configs):
            port = ports[i] if ports and ports[i] else (base_port + i if base_port else 0)
            udp_port = port if config.pjlink_class == 2 and port else 0
            self.emulators.append(
                ProjectorEmulator(
                    config, host=host, port=port, udp_port=udp_port, seed=None if seed is None else seed + i
                )
            )

    @classmethod
    def from_count(
        cls,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        seed: int | None = None,
        **settings: Any,
    ) -> EmulatedFleet:
        """`count` projectors with the given ProjectorConfig settings, unique names, serials and MACs."""
        if count < 1:
            raise ValueError("count must be at least 1")
        configs = []
        for n in range(1, count + 1):
            values = {
                "name": f"Projector {n}",
                "serial": f"EMU{n:07d}",
                "mac": f"02:00:00:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}",
                **settings,
            }
            configs.append(ProjectorConfig.model_validate(values))
        return cls(configs, host=host, base_port=base_port, seed=seed)

    @classmethod
    def from_file(
        cls, path: str | Path, *, host: str = "127.0.0.1", base_port: int = 0, seed: int | None = None, **settings: Any
    ) -> EmulatedFleet:
        """The projectors of a fleet file (FleetFileError on a bad file); `settings` override every entry."""
        planned = load_fleet_file(path)
        configs = [
            ProjectorConfig.model_validate({**p.config.model_dump(), **settings}) if settings else p.config
            for p in planned
        ]
        return cls(configs, host=host, base_port=base_port, ports=[p.port for p in planned], seed=seed)

    async def start(self) -> EmulatedFleet:
        try:
            for i in range(0, len(self.emulators), _START_BATCH):
                await asyncio.gather(*(e.start() for e in self.emulators[i : i + _START_BATCH]))
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        await asyncio.gather(*(e.stop() for e in self.emulators), return_exceptions=True)

    async def __aenter__(self) -> EmulatedFleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def urls(self, *, with_password: bool = True) -> list[str]:
        return [e.url(with_password=with_password) for e in self.emulators]

    def __len__(self) -> int:
        return len(self.emulators)

    def __iter__(self) -> Iterator[ProjectorEmulator]:
        return iter(self.emulators)

    def __getitem__(self, index: int) -> ProjectorEmulator:
        return self.emulators[index]
