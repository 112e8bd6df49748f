"""The agent's health report: process and host figures plus the outbox's depth and drops."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


@dataclass
class HealthFigures:
    uptime_s: float
    cpu_percent: float | None
    memory_rss_bytes: int | None
    memory_percent: float | None
    disk_free_bytes: int | None
    temperature_c: float | None
    outbox_depth: int
    outbox_dropped: int

    def as_fields(self) -> dict:
        return dict(self.__dict__)


class HealthProbe:
    """Collects figures; `cpu_percent` is the agent's share of one core since the previous call."""

    def __init__(self, disk_path: Path, *, thermal_zone: Path = THERMAL_ZONE) -> None:
        self.started = time.monotonic()
        self.disk_path = disk_path
        self.thermal_zone = thermal_zone
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # primes the counter: the first real call measures from here

    def temperature(self) -> float | None:
        try:
            return int(self.thermal_zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None

    def collect(self, *, outbox_depth: int, outbox_dropped: int) -> HealthFigures:
        # Each figure on its own: a sandbox (systemd ProtectProc=, ProcSubset=) may hide some of /proc.
        cpu = _safe(lambda: self._process.cpu_percent(None))
        rss = _safe(lambda: self._process.memory_info().rss)
        mem_pct = _safe(self._process.memory_percent)
        free = _safe(lambda: psutil.disk_usage(str(self.disk_path)).free)
        return HealthFigures(
            uptime_s=round(time.monotonic() - self.started, 3),
            cpu_percent=cpu,
            memory_rss_bytes=rss,
            memory_percent=round(mem_pct, 3) if mem_pct is not None else None,
            disk_free_bytes=free,
            temperature_c=self.temperature(),
            outbox_depth=outbox_depth,
            outbox_dropped=outbox_dropped,
        )


def _safe(read):
    try:
        return read()
    except (psutil.Error, OSError, ValueError):
        return None
