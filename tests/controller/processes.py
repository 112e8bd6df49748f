"""Real processes for the controller's system tests: Mosquitto on the generated config, and
`avfleet controller` subprocesses that can be killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from avfleet.controller.broker.config import BrokerLayout, add_agent, write_broker_config
from avfleet.controller.broker.launcher import Mosquitto
from tests.support.components import free_ports, require_binary


class GeneratedBroker:
    """Mosquitto running the exact files `avfleet broker config` wrote, on free ports."""

    def __init__(self, workdir: Path, *, tls: bool = True) -> None:
        self.binary = require_binary("mosquitto", "/usr/sbin/mosquitto")
        agents_port, controller_port = free_ports(2)
        self.layout = BrokerLayout(workdir / "broker", agents_port=agents_port, controller_port=controller_port,
                                   hostnames=["localhost", "127.0.0.1"], tls=tls)
        self.controller_yaml = write_broker_config(self.layout)
        if os.geteuid() == 0:
            # Adaptation to the test machine: pytest's temporary directories are private to root, so the
            # broker must not drop to the `mosquitto` user as it would in production.
            with self.layout.conf.open("a") as fh:
                fh.write("user root\n")
        self.log_path = workdir / "mosquitto.log"
        self._process = Mosquitto(self.layout.conf, self.layout.controller_port, log_path=self.log_path,
                                  binary=self.binary)

    @property
    def proc(self) -> subprocess.Popen | None:
        return self._process.proc

    @property
    def port(self) -> int:
        return self.layout.controller_port

    def controller_secret(self) -> str:
        return (self.layout.secrets / "avfleet-controller.secret").read_text().strip()

    def add_agent(self, agent_id: str) -> str:
        """Create the agent's credentials and reload the broker; returns its password."""
        creds = add_agent(self.layout, agent_id, broker_host="127.0.0.1", municipality="Test", school="Test")
        if self._process.running():
            self._process.reload()
            time.sleep(0.3)  # SIGHUP has no acknowledgement; the reload is quick
        return creds.secret_file.read_text().strip()

    def start(self) -> GeneratedBroker:
        self._process.start()
        return self

    def stop(self) -> None:
        self._process.stop()


class ControllerProcess:
    """`avfleet controller --config FILE` in a subprocess; `start()` waits for its ready lines."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.lines: dict[str, str] = {}

    def start(self, timeout: float = 60.0) -> ControllerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "controller", "--config",
                                      str(self.config)], stdout=subprocess.PIPE, stderr=log, text=True,
                                     env=self.env, start_new_session=True)
        got_all = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                key, _, value = line.strip().partition(": ")
                self.lines[key] = value
                if key == "broker":
                    got_all.set()

        threading.Thread(target=read, daemon=True).start()
        if not got_all.wait(timeout):
            self.kill()
            raise TimeoutError(f"controller did not print its ready lines: {self.log_path.read_text()[-3000:]}")
        return self

    @property
    def base_url(self) -> str:
        return self.lines["dashboard"].rstrip("/")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def interrupt(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)
