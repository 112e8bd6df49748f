"""Runs the domains' periodic jobs on one thread, each guarded by its lease row.

A domain's jobs.py exposes `jobs(settings) -> list[Job]`; the controller collects them and starts one
`JobRunner`. Every tick, a job whose interval has passed runs only in the process that holds its
lease, so with several controllers on one database each job still runs once. A job that raises is
logged and tried again next interval; it never stops the others.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from avfleet.controller.jobs.lease import mark_run, release, try_acquire
from avfleet.protocols.status import utc_now

log = logging.getLogger("avfleet.controller.jobs")

MARK_EVERY_S = 60.0  # how stale a lease's last_run_at may be
JobFn = Callable[[Engine, datetime], None]


@dataclass(frozen=True)
class Job:
    name: str  # the lease row's name; unique across domains, e.g. "tickets.quiet_resolve"
    interval_s: float
    run: JobFn


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRunner:
    def __init__(self, engine: Engine, jobs: list[Job], *, holder: str | None = None, tick_s: float = 0.5) -> None:
        names = [job.name for job in jobs]
        if len(names) != len(set(names)):
            raise ValueError(f"job names must be unique: {sorted(names)}")
        self.engine = engine
        self.jobs = jobs
        self.holder = holder or default_holder()
        self.tick_s = tick_s
        self._next_due = {job.name: 0.0 for job in jobs}
        self._marked: dict[str, float] = {}  # monotonic time of each job's last mark_run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self, now_mono: float | None = None) -> list[str]:
        """Run every job that is due and whose lease this process holds; the names of those that ran."""
        now_mono = time.monotonic() if now_mono is None else now_mono
        ran = []
        for job in self.jobs:
            if now_mono < self._next_due[job.name]:
                continue
            self._next_due[job.name] = now_mono + job.interval_s
            try:
                # The lease outlives the interval a little, so a holder that keeps running keeps it.
                if not try_acquire(self.engine, job.name, self.holder, job.interval_s * 2 + 5):
                    continue
                at = utc_now()
                job.run(self.engine, at)
                # last_run_at is for people looking at the leases; a write transaction per run of a
                # 1 s job queued behind the ingest's writer on SQLite, so it is kept to one a minute.
                if now_mono - self._marked.get(job.name, -MARK_EVERY_S) >= MARK_EVERY_S:
                    mark_run(self.engine, job.name, self.holder, at)
                    self._marked[job.name] = now_mono
                ran.append(job.name)
            except Exception:
                log.exception("job %s failed; it runs again in %.0f s", job.name, job.interval_s)
        return ran

    def start(self) -> None:
        if not self.jobs:
            return
        self._thread = threading.Thread(target=self._loop, name="avfleet-jobs", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.run_due()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for job in self.jobs:
            try:
                release(self.engine, job.name, self.holder)
            except Exception:  # the database may be gone at shutdown; the lease then simply expires
                log.debug("could not release lease %s", job.name, exc_info=True)
