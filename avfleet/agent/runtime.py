"""The agent as one object: `Agent(config)`, `await agent.run()` until `agent.stop()` (or SIGTERM/SIGINT).

It wires the parts: the outbox (opened first, so seq numbering and buffered messages survive
restarts), the MQTT link, one DeviceCoordinator per configured device, the command handler, the
PJLink notification listener, periodic health reports and the systemd watchdog. The demo and tests
embed it in-process; `avfleet agent --config FILE` runs it as the Pi program (`main()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from avfleet.agent.commands import CommandHandler
from avfleet.agent.config import AgentConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.agent.discovery import NotificationListener, describe_notification
from avfleet.agent.health import HealthProbe
from avfleet.agent.link import MqttLink
from avfleet.agent.outbox import Outbox
from avfleet.agent.watchdog import Watchdog
from avfleet.logsetup import setup_logging
from avfleet.protocols.factory import make_poller
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import (
    BirthMessage,
    CommandResult,
    CommandStatus,
    EventMessage,
    EventType,
    HealthMessage,
    StateMessage,
)
from avfleet.protocols.poller import DevicePoller
from avfleet.protocols.status import DeviceStatus

if TYPE_CHECKING:
    from avfleet.protocols.snmp.shared import SnmpShared

log = logging.getLogger("avfleet.agent")

PollerFactory = Callable[..., DevicePoller]


class AgentStartError(Exception):
    """The agent could not start (outbox unusable, broker not found); the message says why."""


class _LinkReporter:
    """Coordinators' states and events, as contract messages through the outbox."""

    def __init__(self, link: MqttLink) -> None:
        self.link = link
        self.agent_id = link.agent_id

    def state(self, status: DeviceStatus) -> None:
        fields = status.model_dump()
        self.link.send(
            topics.state_topic(self.agent_id, status.device_id),
            lambda seq, ts: StateMessage(agent_id=self.agent_id, seq=seq, ts=ts, **fields),
            retain=True,
        )

    def event(
        self,
        device_id: str,
        event: EventType,
        *,
        component: str | None = None,
        old: Any = None,
        new: Any = None,
        observed_at: datetime | None = None,
        detail: str | None = None,
    ) -> None:
        self.link.send(
            topics.event_topic(self.agent_id, device_id),
            lambda seq, ts: EventMessage(
                agent_id=self.agent_id, seq=seq, ts=ts, device_id=device_id, event=event, component=component,
                old=old, new=new, observed_at=observed_at or ts, detail=detail,
            ),
        )
        # A transition is news (it may open a ticket): commit and send it, and the state queued with it,
        # without waiting for the batched commit. Transitions are rare, so the SD card barely notices.
        self.link.flush_now()


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        poller_factory: PollerFactory | None = None,
        version: str | None = None,
        watchdog: Watchdog | None = None,
        snmp: SnmpShared | None = None,
    ) -> None:
        """`snmp`: the SNMP engine and profile library to share (several agents in one process may pass
        one); by default the agent makes its own on first need and closes it at shutdown."""
        from avfleet import __version__

        self.config = config
        self.version = version or __version__
        self.boot_id = uuid.uuid4().hex
        self._poller_factory = poller_factory or make_poller
        self._snmp = snmp
        self._owns_snmp = snmp is None
        self._watchdog = watchdog
        self.outbox: Outbox | None = None
        self.link: MqttLink | None = None
        self.commands: CommandHandler | None = None
        self.listener: NotificationListener | None = None
        self.coordinators: dict[str, DeviceCoordinator] = {}
        self.health_probe: HealthProbe | None = None
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._seen_finds: set[tuple] = set()

    # ---- life cycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Start everything, run until stop(), then shut down cleanly (status offline, outbox committed)."""
        try:
            await self.start()
            await self._stop.wait()
        except AgentStartError:
            if not self._stop.is_set():
                raise  # a real start failure; a stop() during start is a clean exit
        finally:
            await self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        config = self.config
        self.outbox = Outbox(
            config.outbox_path(), max_messages=config.outbox.max_messages, commit_batch=config.outbox.commit_batch
        )
        try:
            await asyncio.to_thread(self.outbox.open)
        except Exception as exc:
            raise AgentStartError(str(exc)) from exc
        address, tls = await self._broker_address()
        self.link = MqttLink(
            config, self.outbox, boot_id=self.boot_id, birth=self._birth, on_command=self._on_command,
            broker_address=address, broker_tls=tls,
        )
        reporter = _LinkReporter(self.link)
        self._reporter = reporter
        for device in config.devices:
            kind = device.kind
            # Every SNMP poller shares one pysnmp engine and one profile library (each costs ~0.4 s).
            options = self._snmp_shared().poller_options(device.target) if device.target.scheme == "snmp" else {}
            poller = self._poller_factory(device.id, device.target, profile=device.profile, kind=kind, **options)
            coordinator = self.coordinators[device.id] = DeviceCoordinator(
                device.id, poller, reporter, polling=config.polling, interval_s=config.poll_interval(device),
                kind=kind, feeds=device.feeds,
            )
            if hasattr(poller, "on_notification"):
                # A Class 2 notification pushed on the control connection goes where a UDP one goes.
                poller.on_notification = lambda _ip, note, c=coordinator: c.notification(describe_notification(note))
        self.commands = CommandHandler(config, self.outbox, self.coordinators, self._reply, self.refresh_all)
        await self.link.start()
        if config.discovery.notifications and any(d.target.scheme == "pjlink" for d in config.devices):
            await self._open_listener()
        self.health_probe = HealthProbe(config.outbox_path().resolve().parent)
        for coordinator in self.coordinators.values():
            self._tasks.append(asyncio.create_task(coordinator.run(), name=f"poll-{coordinator.device_id}"))
        self._tasks.append(asyncio.create_task(self._health_loop(), name="health"))
        if config.discovery.enabled:
            self._tasks.append(asyncio.create_task(self._discovery_loop(), name="discovery"))
        watchdog = self._watchdog or Watchdog()
        self._watchdog = watchdog
        self._tasks.append(asyncio.create_task(watchdog.run(self.healthy), name="watchdog"))
        watchdog.ready(f"{len(self.coordinators)} devices")
        log.info("agent %s started with %d device(s); outbox %s", config.agent_id, len(self.coordinators),
                 config.outbox_path())
        self.ready.set()

    async def shutdown(self) -> None:
        log.debug("shutdown: begin")
        if self._watchdog is not None:
            self._watchdog.stopping()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        log.debug("shutdown: tasks done")
        self._tasks.clear()
        if self.commands is not None:
            await self.commands.cancel()
        if self._snmp is not None and self._owns_snmp:
            self._snmp.close()  # after the coordinators closed their pollers and commands stopped
        if self.listener is not None:
            self.listener.close()
        log.debug("shutdown: stopping link")
        if self.link is not None:
            await self.link.stop()
        if self.outbox is not None:
            self.outbox.close()
        log.info("agent %s stopped", self.config.agent_id)

    def _snmp_shared(self) -> SnmpShared:
        if self._snmp is None:
            from avfleet.protocols.snmp.shared import SnmpShared  # pysnmp only when a device speaks SNMP

            self._snmp = SnmpShared()
        return self._snmp

    @property
    def snmp(self) -> SnmpShared | None:
        """The SNMP engine and library the agent's pollers share (None while no device uses SNMP)."""
        return self._snmp

    def healthy(self) -> bool:
        return self.link is not None and self.link.thread_alive()

    async def _broker_address(self) -> tuple[tuple[str, int] | None, bool]:
        """(host, port) and whether to use TLS: None for the config's URL(s) (the link goes through them), or
        what mDNS found."""
        broker = self.config.broker
        if broker.configured_urls:
            return None, broker.tls_enabled
        from avfleet.agent.discovery import find_broker

        delay = 2.0
        while not self._stop.is_set():
            found = await find_broker(timeout=5.0, interfaces=self.config.discovery.mdns_interfaces)
            if found is not None:
                host, port, tls = found
                log.info("broker found by mDNS at %s:%d%s", host, port, " (TLS)" if tls else "")
                return (host, port), tls or broker.tls is not None
            log.warning("no MQTT broker announced by mDNS yet; looking again in %.0f s", delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()
            delay = min(delay * 2, 60.0)
        raise AgentStartError("stopped while looking for the broker")

    async def _open_listener(self) -> None:
        by_host: dict[str, list[str]] = {}
        for device in self.config.devices:
            if device.target.scheme == "pjlink":
                by_host.setdefault(device.target.host, []).append(device.id)
        listener = NotificationListener(by_host, self._on_notification)
        d = self.config.discovery
        try:
            self.listener = await listener.open(d.bind, d.notification_port)
        except OSError as exc:
            log.warning("cannot listen for PJLink notifications on %s:%d (%s); polling only",
                        d.bind, d.notification_port, exc)

    # ---- messages -----------------------------------------------------------------------------

    def _birth(self, seq: int, ts: datetime) -> BirthMessage:
        return BirthMessage(
            agent_id=self.config.agent_id, seq=seq, ts=ts, agent_version=self.version, host=socket.gethostname(),
            site=self.config.site, devices=[d.describe() for d in self.config.devices], boot_id=self.boot_id,
        )

    def _reply(self, command_id: str, device_id: str | None, status: CommandStatus, detail: str | None) -> None:
        agent_id = self.config.agent_id
        if self.link is None:
            return
        self.link.send(
            topics.cmd_result_topic(agent_id),
            lambda seq, ts: CommandResult(agent_id=agent_id, seq=seq, ts=ts, command_id=command_id,
                                          device_id=device_id, status=status, detail=detail),
        )
        self.link.flush_now()

    def _on_command(self, payload: bytes) -> None:
        if self.commands is not None:
            self.commands.handle_raw(payload)

    def _on_notification(self, device_id: str, detail: str) -> None:
        coordinator = self.coordinators.get(device_id)
        if coordinator is not None:
            coordinator.notification(detail)

    async def refresh_all(self) -> None:
        """Birth and every device's current state again (the `refresh` command without a device)."""
        if self.link is None:
            return
        self.link.send(topics.birth_topic(self.config.agent_id), self._birth, retain=True, supersede="birth")
        for coordinator in self.coordinators.values():
            if coordinator.reported is not None:
                self._reporter.state(coordinator.reported)
        self.link.flush_now()

    def health_fields(self) -> dict[str, Any]:
        if self.health_probe is None or self.outbox is None:
            raise RuntimeError("agent not started")
        return self.health_probe.collect(
            outbox_depth=self.outbox.depth, outbox_dropped=self.outbox.dropped
        ).as_fields()

    def send_health(self) -> None:
        if self.link is None:
            return
        fields = self.health_fields()
        agent_id = self.config.agent_id
        self.link.send(
            topics.health_topic(agent_id),
            lambda seq, ts: HealthMessage(agent_id=agent_id, seq=seq, ts=ts, **fields),
            qos=0,
        )

    async def discover_once(self) -> list:
        """One discovery round; logs each find that no configured device has. Returns the new finds."""
        from avfleet.agent.discovery import discover

        d = self.config.discovery
        found = await discover(timeout=d.timeout_s, pjlink=d.pjlink_search, mdns=d.mdns, interfaces=d.mdns_interfaces,
                               search_targets=self.config.search_targets())
        known = {(dev.target.host, dev.target.port) for dev in self.config.devices}
        known_hosts = {dev.target.host for dev in self.config.devices}
        new = [f for f in found if (f.host, f.port) not in known and f.host not in known_hosts]
        for item in new:
            key = (item.source, item.host, item.port)
            if key not in self._seen_finds:
                self._seen_finds.add(key)
                log.info("discovered a device not in the config: %s %s (mac %s, name %s)", item.source,
                         item.url() or f"{item.host}:{item.port}", item.mac, item.name)
        return new

    async def _discovery_loop(self) -> None:
        while True:
            try:
                await self.discover_once()
            except Exception:
                log.exception("discovery failed")
            await asyncio.sleep(self.config.discovery.interval_s)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.health.interval_s)
            try:
                self.send_health()
            except Exception:
                log.exception("health report failed")


# ---- the Pi program --------------------------------------------------------------------------


def configure_logging(level: str) -> None:
    setup_logging(level)  # one line per record, UTC timestamps (avfleet.logsetup)


def run_agent(config: AgentConfig) -> int:
    """Run until SIGTERM/SIGINT; exit code 0 on a clean stop, 1 when the agent could not start."""

    async def _main() -> int:
        agent = Agent(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, agent.stop)
        try:
            await agent.run()
        except AgentStartError as exc:
            log.error("agent could not start: %s", exc)
            return 1
        return 0

    return asyncio.run(_main())


__all__ = ["Agent", "AgentStartError", "run_agent"]
