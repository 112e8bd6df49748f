"""Running snmpsim (`snmpsim-command-responder`) on a free loopback UDP port, for tests, demo and benchmarks.

snmpsim lives in its own venv (`.venv-snmpsim`, built from the system Python) because, started as
root, it drops privileges to nobody/nogroup after binding and must then still read its interpreter,
the data dir and a cache dir it owns. The runner therefore copies the data files into a fresh
world-readable temp dir of its own (pytest's tmp dirs are 0700) and hands nobody the cache dir.

    sim = SnmpSimRunner()
    sim.add_file("room101/pdu", Path("pdu.snmprec"))   # community (and v3 context) "room101/pdu"
    sim.start()                                        # waits until the agent answers
    ... snmp://room101/pdu@127.0.0.1:{sim.port} ...     # (URL-quote the community)
    sim.stop()
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

SNMPSIM_ENV = "AVFLEET_SNMPSIM"
SYS_DESCR_OID = "1.3.6.1.2.1.1.1.0"


class SnmpSimNotFound(RuntimeError):
    """snmpsim-command-responder is not installed where we look (run `make snmpsim`)."""


def find_snmpsim(repo_root: Path | None = None) -> str:
    """The snmpsim-command-responder executable: $AVFLEET_SNMPSIM, the repo's .venv-snmpsim, then PATH."""
    candidates = []
    if os.environ.get(SNMPSIM_ENV):
        candidates.append(os.environ[SNMPSIM_ENV])
    roots = [repo_root] if repo_root else []
    roots.append(Path(__file__).resolve().parents[2])
    for root in roots:
        candidates.append(str(root / ".venv-snmpsim" / "bin" / "snmpsim-command-responder"))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("snmpsim-command-responder")
    if found:
        return found
    raise SnmpSimNotFound(
        "snmpsim-command-responder not found: run `make snmpsim` (builds .venv-snmpsim) or set $AVFLEET_SNMPSIM"
    )


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def udp_get_answers(host: str, port: int, community: str, *, oid: str = SYS_DESCR_OID, timeout: float = 0.5) -> bool:
    """True when an SNMPv2c GET to host:port is answered at all (any PDU back). No engine needed."""
    p_mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = p_mod.GetRequestPDU()
    p_mod.apiPDU.set_defaults(pdu)
    p_mod.apiPDU.set_varbinds(pdu, [(p_mod.ObjectIdentifier(oid), p_mod.Null(""))])
    msg = p_mod.Message()
    p_mod.apiMessage.set_defaults(msg)
    p_mod.apiMessage.set_community(msg, community)
    p_mod.apiMessage.set_pdu(msg, pdu)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(encoder.encode(msg), (host, port))
            data, _ = sock.recvfrom(65535)
        except OSError:  # timeout, or ICMP port unreachable while the agent is still starting
            return False
    try:
        decoder.decode(data, asn1Spec=p_mod.Message())
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class SnmpSimV3User:
    user: str = "avfleet"
    auth_key: str = "authpass123"
    auth_proto: str = "SHA"
    priv_key: str = "privpass123"
    priv_proto: str = "AES"


class SnmpSimRunner:
    """One snmpsim-command-responder process serving a set of `.snmprec` files on 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int | None = None,
        v3_user: SnmpSimV3User | None = SnmpSimV3User(),
        executable: str | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.executable = executable or find_snmpsim()
        self.requested_port = port
        self.port: int = 0
        self.host = "127.0.0.1"
        self.v3_user = v3_user
        self.extra_args = list(extra_args or [])
        self._root = Path(tempfile.mkdtemp(prefix="avfleet-snmpsim-"))
        self.data_dir = self._root / "data"
        self.cache_dir = self._root / "cache"
        self.data_dir.mkdir()
        self.cache_dir.mkdir()
        self.log_path = self._root / "snmpsim.log"
        self.communities: list[str] = []
        self._proc: subprocess.Popen | None = None

    # data ---------------------------------------------------------------------------------------
    def add_text(self, community: str, text: str, suffix: str = ".snmprec") -> Path:
        """Serve `text` (snmprec or snmpwalk format) under `community` (may contain '/')."""
        path = self.data_dir / f"{community}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.communities.append(community)
        return path

    def add_file(self, community: str, source: Path) -> Path:
        suffix = ".snmpwalk" if source.suffix == ".snmpwalk" else ".snmprec"
        path = self.data_dir / f"{community}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        self.communities.append(community)
        return path

    # process ------------------------------------------------------------------------------------
    def _command(self) -> list[str]:
        # Global options first; then one engine group, whose options must follow --v3-engine-id.
        cmd = [
            self.executable,
            f"--cache-dir={self.cache_dir}",
            f"--logging-method=file:{self.log_path}",
            "--log-level=error",
        ]
        if os.geteuid() == 0:
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        cmd.append("--v3-engine-id=auto")
        if self.v3_user is not None:
            u = self.v3_user
            cmd += [
                f"--v3-user={u.user}",
                f"--v3-auth-key={u.auth_key}",
                f"--v3-auth-proto={u.auth_proto}",
                f"--v3-priv-key={u.priv_key}",
                f"--v3-priv-proto={u.priv_proto}",
            ]
        cmd += [f"--data-dir={self.data_dir}", f"--agent-udpv4-endpoint={self.host}:{self.port}"]
        return cmd + self.extra_args

    def _prepare_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        # The dropped user must traverse and read the data and write the index cache.
        for path in [self._root, *self._root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.chown(self.cache_dir, "nobody", "nogroup")
        self.log_path.touch()
        shutil.chown(self.log_path, "nobody", "nogroup")

    def start(self, timeout: float = 60.0) -> SnmpSimRunner:
        """Start and wait until the first community answers (index building can take a while)."""
        if not self.communities:
            raise ValueError("add at least one data file before start()")
        if self._proc is not None:
            raise RuntimeError("already started")
        self.port = self.requested_port or _free_udp_port()
        self._prepare_permissions()
        self._proc = subprocess.Popen(
            self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        probe_community = self.communities[0]
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                self._proc = None
                raise RuntimeError(f"snmpsim exited at start: {err[-2000:]}{self._log_tail()}")
            if udp_get_answers(self.host, self.port, probe_community, timeout=0.2):
                return self
        self.stop()
        raise RuntimeError(f"snmpsim did not answer on UDP {self.port} within {timeout:g} s{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\nlog: " + self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc is not None and proc.stderr:
            proc.stderr.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> SnmpSimRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # async wrappers, for the demo and asyncio tests ------------------------------------------
    async def astart(self, timeout: float = 60.0) -> SnmpSimRunner:
        return await asyncio.to_thread(self.start, timeout)

    async def astop(self) -> None:
        await asyncio.to_thread(self.cleanup)

