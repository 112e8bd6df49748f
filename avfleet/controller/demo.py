"""`avfleet demo`: a broker, the controller, an emulated county fleet and its agents, in one process tree.

Mosquitto is used when installed (a loopback-only, anonymous demo configuration); otherwise an
embedded amqtt broker, logged as a development broker (MQTT 3.1.1 only: the controller then
speaks 3.1.1). The fleet: municipalities, schools and rooms with one agent per room; PJLink
projector emulators (some with lamp, fan or filter faults, one that never answers, one with a
wrong password), SNMP displays and a switched PDU from the profile library on one UDP port.
Ctrl-C stops the agents, emulators, controller and broker in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avfleet.controller.app import Controller, ControllerError
from avfleet.controller.ingest.worker import IngestError
from avfleet.controller.settings import load_settings

log = logging.getLogger("avfleet.demo")

SITES: list[tuple[str, list[str]]] = [
    ("Jönköping", ["Ekhagens skola", "Råslätts skola", "Per Brahegymnasiet"]),
    ("Habo", ["Furuskolan", "Kråkebo skola"]),
    ("Vaggeryd", ["Fenix", "Hagafors skola"]),
    ("Mullsjö", ["Sandgärdskolan"]),
    ("Gnosjö", ["Kulltorpsskolan"]),
]
PROJECTORS_PER_ROOM = 3
POLL_INTERVAL_S = 5.0
WRONG_PASSWORD = "not-the-password"


class DemoError(RuntimeError):
    """The demo could not start; the message says what to do."""


@dataclass
class Room:
    municipality: str
    school: str
    room: str
    agent_id: str
    projectors: list[int] = field(default_factory=list)  # indexes into the projector fleet
    displays: list[int] = field(default_factory=list)  # indexes into the SNMP devices
    pdu: int | None = None


def slug(text: str, length: int = 8) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_text if ch.isalnum())[:length] or "x"


def plan_rooms(projectors: int) -> list[Room]:
    """Rooms spread over the schools in order, PROJECTORS_PER_ROOM projectors each."""
    schools = [(m, s) for m, names in SITES for s in names]
    rooms: list[Room] = []
    for i in range(0, projectors, PROJECTORS_PER_ROOM):
        municipality, school = schools[len(rooms) % len(schools)]
        number = len(rooms) // len(schools) + 1
        room = f"{'ABC'[number % 3]}{10 + number}"
        agent_id = f"{slug(municipality, 5)}-{slug(school)}-{room.lower()}"
        rooms.append(Room(municipality, school, room, agent_id,
                          projectors=list(range(i, min(i + PROJECTORS_PER_ROOM, projectors)))))
    return rooms


def projector_settings(index: int) -> dict[str, Any]:
    """Varied models, powers and faults, deterministic per index."""
    models = [("EPSON", "EB-2250U"), ("NEC", "ME403U"), ("Panasonic", "PT-VMZ51"), ("BenQ", "MW560")]
    manufacturer, model = models[index % len(models)]
    settings: dict[str, Any] = {
        "manufacturer": manufacturer, "model": model, "serial": f"DEMO{index + 1:05d}",
        "name": f"Projektor {index + 1}", "pjlink_class": 2 if index % 2 else 1,
        "power": "on" if index % 3 == 0 else "standby", "lamp_hours": 300 + 97 * index,
        "filter_hours": 50 + 31 * index, "warmup_s": 3.0, "cooldown_s": 3.0,
    }
    faults: dict[str, Any] = {}
    if index % 11 == 4:
        faults["lamp"] = 1
    if index % 13 == 6:
        faults["fan"] = 2
    if index % 9 == 7:
        faults["filter"] = 1
    if index == 20:
        faults["lamp_failure"] = True
    if index == 8:
        faults["silent"] = True  # accepts TCP, never answers: unreachable
    if faults:
        settings["faults"] = faults
    if index == 14:
        settings["password"] = "s3cret"  # the agent is given a wrong one: auth_failed
    return settings


class _Fleet:
    """Emulators and agents in one asyncio loop on a background thread."""

    def __init__(self, rooms: list[Room], projectors: int, broker_url: str, data_dir: Path,
                 mqtt_protocol: str) -> None:
        self.rooms = rooms
        self.mqtt_protocol = mqtt_protocol
        self.projector_count = projectors
        self.broker_url = broker_url
        self.data_dir = data_dir
        self.agents: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="demo-fleet", daemon=True)

    def start(self, timeout: float = 90.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise DemoError("the emulated fleet and its agents did not start in time")
        if self._error is not None:
            raise DemoError(f"the emulated fleet could not start: {self._error}") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        from avfleet.emulator.pjlink_config import ProjectorConfig
        from avfleet.emulator.pjlink_fleet import EmulatedFleet

        projectors = EmulatedFleet([ProjectorConfig.model_validate(projector_settings(i))
                                    for i in range(self.projector_count)])
        snmp = None
        runs: list[asyncio.Task] = []
        try:
            await projectors.start()
            snmp = await self._start_snmp(projectors)
            for room in self.rooms:
                self.agents.append(self._agent(room, projectors, snmp))
            runs = [asyncio.create_task(agent.run(), name=f"agent-{agent.config.agent_id}") for agent in self.agents]
            ready = asyncio.gather(*(agent.ready.wait() for agent in self.agents))
            done, _ = await asyncio.wait([asyncio.ensure_future(ready), *runs], return_when=asyncio.FIRST_COMPLETED,
                                         timeout=60)
            failed = [t for t in runs if t in done]
            if failed:
                failed[0].result()  # raises the agent's start error
            if not done:
                raise DemoError("agents did not connect within 60 s")
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await self._shutdown(runs, projectors, snmp)
            return
        self._ready.set()
        await self._stop.wait()
        await self._shutdown(runs, projectors, snmp)

    async def _shutdown(self, runs: list[asyncio.Task], projectors: Any, snmp: Any) -> None:
        for agent in self.agents:
            agent.stop()
        await asyncio.gather(*runs, return_exceptions=True)
        if snmp is not None:
            await snmp.stop()
        await projectors.stop()

    async def _start_snmp(self, projectors: Any) -> Any:
        """Displays in every second room and a switched PDU in the first; None if the SNMP parts are absent."""
        try:
            from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu, SnmpFleet, projector_watts
            from avfleet.profiles.library import load_library

            library = load_library()
            display_profile, pdu_profile = library.get("generic-display"), library.get("apc-rack-pdu")
            projector_profile = library.get("generic-pjlink-class1")
        except Exception as exc:  # the SNMP side is optional for the demo
            log.warning("SNMP emulation unavailable (%s); the demo runs projectors only", exc)
            return None
        devices: list[Any] = []
        for n, room in enumerate(self.rooms):
            if n % 2 == 1:
                room.displays.append(len(devices))
                devices.append(EmulatedDisplay(display_profile, f"display-{n}", model="Classroom Display 65",
                                               mac=f"02:00:5e:10:{n // 256:02x}:{n % 256:02x}"))
        first = self.rooms[0]
        rated = projector_profile.rated_watts
        outlets = [(f"projector-{i + 1}", projector_watts(projectors[i], rated)) for i in first.projectors]
        first.pdu = len(devices)
        devices.append(EmulatedPdu(pdu_profile, "pdu-1", outlets=outlets))
        fleet = SnmpFleet(devices)
        await fleet.start()
        self.snmp_devices = devices
        return fleet

    def _agent(self, room: Room, projectors: Any, snmp: Any) -> Any:
        from avfleet.agent.config import AgentConfig
        from avfleet.agent.runtime import Agent

        devices: list[dict[str, Any]] = []
        for n, index in enumerate(room.projectors, start=1):
            emulator = projectors[index]
            url = emulator.url(with_password=True)
            if emulator.config.password:
                url = f"pjlink://:{WRONG_PASSWORD}@{emulator.host}:{emulator.port}"
            devices.append({"id": f"pj-{room.room.lower()}-{n}", "url": url})
        if snmp is not None:
            urls = snmp.urls()
            for index in room.displays:
                devices.append({"id": f"disp-{room.room.lower()}", "url": urls[index]})
            if room.pdu is not None:
                devices.append({"id": f"pdu-{room.room.lower()}", "url": urls[room.pdu],
                                "feeds": {k: f"pj-{room.room.lower()}-{k}"
                                          for k in range(1, len(room.projectors) + 1)}})
        config = AgentConfig.model_validate({
            "version": 1,
            "agent_id": room.agent_id,
            "site": {"municipality": room.municipality, "school": room.school, "room": room.room},
            "broker": {"url": self.broker_url, "protocol": self.mqtt_protocol},
            "devices": devices,
            "polling": {"interval_s": POLL_INTERVAL_S, "failure_threshold": 2, "max_backoff_s": 30},
            "discovery": {"notifications": False},
            "outbox": {"path": str(self.data_dir / "agents" / f"{room.agent_id}.outbox.sqlite")},
            "health": {"interval_s": 30},
        })
        return Agent(config)


class _Broker:
    """Mosquitto when installed, else the embedded amqtt development broker."""

    def __init__(self, data_dir: Path, prefer: str) -> None:
        self.data_dir = data_dir
        self.prefer = prefer
        self.port = _free_port()
        self.kind = ""
        self._proc: subprocess.Popen | None = None
        self._amqtt: _EmbeddedBroker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if self.prefer != "embedded" and binary:
            self._start_mosquitto(binary)
            return
        if self.prefer == "mosquitto":
            raise DemoError("mosquitto is not installed (apt-get install mosquitto), or use --broker embedded")
        why = "requested" if self.prefer == "embedded" else "Mosquitto is not installed"
        log.warning("%s: using the embedded amqtt DEVELOPMENT broker on %s "
                    "(MQTT 3.1.1 only, no durable sessions; not for production)", why, self.url)
        for noisy in ("amqtt", "transitions"):  # amqtt logs every connection at INFO
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._amqtt = _EmbeddedBroker(self.port)
        self._amqtt.start()
        self.kind = "amqtt"

    def _start_mosquitto(self, binary: str) -> None:
        conf = self.data_dir / "mosquitto.conf"
        # Demo only: loopback, anonymous, no persistence. Production: `avfleet broker config`.
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 1000000\nmax_inflight_messages 20\nlog_dest stderr\n"
            "log_type error\nlog_type warning\n"
            # Dropping to the `mosquitto` user would clear the parent-death signal set below.
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        log_file = (self.data_dir / "mosquitto.log").open("ab")
        # Its own session keeps Ctrl-C away from it (the demo stops it last); the parent-death signal
        # takes it down if the demo itself is killed.
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log_file, stderr=log_file,
                                      start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise DemoError(f"mosquitto exited at start; see {self.data_dir / 'mosquitto.log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                self.kind = "mosquitto"
                log.info("broker: Mosquitto (pid %d) on %s", self._proc.pid, self.url)
                return
            time.sleep(0.05)
        raise DemoError("mosquitto did not start listening within 10 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._amqtt is not None:
            self._amqtt.stop()


class _EmbeddedBroker:
    def __init__(self, port: int) -> None:
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="amqtt", daemon=True)

    async def _main(self) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        })
        try:
            await broker.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await broker.shutdown()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise DemoError(f"the embedded broker did not start: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo process dies (Linux prctl PR_SET_PDEATHSIG)."""
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_demo(*, devices: int = 50, port: int = 8080, data_dir: Path | None = None, broker: str = "auto",
             out: Any = print) -> None:
    """Run until SIGINT/SIGTERM; `out` receives the DESIGN.md ready lines."""
    temporary = data_dir is None
    workdir = Path(tempfile.mkdtemp(prefix="avfleet-demo-")) if data_dir is None else data_dir
    workdir.mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    mqtt_broker = _Broker(workdir, broker)
    controller: Controller | None = None
    fleet: _Fleet | None = None
    try:
        mqtt_broker.start()
        protocol = "5" if mqtt_broker.kind == "mosquitto" else "3.1.1"
        settings = load_settings(
            demo=True, data_dir=workdir, broker_url=mqtt_broker.url, broker_username=None, api_port=port,
            client_id="avfleet-demo-controller", mqtt_protocol=protocol,
        )
        controller = Controller(settings)
        try:
            controller.start()
        except (ControllerError, IngestError) as exc:
            raise DemoError(str(exc)) from None
        rooms = plan_rooms(devices)
        fleet = _Fleet(rooms, devices, mqtt_broker.url, workdir, protocol)
        fleet.start()
        log.info("demo: %d projectors in %d rooms of %d schools; data in %s", devices, len(rooms),
                 len({(r.municipality, r.school) for r in rooms}), workdir)
        for line in controller.ready_lines(login=True):
            out(line)
        while not stopping.wait(0.5):
            pass
        log.info("demo: stopping")
    finally:
        if fleet is not None:
            fleet.stop()
        if controller is not None:
            controller.stop()
        mqtt_broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
