"""A real Mosquitto broker started by a test on a free loopback port.

A thin fixture layer over the package's launcher (avfleet.controller.broker.launcher, which the demo
uses too): a missing binary skips (fails in CI), and the broker can be stopped, killed with SIGKILL
and started again on the same port and persistence directory, for outage and crash tests.
"""

from __future__ import annotations

from pathlib import Path

from avfleet.controller.broker.launcher import Mosquitto, loopback_config
from tests.support.components import free_port, require_binary


class MosquittoBroker:
    def __init__(self, workdir: Path, *, extra_config: str = "", port: int | None = None) -> None:
        self.binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra_config = extra_config
        self.log_path = workdir / "mosquitto.log"
        self.conf_path = workdir / "mosquitto.conf"
        self._process = Mosquitto(self.conf_path, self.port, log_path=self.log_path, binary=self.binary)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def proc(self):  # the running subprocess.Popen, or None
        return self._process.proc

    def write_config(self) -> None:
        self.conf_path.write_text(loopback_config(
            self.port, persistence_dir=self.workdir, autosave_interval_s=1, max_inflight_messages=100,
            log_types=("error", "warning", "notice"), extra=self.extra_config,
        ))

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        self.write_config()
        self._process.start(timeout)
        return self

    def stop(self) -> None:
        """A clean stop: SIGTERM, so Mosquitto writes its persistence file."""
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()
