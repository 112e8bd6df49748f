"""`avfleet simulate projectors` in a subprocess, probed by `avfleet probe` in another."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

AVFLEET = str(Path(sys.executable).with_name("avfleet"))


@contextmanager
def simulate(*args: str, lines: int) -> Iterator[list[str]]:
    proc = subprocess.Popen(
        [AVFLEET, "simulate", "projectors", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out = []
        deadline = time.monotonic() + 30
        while len(out) < lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line.strip())
        assert len(out) == lines, proc.stderr.read() if proc.poll() is not None else out
        yield out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                assert proc.wait(10) == 0  # Ctrl-C is a clean stop
            finally:
                if proc.poll() is None:
                    proc.kill()


def test_count_class_password_then_probe():
    with simulate("--count", "3", "--base-port", "0", "--class", "2", "--password", "pw", lines=3) as lines:
        urls = [line.split()[0] for line in lines]
        assert all(u.startswith("pjlink://127.0.0.1:") for u in urls) and len(set(urls)) == 3
        assert all("class=2 auth=yes" in line for line in lines)
        assert "pw" not in "".join(urls)
        done = subprocess.run(
            [AVFLEET, "probe", urls[1].replace("pjlink://", "pjlink://:pw@"), "--json"],
            capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert status["identity"]["pjlink_class"] == "2" and status["identity"]["name"] == "Projector 2"


def test_fleet_file(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "projectors:\n"
        "  - {manufacturer: BenQ, clss_text: Version1, name: Lab, power: 'on', faults: {temperature: 2}}\n"
        "  - {count: 2, class: 2, lamp_count: 0}\n",
        encoding="utf-8",
    )
    with simulate("--fleet", str(fleet), "--base-port", "0", "--warmup", "1", lines=3) as lines:
        assert "name='Lab'" in lines[0] and "class=1" in lines[0]
        assert all("class=2" in line for line in lines[1:])
        done = subprocess.run([AVFLEET, "probe", lines[0].split()[0], "--json"], capture_output=True, text=True,
                              timeout=30)
        status = json.loads(done.stdout)
        assert status["power"] == "on" and status["faults"]["temperature"] == "error"
        assert status["identity"]["manufacturer"] == "BenQ"


def test_bad_fleet_file_exits_2_naming_the_key(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("projectors:\n  - {colour: red}\n", encoding="utf-8")
    done = subprocess.run([AVFLEET, "simulate", "projectors", "--fleet", str(fleet)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2 and "colour" in done.stderr and "fleet.yaml:2" in done.stderr


def test_port_in_use_is_reported():
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = subprocess.run([AVFLEET, "simulate", "projectors", "--count", "1", "--base-port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "cannot listen" in done.stderr
