"""systemd readiness and watchdog pings (Type=notify, WatchdogSec=), only when systemd asks for them.

`WATCHDOG=1` is sent only while the agent is healthy in the ways systemd cannot see: the event loop
runs (this task is scheduled at all) and the MQTT link thread is alive (paho's loop thread can die
silently; mqtt.md §1.4). Stop pinging and systemd restarts the agent.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping

log = logging.getLogger("avfleet.agent.watchdog")


class Watchdog:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        usec = env.get("WATCHDOG_USEC", "")
        self.interval_s: float | None = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._notifier = None
        if self.enabled:
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier()

    def notify(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)

    def ready(self, status: str = "running") -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    async def run(self, healthy: Callable[[], bool]) -> None:
        if not self.enabled or self.interval_s is None:
            return
        warned = False
        while True:
            if healthy():
                self.notify("WATCHDOG=1")
                warned = False
            elif not warned:
                log.error("agent unhealthy: withholding the watchdog ping so systemd restarts it")
                warned = True
            await asyncio.sleep(self.interval_s)
