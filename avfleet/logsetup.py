"""Logging set-up: the one helper every avfleet process calls once at start (agent, controller,
the ingest writer process, the demo). A leaf: imports nothing of avfleet.

One line per record on stderr, timestamps in UTC (as everywhere in avfleet), the logger's name,
and an optional process tag (`[writer]`) so two processes writing to one journal stay apart.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import IO

FORMAT = "%(asctime)s %(levelname)s %(name)s{tag}: %(message)s"


def utc_formatter(tag: str | None = None) -> logging.Formatter:
    formatter = logging.Formatter(FORMAT.format(tag=f"[{tag}]" if tag else ""))
    formatter.converter = time.gmtime  # this formatter only; the process-wide default stays untouched
    return formatter


def setup_logging(
    level: str | int = "INFO",
    *,
    tag: str | None = None,
    stream: IO[str] | None = None,
    quiet: Iterable[str] = (),
) -> None:
    """Configure the root logger once (like logging.basicConfig: a no-op when it has handlers).

    `level` is a name ("DEBUG") or a number; an unknown name means INFO. Loggers named in `quiet`
    (chatty libraries) are held at WARNING.
    """
    if isinstance(level, str):
        level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(utc_formatter(tag))
    logging.basicConfig(level=level, handlers=[handler])
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
