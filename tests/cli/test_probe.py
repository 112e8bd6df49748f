"""`avfleet probe` as a user runs it: the real console script in a subprocess, emulators in a background thread."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from avfleet.protocols.status import DeviceStatus
from tests.support.components import free_port

AVFLEET = str(Path(sys.executable).with_name("avfleet"))


def probe(*args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    done = subprocess.run([AVFLEET, "probe", *args], capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - t0


@pytest.fixture(scope="module")
def fleet() -> Iterator[EmulatorThread]:
    factory = lambda: EmulatedFleet.from_count(  # noqa: E731
        4, pjlink_class=2, password="s3cret", power="on", lamp_hours=777, manufacturer="NEC", model="P554U"
    )
    with EmulatorThread(factory) as thread:
        yield thread


def url(thread: EmulatorThread, i: int, password: str = "s3cret") -> str:
    return f"pjlink://:{password}@127.0.0.1:{thread.fleet[i].port}"


def test_online_json_is_exactly_the_status_object(fleet):
    done, _ = probe(url(fleet, 0), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == list(DeviceStatus.model_fields)  # the DESIGN.md object, field for field
    status = DeviceStatus.model_validate(data)
    assert status.model_dump_json() == done.stdout.strip()
    assert status.availability.value == "online" and status.power.value == "on"
    assert [lamp.hours for lamp in status.lamps] == [777]
    assert status.identity.manufacturer == "NEC" and status.identity.pjlink_class == "2"
    assert status.identity.serial == fleet.fleet[0].config.serial
    assert done.stderr == ""


def test_table_output(fleet):
    fleet.call(lambda: fleet.fleet[1].set_error("filter", 1))
    done, _ = probe(url(fleet, 1))
    assert done.returncode == 0, done.stderr
    for text in ("online", "NEC", "P554U", "777 h on", "filter: warning"):
        assert text in done.stdout
    assert "s3cret" not in done.stdout + done.stderr


def test_wrong_password_is_auth_failed(fleet):
    done, _ = probe(url(fleet, 2, "wrong"), "--json")
    assert done.returncode == 3
    assert json.loads(done.stdout)["availability"] == "auth_failed"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "auth_failed" in lines[0]
    assert ":wrong@" not in done.stderr and ":***@" in done.stderr  # the password never printed


def test_unreachable_port():
    done, elapsed = probe(f"pjlink://127.0.0.1:{free_port()}", "--json")
    assert done.returncode == 1
    status = json.loads(done.stdout)
    assert status["availability"] == "unreachable" and status["power"] == "unknown"
    assert len(done.stderr.strip().splitlines()) == 1 and "unreachable" in done.stderr
    assert elapsed < 10


def test_unreachable_without_json_prints_table_and_reason():
    done, _ = probe(f"pjlink://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "unreachable" in done.stdout and "refused" in done.stderr


@pytest.mark.parametrize("bad", ["http://example", "pjlink://", "pjlink://user:pw@host", "pjlink://h:99999"])
def test_bad_url_exits_2_with_the_reason(bad):
    done, _ = probe(bad)
    assert done.returncode == 2
    assert done.stderr.startswith("avfleet probe: ") and len(done.stderr.strip().splitlines()) == 1


def test_garbage_answer_is_error():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:  # a device that answers with something that is not PJLink
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.recv(100)

    threading.Thread(target=serve, daemon=True).start()
    try:
        done, _ = probe(f"pjlink://127.0.0.1:{port}", "--json")
    finally:
        listener.close()
    assert done.returncode == 4
    status = json.loads(done.stdout)
    assert status["availability"] == "error" and "SSH-2.0" in status["detail"]


def test_short_timeout_against_a_silent_device(fleet):
    fleet.call(lambda: fleet.fleet[3].inject_fault("silent"))
    try:
        done, elapsed = probe(url(fleet, 3), "--json", "--timeout", "0.5")
    finally:
        fleet.call(lambda: fleet.fleet[3].clear_fault("silent"))
    assert done.returncode == 1 and json.loads(done.stdout)["availability"] == "unreachable"
    assert elapsed < 5


@pytest.mark.slow
def test_slow_projector_exits_0_within_the_bound_with_power_read(fleet):
    # each answer 1-1.5 s: a full Class 2 status (13 answers) does not fit in the 13 s poll deadline
    def slow(on: bool) -> None:
        emu = fleet.fleet[3]
        emu.config = emu.config.model_copy(update={"reply_delay_s": (1.0, 1.5) if on else 0.0})

    fleet.call(lambda: slow(True))
    try:
        done, elapsed = probe(url(fleet, 3), "--json")
    finally:
        fleet.call(lambda: slow(False))
    # the probe's bound of about 15 s after start-up (its watchdog would exit 1 at 16 s); start-up of
    # the interpreter takes seconds of its own on a loaded 2-core machine
    assert elapsed < 18
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["availability"] == "online" and status["power"] == "on"
    assert status["faults"]["fan"] == "ok" and [lamp["hours"] for lamp in status["lamps"]] == [777]
    assert "poll deadline" in status["detail"]  # what was not read is unknown, and says so


def test_one_unreadable_answer_still_exits_0(fleet):
    def spoil(on: bool) -> None:
        emu = fleet.fleet[2]
        emu.config = emu.config.model_copy(update={"bad_answers": {"LAMP": "non_ascii"} if on else {}})

    fleet.call(lambda: spoil(True))
    try:
        done, _ = probe(url(fleet, 2), "--json")
    finally:
        fleet.call(lambda: spoil(False))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["availability"] == "online" and status["power"] == "on" and status["lamps"] == []
    assert "LAMP unreadable" in status["detail"] and "\\xe9" in status["detail"]  # the raw bytes
