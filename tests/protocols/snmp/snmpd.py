"""Debian's net-snmp `snmpd`, run in the foreground with its own config on a free loopback UDP port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from avfleet.emulator.snmp_sim import udp_get_answers
from tests.support.components import free_port, require_binary

V3_USER = "avfleet"
V3_AUTH_KEY = "authpass123"
V3_PRIV_KEY = "privpass123"
READ_COMMUNITY = "public"
WRITE_COMMUNITY = "private"
EPSON_LAMP_OID = "1.3.6.1.4.1.1248.4.1.1.1.1.0"
EPSON_LAMP_HOURS = 4321
WRITABLE_OID = "1.3.6.1.4.1.1248.4.1.1.2.1.0"


class Snmpd:
    def __init__(self, workdir: Path, *, auth_key: str = V3_AUTH_KEY, priv_key: str = V3_PRIV_KEY) -> None:
        self.binary = require_binary("snmpd", "/usr/sbin/snmpd")
        self.workdir = workdir
        self.auth_key = auth_key  # the v3 user's keys (another snmpd may give the same user other keys)
        self.priv_key = priv_key
        self.port = free_port(socket.SOCK_DGRAM)
        self._proc: subprocess.Popen | None = None

    def start(self) -> Snmpd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        persist = self.workdir / "persist"
        persist.mkdir(exist_ok=True)
        conf = self.workdir / "snmpd.conf"
        conf.write_text(
            f"agentaddress udp:127.0.0.1:{self.port}\n"
            f"rocommunity {READ_COMMUNITY} 127.0.0.1\n"
            f"rwcommunity {WRITE_COMMUNITY} 127.0.0.1\n"
            f"createUser {V3_USER} SHA {self.auth_key} AES {self.priv_key}\n"
            f"rouser {V3_USER} authpriv\n"
            "sysDescr avfleet test snmpd\n"
            "sysName snmpd-under-test\n"
            f"override {EPSON_LAMP_OID} integer {EPSON_LAMP_HOURS}\n"
            f"override -rw {WRITABLE_OID} integer 1\n"
        )
        log = self.workdir / "snmpd.log"
        self._proc = subprocess.Popen(
            [
                self.binary, "-f", "-C", "-c", str(conf), "-Lf", str(log),
                "-p", str(self.workdir / "snmpd.pid"), f"--persistentDir={persist}",
                # snmpd refuses -f with no listening address otherwise; the user and group stay root
                # because the persistent dir lives in the test's temp dir.
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"},
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"snmpd exited with {self._proc.returncode}: {log.read_text()[-2000:]}")
            if udp_get_answers("127.0.0.1", self.port, READ_COMMUNITY, timeout=0.2):
                return self
        self.stop()
        raise RuntimeError(f"snmpd did not answer on UDP {self.port}: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

