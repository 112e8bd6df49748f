"""Health figures from the real process and file system; temperature from a thermal-zone file."""

from __future__ import annotations

from pathlib import Path

from avfleet.agent.health import HealthProbe
from avfleet.protocols.mqtt.payloads import HealthMessage


def test_health_figures(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("48123\n")
    probe = HealthProbe(tmp_path, thermal_zone=zone)
    sum(i * i for i in range(200_000))  # some CPU for the share to measure
    figures = probe.collect(outbox_depth=7, outbox_dropped=3)
    assert figures.temperature_c == 48.123
    assert figures.memory_rss_bytes > 10_000_000 and 0 < figures.memory_percent < 100
    assert figures.disk_free_bytes > 0 and figures.uptime_s > 0 and figures.cpu_percent >= 0
    message = HealthMessage(agent_id="a1", seq=1, ts="2026-01-01T00:00:00Z", **figures.as_fields())
    assert (message.outbox_depth, message.outbox_dropped) == (7, 3)


def test_no_thermal_zone_means_no_temperature(tmp_path: Path) -> None:
    probe = HealthProbe(tmp_path, thermal_zone=tmp_path / "missing")
    assert probe.collect(outbox_depth=0, outbox_dropped=0).temperature_c is None
