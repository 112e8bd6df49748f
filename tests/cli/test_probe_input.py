"""`avfleet probe` refuses what it cannot poll with one line and exit 2, never a traceback (issue 9.9):
an unknown profile, an undecodable or unsendable community, a URL it cannot read whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.components import free_port

AVFLEET = str(Path(sys.executable).with_name("avfleet"))


def probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AVFLEET, "probe", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("snmp://public@127.0.0.1:{port}?profile=nope",
         "snmp://***@127.0.0.1:{port}?profile=nope: no device profile named 'nope'"),
        ("snmp://public@127.0.0.1:{port}?profile=generic-displa",
         "snmp://***@127.0.0.1:{port}?profile=generic-displa: no device profile named 'generic-displa'; "
         "did you mean generic-display, generic-host, generic-pjlink-class2?"),
        ("snmp://%E2%82%AC@127.0.0.1:{port}",
         "snmp://***@127.0.0.1:{port}: the community or user name holds '€', which SNMP cannot send "
         "(only characters up to U+00FF)"),
        ("snmp://%ff@127.0.0.1:{port}",
         "snmp://***@127.0.0.1:{port}: the community or user name is not UTF-8 once percent-decoded"),
        ("snmp://%00@127.0.0.1:{port}",
         "snmp://***@127.0.0.1:{port}: the community or user name is empty or holds a NUL"),
        ("pjlink://127.0.0.1:{port}/garbage",
         "pjlink://127.0.0.1:{port}: unexpected text after the host and port ('/garbage')"),
        ("pjlink://:pw%zz@127.0.0.1:{port}",
         "pjlink://***@127.0.0.1:{port}: bad percent-encoding in the password (% takes two hex digits)"),
    ],
    ids=["unknown-profile", "profile-suggestion", "community-beyond-latin1", "community-not-utf8",
         "community-nul", "trailing-garbage", "bad-percent"],
)
def test_unpollable_input_is_one_line_and_exit_2(url: str, message: str) -> None:
    port = free_port()
    done = probe(url.format(port=port))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"avfleet probe: {message.format(port=port)}"]
