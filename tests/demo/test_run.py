"""The demo's wiring in-process: extra steps run once controller and fleet are up, before the ready
lines; a failing step leaves nothing running."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from avfleet.demo.errors import DemoError
from avfleet.demo.run import Demo, DemoContext
from tests.support.components import require_binary


def closed(url: str) -> bool:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
        return False
    except OSError:
        return True


def test_steps_run_when_everything_is_up_and_before_the_ready_lines(tmp_path: Path) -> None:
    require_binary("mosquitto", "/usr/sbin/mosquitto")
    lines: list[str] = []
    seen: list[tuple] = []

    def step(ctx: DemoContext) -> None:
        token = ctx.settings.api_tokens[0].get_secret_value()
        agents = httpx.get(f"{ctx.controller.dashboard_url}api/v1/agents", timeout=10,
                           headers={"Authorization": f"Bearer {token}"})
        fleet = ctx.fleet.value
        seen.append((agents.status_code, len(fleet.agents), all(a.ready.is_set() for a in fleet.agents),
                     ctx.fleet.call(lambda: len(fleet.projectors)), list(lines)))

    demo = Demo(devices=3, port=0, data_dir=tmp_path / "demo", out=lines.append, steps=[step])
    try:
        demo.start()
    finally:
        demo.stop()
    assert seen == [(200, 3, True, 3, [])]
    assert [line.split(": ")[0] for line in lines] == ["dashboard", "api token", "login", "broker", "mail"]
    broker_line = next(line for line in lines if line.startswith("broker: "))
    assert closed(broker_line.split(": ")[1])


def test_a_failing_step_stops_the_demo_and_its_broker(tmp_path: Path) -> None:
    require_binary("mosquitto", "/usr/sbin/mosquitto")
    brokers: list[str] = []

    def failing(ctx: DemoContext) -> None:
        brokers.append(ctx.broker.url)
        raise DemoError("seeding failed")

    demo = Demo(devices=1, port=0, data_dir=tmp_path / "demo", out=lambda _: None, steps=[failing])
    with pytest.raises(DemoError, match="seeding failed"):
        try:
            demo.start()
        finally:
            demo.stop()
    assert brokers and closed(brokers[0])
