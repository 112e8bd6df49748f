"""`avfleet demo` as a user runs it: a subprocess, its printed lines, the API filling up, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.components import require_binary


def run_demo(tmp_path: Path, *extra: str) -> None:
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "demo", "--devices", "12", "--port", "0",
                             *extra], stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    lines: dict[str, str] = {}
    got = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition(": ")
            lines[key] = value
            if {"dashboard", "api token", "login", "broker"} <= lines.keys():
                got.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert got.wait(90), (tmp_path / "demo.log").read_text()[-3000:]
        assert lines["broker"].startswith("mqtt://127.0.0.1:")
        base = lines["dashboard"].rstrip("/")
        auth = {"Authorization": f"Bearer {lines['api token']}"}
        assert httpx.get(f"{base}/api/v1/devices", timeout=10).status_code == 401

        deadline = time.monotonic() + 90
        items: list[dict] = []
        while time.monotonic() < deadline:
            body = httpx.get(f"{base}/api/v1/devices?limit=1000", headers=auth, timeout=10).json()
            items = body["items"]
            polled = [d for d in items if d["kind"] == "projector" and d["availability"] != "unknown"]
            if len(polled) == 12 and any(d["faults"] for d in polled):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"devices did not appear with statuses: {items}")
        projectors = [d for d in items if d["kind"] == "projector"]
        assert sum(d["availability"] == "online" for d in projectors) >= 10
        assert {d["power"] for d in projectors if d["availability"] == "online"} >= {"on", "standby"}
        assert {d["municipality"] for d in items} >= {"Jönköping", "Habo"}
        user, password = lines["login"].split(" ", 1)
        token = httpx.post(f"{base}/api/v1/auth/login", json={"username": user, "password": password}).json()
        assert token["token"] == lines["api token"]
        assert httpx.get(f"{base}/", timeout=10).status_code == 200

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, (tmp_path / "demo.log").read_text()[-3000:]
        assert "Traceback" not in (tmp_path / "demo.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.slow
def test_demo_with_mosquitto(tmp_path: Path) -> None:
    require_binary("mosquitto", "/usr/sbin/mosquitto")
    run_demo(tmp_path)


@pytest.mark.slow
def test_demo_with_the_embedded_development_broker(tmp_path: Path) -> None:
    run_demo(tmp_path, "--broker", "embedded")
    assert "embedded amqtt DEVELOPMENT broker" in (tmp_path / "demo.log").read_text()


@pytest.mark.slow
def test_a_killed_demo_takes_its_mosquitto_along(tmp_path: Path) -> None:
    import socket

    require_binary("mosquitto", "/usr/sbin/mosquitto")
    proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "demo", "--devices", "3", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        broker = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("broker: "):
                broker = line.strip().removeprefix("broker: mqtt://")
                break
        assert broker is not None
        host, port = broker.rsplit(":", 1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
            except OSError:
                return  # the broker is gone
            time.sleep(0.2)
        pytest.fail("the demo's Mosquitto outlived the demo")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
