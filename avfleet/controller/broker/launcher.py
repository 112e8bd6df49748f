"""Start and stop a Mosquitto process: the one launcher for `avfleet demo` and the test fixtures.

Production runs Mosquitto under systemd with the files `avfleet broker config` writes; this module is
for the places that own a broker for a while (the demo, tests, benchmarks). It runs any config
file, waits until the listener accepts connections, and stops (SIGTERM, so Mosquitto writes its
persistence file), kills (SIGKILL, a crash) or reloads (SIGHUP) it. Standard library only; the
agent never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("avfleet.broker")

_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")  # Debian installs it outside a user's PATH


class MosquittoError(RuntimeError):
    """Mosquitto is missing, exited at start or did not listen; the message says where to look."""


def find_mosquitto() -> str | None:
    """The mosquitto executable on PATH or where Debian puts it, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((c for c in _CANDIDATES if os.path.isfile(c) and os.access(c, os.X_OK)), None)


def loopback_config(
    port: int,
    *,
    persistence_dir: Path | None = None,
    autosave_interval_s: int = 1,
    max_inflight_messages: int = 20,
    log_types: tuple[str, ...] = ("error", "warning"),
    extra: str = "",
) -> str:
    """An anonymous listener on 127.0.0.1 for the demo and the tests (never for production).

    Logs go to stderr, which the launcher sends to its log file.
    """
    lines = [
        "per_listener_settings false",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
    ]
    if os.geteuid() == 0:
        # Started as root, Mosquitto drops to the `mosquitto` user: that user cannot write private
        # temporary folders (no persistence file), and the drop clears the parent-death signal.
        lines.append("user root")
    if persistence_dir is not None:
        lines += ["persistence true", f"persistence_location {persistence_dir}/",
                  f"autosave_interval {autosave_interval_s}"]
    else:
        lines.append("persistence false")
    # Queue limits well above the 1000-message default that silently drops a backlog (docs/deployment.md).
    lines += ["max_queued_messages 1000000", f"max_inflight_messages {max_inflight_messages}", "log_dest stderr"]
    lines += [f"log_type {t}" for t in log_types]
    return "\n".join(lines) + "\n" + extra


class Mosquitto:
    """One Mosquitto process running `conf_path`, reachable on 127.0.0.1:`port`.

    `die_with_parent`: Linux sends the broker SIGTERM when the thread that started it dies (the demo
    uses it so a killed demo leaves no broker behind; start it from the main thread then).
    """

    def __init__(
        self,
        conf_path: Path,
        port: int,
        *,
        log_path: Path | None = None,
        binary: str | None = None,
        die_with_parent: bool = False,
    ) -> None:
        self.conf_path = Path(conf_path)
        self.port = port
        self.log_path = Path(log_path) if log_path else self.conf_path.with_suffix(".log")
        self.binary = binary
        self.die_with_parent = die_with_parent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        binary = self.binary or find_mosquitto()
        if binary is None:
            raise MosquittoError("mosquitto is not installed (apt-get install mosquitto)")
        if self.running():
            raise MosquittoError(f"mosquitto (pid {self.pid}) is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            # Its own session keeps the terminal's Ctrl-C away from it: the owner stops it last.
            self.proc = subprocess.Popen(
                [binary, "-c", str(self.conf_path)], stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=True, preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        self._wait_listening(timeout)
        log.debug("mosquitto (pid %d) listening on %s", self.proc.pid, self.url)
        return self

    def _wait_listening(self, timeout: float) -> None:
        assert self.proc is not None  # set by start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise MosquittoError(f"mosquitto exited with {code} at start: {self._log_tail()}"
                                     f" (log: {self.log_path})")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)  # a listening socket has no event to await from outside the process
        self.kill()
        raise MosquittoError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout:g} s"
                             f" (log: {self.log_path})")

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop: SIGTERM, so Mosquitto writes its persistence file; SIGKILL if it hangs."""
        if self.running():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("mosquitto (pid %d) ignored SIGTERM for %g s; killing it", self.proc.pid, timeout)
                self.kill()
        self.proc = None

    def kill(self) -> None:
        """A crash: SIGKILL to the broker's process group, no persistence written."""
        if self.running():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files (no acknowledgement exists)."""
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGHUP)

    def _log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:].strip() or "(no output)"
        except OSError:
            return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
