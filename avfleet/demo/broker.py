"""The demo's MQTT broker: Mosquitto when installed, else the embedded amqtt development broker.

Mosquitto runs a loopback-only, anonymous, non-persistent configuration through the package's one
launcher (avfleet.controller.broker.launcher); production uses `avfleet broker config`. amqtt speaks
MQTT 3.1.1 only and keeps no durable sessions, so it is logged as a development broker.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from avfleet.controller.broker.launcher import Mosquitto, MosquittoError, find_mosquitto, loopback_config
from avfleet.demo.errors import DemoError
from avfleet.loop_thread import LoopThread

log = logging.getLogger("avfleet.demo")

BROKER_CHOICES = ("auto", "mosquitto", "embedded")


class _SnapshotDict(dict):
    """Iterates over a copy: amqtt (0.12) loops over its subscription table with awaits inside the
    loop, so a second client subscribing meanwhile raised "dictionary changed size during iteration"
    and dropped the connecting client (seen with 20 agents starting together)."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(super().keys()))

    def items(self):  # type: ignore[no-untyped-def, override]
        return list(super().items())


class _PubackTimeoutFilter(logging.Filter):
    """amqtt waits a fixed 5 s for a subscriber's PUBACK and then logs the delivery task's traceback at
    ERROR. The controller acknowledges only after its database commit, which can take longer while
    the demo starts: the message was sent all the same, so say that in one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, TimeoutError) and "PUBACK" in str(exc):
            record.msg, record.args = "a subscriber acknowledged late (%s); amqtt will not resend", (exc,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


@contextlib.asynccontextmanager
async def _amqtt(port: int) -> AsyncIterator[Any]:
    from amqtt.broker import Broker

    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    if type(getattr(broker, "_subscriptions", None)) is dict:
        broker._subscriptions = _SnapshotDict(broker._subscriptions)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.shutdown()


class DemoBroker:
    """Start with `start()`, stop with `stop()`; `kind` is "mosquitto" or "amqtt" once started."""

    def __init__(self, data_dir: Path, prefer: str = "auto") -> None:
        if prefer not in BROKER_CHOICES:
            raise DemoError(f"--broker must be one of {', '.join(BROKER_CHOICES)}, not {prefer!r}")
        self.data_dir = data_dir
        self.prefer = prefer
        self.port = _free_port()
        self.kind = ""
        self._mosquitto: Mosquitto | None = None
        self._amqtt: LoopThread[Any] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def mqtt_protocol(self) -> str:
        """What the controller and agents speak to this broker."""
        return "5" if self.kind == "mosquitto" else "3.1.1"

    def start(self) -> DemoBroker:
        binary = find_mosquitto()
        if self.prefer != "embedded" and binary:
            self._start_mosquitto(binary)
            return self
        if self.prefer == "mosquitto":
            raise DemoError("mosquitto is not installed (apt-get install mosquitto), or use --broker embedded")
        why = "requested" if self.prefer == "embedded" else "Mosquitto is not installed"
        log.warning("%s: using the embedded amqtt DEVELOPMENT broker on %s "
                    "(MQTT 3.1.1 only, no durable sessions; not for production)", why, self.url)
        for noisy in ("amqtt", "transitions"):  # amqtt logs every connection at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)
        logging.getLogger("amqtt.broker").addFilter(_PubackTimeoutFilter())
        self._amqtt = LoopThread(lambda: _amqtt(self.port), name="amqtt", start_timeout=15, stop_timeout=10)
        try:
            self._amqtt.start()
        except Exception as exc:
            raise DemoError(f"the embedded broker did not start: {exc}") from exc
        self.kind = "amqtt"
        return self

    def _start_mosquitto(self, binary: str) -> None:
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(loopback_config(self.port))
        # The parent-death signal takes the broker down if the demo itself is killed.
        self._mosquitto = Mosquitto(conf, self.port, log_path=self.data_dir / "mosquitto.log", binary=binary,
                                    die_with_parent=True)
        try:
            self._mosquitto.start()
        except MosquittoError as exc:
            raise DemoError(str(exc)) from None
        self.kind = "mosquitto"
        log.info("broker: Mosquitto (pid %d) on %s", self._mosquitto.pid, self.url)

    def stop(self) -> None:
        if self._mosquitto is not None:
            self._mosquitto.stop()
        if self._amqtt is not None:
            self._amqtt.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
