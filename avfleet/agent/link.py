"""The agent's MQTT link: paho-mqtt 2.x, fed from the outbox, per MQTT contract v1.

Threads: a link thread owns connecting. Each attempt builds a fresh paho `Client` (so no unacked
message survives inside paho to be resent behind the outbox's back), sets the Last Will (a
retained `status: lost` carrying a seq reserved for it), connects, and runs paho's network loop
(`loop_start`) until the connection ends; then it waits a backoff with jitter and tries again.
MQTT 5 is tried first; when the broker refuses it (`protocol: auto`), 3.1.1 is used.

Everything else happens on the asyncio loop: paho callbacks only hand their arguments over with
`call_soon_threadsafe` (an exception in a callback would kill paho's thread; mqtt.md §1.4). The
pump publishes committed outbox rows in seq order while connected, with at most `inflight_window`
unacked, tracks each PUBACK by `mid` and acks the row in the outbox. On connect it first sends a
retained `status: online` and the retained `birth`; after a disconnect it starts again from the
oldest unacked row, flagged `replayed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from avfleet.agent.config import AgentConfig
from avfleet.agent.outbox import Outbox, OutboxMessage
from avfleet.backoff import backoff_delay
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import AgentState, BirthMessage, Envelope, StatusMessage
from avfleet.protocols.status import utc_now

log = logging.getLogger("avfleet.agent.link")

# CONNACK reason codes meaning "speak another protocol version": v5 132, v3 1.
_UNSUPPORTED_PROTOCOL = (132, 1)
# The broker's max_packet_size in the config `avfleet broker config` writes; an MQTT 5 broker's CONNACK
# may announce its own. Mosquitto drops a client that sends more, and the outbox would send the same row
# again after every reconnect: such a row is dropped instead (it can only be a bug or a hostile device).
DEFAULT_MAX_PACKET = 262_144
_PACKET_OVERHEAD = 16  # fixed header, remaining length, topic length, packet id, properties


@dataclass
class LinkStats:
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    acked: int = 0
    refused_by_broker: int = 0  # PUBACK with a failure reason (v5), e.g. 135 not authorized
    dropped_too_large: int = 0  # outbox rows larger than the broker's packet limit, never sent


class MqttLink:
    def __init__(
        self,
        config: AgentConfig,
        outbox: Outbox,
        *,
        boot_id: str,
        birth: Callable[[int, datetime], BirthMessage],
        on_command: Callable[[bytes], None],
        broker_address: tuple[str, int] | None = None,
        broker_tls: bool | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.boot_id = boot_id
        self.agent_id = config.agent_id
        self._birth = birth
        self._on_command = on_command
        self._address = broker_address
        self._broker_index = 0  # which of broker.urls the next connection goes to
        self._tls = config.broker.tls_enabled if broker_tls is None else broker_tls
        self.stats = LinkStats()
        self.protocol: str | None = None  # "5" or "3.1.1" once connected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._client: mqtt.Client | None = None  # the connected client, asyncio side
        self._epoch = 0
        self._will_seq: int | None = None  # the seq of the current connection's Last Will
        self._inflight: dict[int, int] = {}  # mid → seq
        self._sent: set[int] = set()  # seqs published on this connection past the cursor
        self._cursor = 0
        self._max_packet = DEFAULT_MAX_PACKET
        self._outage = False  # rows added while this is set are replays
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._idle = asyncio.Event()  # nothing in flight and nothing to send
        self._pump_task: asyncio.Task | None = None
        self._flush_task: asyncio.Task | None = None
        self._flush_soon = asyncio.Event()
        self.commit_failures = 0  # outbox commits failed in a row (disk full); 0 when the last one worked
        self._commit_failure_logged = 0.0
        # Observers of every queued message as (seq, topic); tests compare deliveries against them.
        self.taps: list[Callable[[int, str], None]] = []

    # ---- public, asyncio side -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def send(
        self,
        topic: str,
        build: Callable[[int, datetime], Envelope],
        *,
        qos: int = 1,
        retain: bool = False,
        supersede: str | None = None,
    ) -> int:
        """Number, build and queue one message in the outbox; it goes out after the next commit."""
        seq = self.outbox.next_seq()
        message = build(seq, utc_now())
        message.epoch = self.outbox.epoch  # seq means something only within the outbox's epoch
        body = message.model_dump_json(exclude={"replayed"}).encode()
        self.outbox.add(seq, topic, body, qos=qos, retain=retain, replayed=self._outage, supersede=supersede)
        for tap in self.taps:
            tap(seq, topic)
        if self.outbox.pending >= self.outbox.commit_batch:
            self._flush_soon.set()
        return seq

    def flush_now(self) -> None:
        self._flush_soon.set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pump_task = asyncio.create_task(self._pump(), name="mqtt-pump")
        self._flush_task = asyncio.create_task(self._flusher(), name="outbox-flush")
        self._thread = threading.Thread(target=self._run_thread, name="mqtt-link", daemon=True)
        self._thread.start()

    def thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def stop(self, timeout: float = 5.0) -> None:
        """Publish `status: offline` (if connected), wait briefly for its ack, disconnect cleanly."""
        if self.connected:
            seq = self.send(
                topics.status_topic(self.agent_id),
                lambda s, ts: StatusMessage(agent_id=self.agent_id, seq=s, ts=ts, state=AgentState.offline,
                                            boot_id=self.boot_id),
                retain=True,
                supersede="status",
            )
            self._commit()
            try:
                async with asyncio.timeout(timeout):
                    await self._until_acked(seq)
            except TimeoutError:
                log.warning("broker did not acknowledge the offline status within %.0f s", timeout)
        log.debug("stop: offline status handled")
        self._stopping.set()
        client = self._client
        if client is not None:
            client.disconnect()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
        log.debug("stop: link thread joined")
        for task in (self._pump_task, self._flush_task):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._pump_task, self._flush_task) if t), return_exceptions=True)
        self._commit()

    async def drain(self, timeout: float) -> None:
        """Wait until everything committed so far has been acknowledged (tests, shutdown)."""
        self._commit()
        target = self.outbox.last_seq

        async def _wait() -> None:
            while True:
                seqs = self.outbox.committed_seqs()
                if not self.outbox.pending and (not seqs or seqs[0] > target):
                    return
                await asyncio.sleep(0.05)

        async with asyncio.timeout(timeout):
            await _wait()

    # ---- outbox commits and the pump ----------------------------------------------------------

    def _commit(self) -> None:
        try:
            self.outbox.flush()
        except Exception as exc:
            # Every commit_interval_s while the disk is full: say so once, then once a minute.
            self.commit_failures += 1
            now = time.monotonic()
            if self.commit_failures == 1 or now - self._commit_failure_logged >= 60:
                self._commit_failure_logged = now
                log.error("outbox commit failed (%s); %d messages wait in memory (at most outbox.max_messages, "
                          "the oldest dropped and counted); retrying", exc, self.outbox.pending)
        else:
            if self.commit_failures:
                log.warning("outbox writable again after %d failed commits; %d dropped in all",
                            self.commit_failures, self.outbox.dropped)
                self.commit_failures = 0
        self._wake.set()

    async def _flusher(self) -> None:
        interval = self.config.outbox.commit_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._flush_soon.wait()
            self._flush_soon.clear()
            self._commit()

    async def _until_acked(self, seq: int) -> None:
        while self.outbox.contains(seq):
            await asyncio.sleep(0.02)

    async def _pump(self) -> None:
        window = self.config.broker.inflight_window
        while True:
            await self._wake.wait()
            self._wake.clear()
            client = self._client
            if client is None:
                continue
            try:
                self._publish_some(client, window)
            except Exception:
                log.exception("publishing from the outbox failed")

    def _publish_some(self, client: mqtt.Client, window: int) -> None:
        while len(self._inflight) < window and self._client is client:
            rows = self.outbox.fetch(self._cursor, window - len(self._inflight) + len(self._sent))
            rows = [r for r in rows if r.seq not in self._sent]
            if not rows:
                return
            for row in rows:
                if self._drop_if_too_large(row):
                    self._cursor = row.seq
                    continue
                info = client.publish(row.topic, row.payload(), qos=row.qos, retain=row.retain)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    # Not connected any more, or paho's queue is full: the row stays for later.
                    return
                self._cursor = row.seq
                self._inflight[info.mid] = row.seq
                self.stats.published += 1
                if len(self._inflight) >= window:
                    return

    def _publish_first(self, client: mqtt.Client, seqs: list[int]) -> None:
        """Status and birth go out ahead of any backlog (their seqs are newer; order across topics is free)."""
        wanted = set(seqs)
        for row in self.outbox.fetch(min(seqs) - 1, len(seqs) + 1):
            if row.seq not in wanted or self._drop_if_too_large(row):
                continue
            info = client.publish(row.topic, row.payload(), qos=row.qos, retain=row.retain)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._inflight[info.mid] = row.seq
                self._sent.add(row.seq)
                self.stats.published += 1

    def _drop_if_too_large(self, row: OutboxMessage) -> bool:
        size = len(row.topic.encode()) + len(row.body) + len(b',"replayed":false') + _PACKET_OVERHEAD
        if size <= self._max_packet:
            return False
        self.stats.dropped_too_large += 1
        log.error("dropping outbox message seq %d to %s: %d bytes, more than the broker's packet limit of %d",
                  row.seq, row.topic, size, self._max_packet)
        self.outbox.ack((row.seq,))
        return True

    # ---- events from paho, on the asyncio loop ------------------------------------------------

    def _on_connected(self, client: mqtt.Client, protocol: str, session_present: bool,
                      max_packet: int | None = None) -> None:
        self._epoch += 1
        self._client = client
        self._max_packet = min(DEFAULT_MAX_PACKET, max_packet) if max_packet else DEFAULT_MAX_PACKET
        self._inflight.clear()
        self._sent.clear()
        self._cursor = 0
        self.protocol = protocol
        self.stats.connects += 1
        log.info("connected to the broker (MQTT %s, session %s)", protocol, "resumed" if session_present else "new")
        self._outage = False
        status_seq = self.send(
            topics.status_topic(self.agent_id),
            lambda s, ts: StatusMessage(agent_id=self.agent_id, seq=s, ts=ts, state=AgentState.online,
                                        boot_id=self.boot_id, will_seq=self._will_seq),
            retain=True,
            supersede="status",
        )
        birth_seq = self.send(topics.birth_topic(self.agent_id), self._birth, retain=True, supersede="birth")
        self._commit()
        self._connected.set()
        try:
            self._publish_first(client, [status_seq, birth_seq])
        except Exception:
            log.exception("publishing status and birth failed")
        self._wake.set()

    def _on_connection_lost(self, client: mqtt.Client) -> None:
        if self._client is not client:
            return
        self._client = None
        self._connected.clear()
        self._inflight.clear()
        self._sent.clear()
        self.stats.disconnects += 1
        self._mark_outage()

    def _mark_outage(self) -> None:
        if not self._outage:
            self._outage = True
            self.outbox.mark_all_replayed()
            self._flush_soon.set()

    def _on_puback(self, client: mqtt.Client, mid: int, failed: bool, reason: str) -> None:
        if self._client is not client:
            return  # a late ack of a connection we already gave up; its rows are resent anyway
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return
        self._sent.discard(seq)
        if failed:
            self.stats.refused_by_broker += 1
            log.warning("broker refused message seq %d: %s", seq, reason)
        self.stats.acked += 1
        self.outbox.ack((seq,))
        self._wake.set()

    # ---- the link thread ----------------------------------------------------------------------

    def _call(self, fn: Callable, *args) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(fn, *args)

    def _choose_protocol(self, attempt: int, last_ok: str | None) -> str:
        wanted = self.config.broker.protocol
        if wanted != "auto":
            return wanted
        if last_ok is not None:
            return last_ok
        return "5" if attempt % 2 == 0 else "3.1.1"

    def _run_thread(self) -> None:
        broker = self.config.broker
        failures = 0
        last_ok: str | None = None
        attempt = 0
        logged_down = False
        while not self._stopping.is_set():
            protocol = self._choose_protocol(attempt, last_ok)
            attempt += 1
            outcome = self._one_connection(protocol)
            if self._stopping.is_set():
                break
            if outcome == "connected":
                failures = 0
                last_ok = protocol
                logged_down = False
                log.warning("connection to the broker lost; buffering in the outbox")
                self._next_broker("lost the connection")
            else:
                failures += 1
                if outcome != "unsupported":  # an unsupported version: the other one, same node
                    self._next_broker(f"cannot be reached ({outcome})")
                if outcome == "unsupported":
                    log.info("broker refused MQTT %s; trying the other version", protocol)
                elif not logged_down:
                    log.warning("cannot reach the broker (%s); retrying with backoff", outcome)
                    logged_down = True
                if last_ok is not None and failures >= 2:
                    last_ok = None  # the broker may have changed; try both versions again
                self._call(self._mark_outage)
            # Jitter spreads a whole fleet reconnecting after a broker restart (mqtt.md §2.2).
            # After a lost connection (no failure yet) full jitter; then doubling, each wait × U(0.5, 1).
            self._stopping.wait(backoff_delay(failures, base=broker.reconnect_min_s, cap=broker.reconnect_max_s,
                                              jitter=0.5 if failures else 1.0))

    def _address_now(self) -> tuple[str, int]:
        if self._address is not None:
            return self._address
        addresses = self.config.broker.addresses()
        return addresses[self._broker_index % len(addresses)]

    def _next_broker(self, why: str) -> None:
        """Move to the next node of a clustered broker (broker.urls); nothing with a single broker."""
        if self._address is not None or len(self.config.broker.configured_urls) < 2:
            return
        was = self._address_now()
        self._broker_index += 1
        host, port = self._address_now()
        log.warning("broker %s:%d %s; trying the next node %s:%d", *was, why, host, port)

    def _one_connection(self, protocol: str) -> str:
        broker = self.config.broker
        v5 = protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.agent_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            reconnect_on_failure=False,
        )
        client.suppress_exceptions = True
        client.max_inflight_messages_set(min(max(broker.inflight_window, 20), 100))
        client.username_pw_set(broker.username or self.agent_id, broker.password)
        if self._tls:
            tls = broker.tls
            client.tls_set(
                ca_certs=str(tls.ca) if tls and tls.ca else None,
                certfile=str(tls.cert) if tls and tls.cert else None,
                keyfile=str(tls.key) if tls and tls.key else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        will_seq = self._will_seq = self.outbox.reserve_seq()
        will = StatusMessage(agent_id=self.agent_id, seq=will_seq, epoch=self.outbox.epoch, ts=utc_now(),
                             state=AgentState.lost, boot_id=self.boot_id)
        will_body = will.model_dump_json().encode()
        client.will_set(topics.status_topic(self.agent_id), will_body, qos=1, retain=True)
        result: dict[str, object] = {}
        done = threading.Event()
        connack = threading.Event()
        cmd_topic = topics.cmd_topic(self.agent_id)

        def on_connect(c, _ud, flags, reason, props) -> None:
            connack.set()
            try:
                if reason.is_failure:
                    result["refused"] = reason.value
                    result["reason"] = str(reason)
                    return
                result["ok"] = True
                c.subscribe(cmd_topic, qos=1)
                self._call(self._on_connected, c, protocol, bool(flags.session_present),
                           getattr(props, "MaximumPacketSize", None))
            except Exception:
                log.exception("on_connect failed")

        def on_disconnect(c, _ud, _flags, reason, _props) -> None:
            try:
                result.setdefault("disconnect", str(reason))
                self._call(self._on_connection_lost, c)
            finally:
                done.set()

        def on_publish(c, _ud, mid, reason, _props) -> None:
            try:
                self._call(self._on_puback, c, mid, bool(reason.is_failure), str(reason))
            except Exception:
                log.exception("on_publish failed")

        def on_message(_c, _ud, message) -> None:
            try:
                if message.topic == cmd_topic:
                    self._call(self._on_command, bytes(message.payload))
            except Exception:
                log.exception("on_message failed")

        def on_subscribe(_c, _ud, _mid, reason_codes, _props) -> None:
            try:
                for rc in reason_codes:
                    if rc.is_failure:
                        log.error("broker refused the subscription to %s: %s", cmd_topic, rc)
            except Exception:
                log.exception("on_subscribe failed")

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        host, port = self._address_now()
        try:
            if v5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = broker.session_expiry_s
                client.connect(host, port, keepalive=broker.keepalive_s, clean_start=False, properties=props)
            else:
                client.connect(host, port, keepalive=broker.keepalive_s)
        except (OSError, ssl.SSLError, socket.gaierror) as exc:
            return f"{type(exc).__name__}: {exc}"
        client.loop_start()
        # A broker that cannot parse our CONNECT (a v5 CONNECT to a 3.1.1-only broker) may sit silent
        # instead of refusing; do not wait a whole keepalive for it.
        if not connack.wait(min(10.0, float(broker.keepalive_s))) and not done.is_set():
            result["no_connack"] = True
            client.disconnect()
            done.wait(2.0)
        while not done.wait(0.5) and not result.get("no_connack"):
            if self._stopping.is_set() and not done.wait(2.0):
                client.disconnect()
                done.wait(2.0)
                break
        client.loop_stop()
        if result.get("ok"):
            return "connected"
        refused = result.get("refused")
        if refused in _UNSUPPORTED_PROTOCOL:
            return "unsupported"
        if refused is not None:
            return f"refused: {result.get('reason')}"
        # No CONNACK at all: a broker that cannot parse our CONNECT (e.g. v5 to a v3-only broker).
        if self.config.broker.protocol == "auto" and protocol == "5":
            return "unsupported"
        return "no CONNACK" if result.get("no_connack") else f"closed before CONNACK: {result.get('disconnect')}"
