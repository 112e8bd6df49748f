"""`avfleet demo`: a broker, the controller, the emulated county and its agents, in one process.

Start order: broker, controller, fleet (emulators and agents, on a loop thread), the extra steps of
avfleet.demo.steps, then the ready lines of DESIGN.md. SIGINT/SIGTERM (the controller's own signal
handling) stops the agents, emulators, controller and broker in that order.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avfleet.controller.app import Controller, ControllerError, run_until_signalled
from avfleet.controller.ingest.worker import IngestError
from avfleet.controller.settings import ControllerSettings, load_settings
from avfleet.demo.broker import DemoBroker
from avfleet.demo.county import Room, plan_rooms
from avfleet.demo.errors import DemoError
from avfleet.demo.fleet import DemoFleet, agents_connect_s, running_fleet
from avfleet.demo.mailbox import DemoMailbox
from avfleet.demo.steps import DemoStep, demo_steps
from avfleet.loop_thread import LoopThread

log = logging.getLogger("avfleet.demo")

DEFAULT_PROJECTORS = 64
FLEET_START_S = 60.0  # emulators and SNMP devices, beyond the time the agents may take to connect


@dataclass
class DemoContext:
    """What a demo step can use. `fleet.call(fn)` runs `fn` in the fleet's loop (emulators, agents)."""

    data_dir: Path
    broker: DemoBroker
    settings: ControllerSettings
    controller: Controller
    rooms: list[Room]
    fleet: LoopThread[DemoFleet]


class Demo:
    """`start()` brings everything up (and on failure leaves nothing running once `stop()` ran)."""

    def __init__(self, *, devices: int = DEFAULT_PROJECTORS, port: int = 8080, data_dir: Path | None = None,
                 broker: str = "auto", out: Callable[[str], None] = print,
                 steps: list[DemoStep] | None = None) -> None:
        self.devices = devices
        self.port = port
        self.data_dir = data_dir
        self.prefer_broker = broker
        self.out = out
        self.steps = demo_steps() if steps is None else steps
        self.context: DemoContext | None = None
        self._stack = contextlib.ExitStack()

    def start(self) -> None:
        stack = self._stack
        if self.data_dir is None:
            workdir = Path(tempfile.mkdtemp(prefix="avfleet-demo-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        else:
            workdir = self.data_dir
            workdir.mkdir(parents=True, exist_ok=True)
        broker = DemoBroker(workdir, self.prefer_broker)
        stack.callback(broker.stop)
        broker.start()

        mailbox = DemoMailbox(workdir / "mail").start()
        stack.callback(mailbox.stop)
        settings = load_settings(
            demo=True, data_dir=workdir, broker_url=broker.url, broker_username=None, api_port=self.port,
            client_id="avfleet-demo-controller", mqtt_protocol=broker.mqtt_protocol, **mailbox.settings(),
        )
        controller = Controller(settings, tune_gc=True)  # a long-running process, as `avfleet controller`
        stack.callback(controller.stop)
        try:
            controller.start()
        except (ControllerError, IngestError) as exc:
            raise DemoError(str(exc)) from None

        rooms = plan_rooms(self.devices)
        fleet: LoopThread[DemoFleet] = LoopThread(
            lambda: running_fleet(rooms, broker_url=broker.url, mqtt_protocol=broker.mqtt_protocol, data_dir=workdir),
            name="demo-fleet", start_timeout=FLEET_START_S + agents_connect_s(len(rooms)),
            stop_timeout=30 + 0.2 * len(rooms))  # 265 agents took 19 s to stop on a loaded machine
        try:
            fleet.start()
        except DemoError:
            raise
        except Exception as exc:
            raise DemoError(f"the emulated fleet could not start: {exc}") from exc
        stack.callback(fleet.stop)
        log.info("demo: %d projectors in %d rooms of %d schools in %d municipalities; data in %s",
                 self.devices, len(rooms), len({(r.municipality, r.school) for r in rooms}),
                 len({r.municipality for r in rooms}), workdir)

        self.context = DemoContext(workdir, broker, controller.settings, controller, rooms, fleet)
        for step in self.steps:
            log.info("demo: %s", getattr(step, "__name__", step))
            step(self.context)
        for line in controller.ready_lines(login=True):
            self.out(line)
        self.out(mailbox.ready_line())

    def stop(self) -> None:
        """Stop what started, newest first: fleet, controller, broker, then the temporary folder."""
        log.info("demo: stopping")
        self._stack.close()


def run_demo(*, devices: int = DEFAULT_PROJECTORS, port: int = 8080, data_dir: Path | None = None,
             broker: str = "auto", out: Callable[[str], None] = print) -> None:
    """Run until SIGINT/SIGTERM; `out` receives the DESIGN.md ready lines."""
    demo = Demo(devices=devices, port=port, data_dir=data_dir, broker=broker, out=out)
    run_until_signalled(demo.start, demo.stop)
