"""The `avfleet controller` process: migrations, the ingest session and writer, and the API server."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

import uvicorn
from sqlalchemy.engine import Engine

from avfleet.controller.api import slow_clients
from avfleet.controller.api.app import create_app
from avfleet.controller.commands.republish import republish_open
from avfleet.controller.db import create_db_engine
from avfleet.controller.gc_tuning import tune_gc as apply_gc_tuning
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.ingest.worker import IngestService
from avfleet.controller.jobs.registry import all_jobs
from avfleet.controller.jobs.runner import JobRunner
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import ControllerSettings

log = logging.getLogger("avfleet.controller")


class ControllerError(RuntimeError):
    """The controller could not start; the message says what to fix."""


def with_demo_secrets(settings: ControllerSettings) -> ControllerSettings:
    """In demo mode, fill in a random API token and admin password when none are configured."""
    if not settings.demo:
        return settings
    updates: dict = {}
    if not settings.api_tokens:
        updates["api_tokens"] = [secrets.token_urlsafe(24)]
    if settings.admin_password is None:
        updates["admin_password"] = secrets.token_urlsafe(9)
    return settings.model_validate({**settings.model_dump(), **updates}) if updates else settings


class Controller:
    """One controller process. `start()` returns once the API listens and the ingest is connected.

    `tune_gc=True` freezes this process's start-up heap and raises the GC thresholds
    (controller/gc_tuning.py); it is process-wide, so only the `avfleet controller` command asks for it.
    """

    def __init__(self, settings: ControllerSettings, *, migrate: bool = True, tune_gc: bool = False) -> None:
        self.settings = with_demo_secrets(settings)
        self.migrate = migrate
        self.tune_gc = tune_gc
        self.metrics = IngestMetrics()
        self.engine: Engine = create_db_engine(self.settings.resolved_database_url)
        self.ingest = IngestService(self.settings, self.engine, self.metrics)
        self.app = create_app(self.settings, self.engine, self.metrics, self.ingest)
        self.jobs = JobRunner(self.engine, all_jobs(self.settings, self.ingest))
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self.port: int | None = None

    def start(self, timeout: float = 30.0) -> None:
        if self.migrate:
            upgrade(self.engine)
        if self.tune_gc:
            apply_gc_tuning()
        self.ingest.start()
        # Commands stored but perhaps never published (killed between the commit and the publish).
        republish_open(self.engine, self.ingest)
        self.jobs.start()
        # Idle keep-alive connections and slow request heads are closed (api/slow_clients.py).
        config = uvicorn.Config(self.app, host=self.settings.api_host, port=self.settings.api_port,
                                log_level="warning", timeout_graceful_shutdown=2, lifespan="off",
                                http=slow_clients.protocol_class(self.settings.http_header_timeout_s),
                                timeout_keep_alive=self.settings.http_keep_alive_s)
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="avfleet-api", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._server_thread.is_alive():
                self.ingest.stop()
                raise ControllerError(f"the API could not listen on {self.settings.api_host}:"
                                      f"{self.settings.api_port} (port in use?)")
            if time.monotonic() > deadline:
                raise ControllerError("the API did not start in time")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def dashboard_url(self) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        host = self.settings.api_host if self.settings.api_host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def ready_lines(self, *, login: bool = False) -> list[str]:
        s = self.settings
        lines = [f"dashboard: {self.dashboard_url}", f"api token: {self._token_line()}"]
        if login and s.admin_password is not None:
            lines.append(f"login: {s.admin_user} {s.admin_password.get_secret_value()}")
        lines.append(f"broker: {s.broker_url}")
        return lines

    def _token_line(self) -> str:
        # Only the demo prints its (random, throw-away) token: a production controller's stdout goes
        # to the journal, which more people read than may call the API.
        s = self.settings
        if s.demo:
            return s.api_tokens[0].get_secret_value()
        where = f"in {s.api_tokens_file}" if s.api_tokens_file is not None else "in the settings"
        return f"(configured {where}; not shown)"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(10)
        self.jobs.stop()
        self.ingest.stop()
        self.engine.dispose()


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> None:
    """Run `start`, wait for SIGINT/SIGTERM, then `stop`: Ctrl-C ends the process cleanly."""
    import signal

    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        start()
        stopping.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop()
