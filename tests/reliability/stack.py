"""Pieces of the reliability scenarios: a private PostgreSQL cluster that can be stopped and started
under a running controller, controller configs for `avfleet controller` subprocesses, and the API.

Everything is real: Debian's PostgreSQL binaries (initdb, pg_ctl) on a free loopback port, the
session's PostgreSQL on 127.0.0.1:5432 for a scenario's own database, Mosquitto, emulated projectors.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.controller.conftest import API_TOKEN, migrated_pg_database
from tests.controller.processes import ControllerProcess
from tests.support.components import free_port, missing

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) on a free port, owned by this test run.

    As root the server must run as another user: the cluster belongs to `postgres` (runuser), in a
    directory of its own under /tmp (pytest's temporary directories are private to root).
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl) are not installed")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="avfleet-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                missing("runuser is needed to run PostgreSQL as a non-root user")
            shutil.chown(self.root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{self.log_text()[-2000:]}")

    def init(self) -> PrivatePostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")
        return self

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session and stops (a restart by an operator); `immediate` is a crash."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):  # already gone
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


scenario_database = migrated_pg_database  # a migrated database of its own, dropped afterwards


def controller_config(path: Path, *, database_url: str, broker_url: str, client_id: str, **extra: Any) -> Path:
    """A controller settings file (JSON is YAML) for an anonymous test broker."""
    data = {"database_url": database_url, "broker_url": broker_url, "broker_password": "anonymous-broker",
            "api_tokens": [API_TOKEN], "api_port": 0, "client_id": client_id, "default_schedules": False,
            "data_dir": str(path.parent / "controller-data"), **extra}
    path.write_text(json.dumps(data, indent=1))
    return path


class Controllers:
    """Starts, SIGKILLs and restarts `avfleet controller` on one config (same client id, same session)."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.starts = 0
        self.current: ControllerProcess | None = None

    def start(self) -> ControllerProcess:
        self.starts += 1
        self.current = ControllerProcess(self.config, self.workdir / f"controller-{self.starts}.log").start()
        return self.current

    def kill(self) -> None:
        if self.current is not None:
            self.current.kill()

    def api(self) -> httpx.Client:
        assert self.current is not None
        return httpx.Client(base_url=self.current.base_url + "/api/v1", headers=AUTH, timeout=10)

    def health(self) -> dict[str, Any]:
        assert self.current is not None
        return httpx.get(self.current.base_url + "/health", timeout=10).json()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("controller-*.log")))


def stopwatch() -> Any:
    start = time.monotonic()
    return lambda: round(time.monotonic() - start, 2)
