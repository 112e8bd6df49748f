"""The one logging set-up: one line per record on the given stream, UTC timestamps, an optional
process tag, chatty loggers held at WARNING; run in a fresh interpreter (pytest owns this one's root)."""

from __future__ import annotations

import re
import subprocess
import sys

SCRIPT = r"""
import logging, os, time
os.environ["TZ"] = "Asia/Tokyo"; time.tzset()  # far from UTC: a local timestamp would show
from avfleet.logsetup import setup_logging
setup_logging("debug", tag="writer", quiet=["chatty"])
setup_logging("ERROR")  # a second call changes nothing, like logging.basicConfig
logging.getLogger("avfleet.x").debug("hello %s", "there")
logging.getLogger("chatty").info("not shown")
logging.getLogger("chatty").warning("shown")
print(time.strftime("%Y-%m-%d %H", time.gmtime()))
"""


def test_one_line_per_record_in_utc_with_the_tag() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    lines = done.stderr.splitlines()
    utc_hour = done.stdout.strip()
    assert len(lines) == 2, lines
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} DEBUG avfleet\.x\[writer\]: hello there", lines[0])
    assert lines[0].startswith(utc_hour)  # UTC, not the process's Asia/Tokyo time
    assert lines[1].endswith("WARNING chatty[writer]: shown")
