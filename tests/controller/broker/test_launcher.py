"""The one Mosquitto launcher (demo and test fixtures): start, refuse a bad config, stop, kill, die with parent."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from avfleet.controller.broker.launcher import Mosquitto, MosquittoError, loopback_config
from tests.support.components import free_port, require_binary


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_closed(port: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not listening(port):
            return True
        time.sleep(0.1)
    return False


def test_start_stop_and_kill(tmp_path: Path) -> None:
    binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
    port = free_port()
    conf = tmp_path / "m.conf"
    conf.write_text(loopback_config(port, persistence_dir=tmp_path))
    broker = Mosquitto(conf, port, binary=binary).start()
    assert broker.running() and listening(port)
    assert broker.url == f"mqtt://127.0.0.1:{port}"
    broker.stop()
    assert not broker.running() and wait_closed(port)
    assert (tmp_path / "mosquitto.db").exists()  # a clean stop writes the persistence file
    broker.start()
    pid = broker.pid
    broker.kill()
    assert pid is not None and broker.pid is None and wait_closed(port)


def test_a_bad_config_names_the_log(tmp_path: Path) -> None:
    binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
    port = free_port()
    conf = tmp_path / "m.conf"
    conf.write_text(loopback_config(port, extra="no_such_option 1\n"))
    with pytest.raises(MosquittoError, match=r"exited .* at start.*no_such_option"):
        Mosquitto(conf, port, binary=binary).start()


def test_a_killed_owner_takes_its_broker_along(tmp_path: Path) -> None:
    require_binary("mosquitto", "/usr/sbin/mosquitto")
    port = free_port()
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from avfleet.controller.broker.launcher import Mosquitto, loopback_config
        conf = Path({str(tmp_path / 'm.conf')!r})
        conf.write_text(loopback_config({port}))
        Mosquitto(conf, {port}, die_with_parent=True).start()
        print("up", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "up"
        assert listening(port)
        owner.kill()
        owner.wait(10)
        assert wait_closed(port), "the broker outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
