"""The ingest: one persistent MQTT session feeding a batch writer that commits.

paho's network thread only copies each PUBLISH into a queue. A batching thread takes up to
`batch_max_rows` messages or waits `batch_max_ms` and hands the batch to the writer (a separate
process by default, see sinks.py), which validates it, applies the fleet rules in one
transaction and COMMITs; only then are the messages acknowledged (`manual_ack`). A controller
killed at any point therefore leaves every unacknowledged message in its broker session; the
redelivery is deduplicated on (agent_id, seq).
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.engine import Engine

from avfleet.controller.commands import service as commands
from avfleet.controller.db import write_transaction
from avfleet.controller.errors import TooLarge
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.ingest.outgoing import OutgoingTracker, publish_packet_size
from avfleet.controller.ingest.rejections import RejectionLog
from avfleet.controller.ingest.sinks import ProcessSink, Sink, ThreadSink
from avfleet.controller.ingest.writer import BatchResult, BatchWriter
from avfleet.controller.settings import ControllerSettings
from avfleet.protocols.mqtt import topics

log = logging.getLogger("avfleet.controller.ingest")

# Only agent → controller topics; `#` would also bring back the commands we publish ourselves.
INGEST_FILTERS = (
    f"{topics.PREFIX}/+/status",
    f"{topics.PREFIX}/+/birth",
    f"{topics.PREFIX}/+/health",
    f"{topics.PREFIX}/+/dev/+/state",
    f"{topics.PREFIX}/+/dev/+/event",
    f"{topics.PREFIX}/+/cmd/result",
)
MAX_IN_FLIGHT = 2


class IngestError(RuntimeError):
    """The ingest cannot start (broker unreachable or refusing us); the message says why."""


class ExpiryProperties(Properties):
    """MQTT 5 PUBLISH properties holding only a Message Expiry Interval, packed once.

    paho's `Properties.pack()` walks every property name on each call; these never change after
    construction, so the bytes are kept (set past paho's name-checking `__setattr__`).
    """

    def __init__(self, expiry_s: int) -> None:
        super().__init__(PacketTypes.PUBLISH)
        self.MessageExpiryInterval = expiry_s
        object.__setattr__(self, "_packed", super().pack())

    def pack(self) -> bytes:
        return self._packed


# (topic, payload, mid, qos): a plain tuple, built on paho's network thread for every message.
Inbound = tuple[str, bytes, int, int]


def ingest_client_id(settings: ControllerSettings) -> str:
    """Fixed per process: the configured id, or with a shared subscription one derived from host and port.

    A persistent session belongs to its client id, so the id must survive restarts; two processes
    must never share one (Mosquitto would disconnect one for the other, over and over).
    """
    if settings.shared_subscription and settings.client_id == "avfleet-controller-1":
        if settings.api_port == 0:
            raise IngestError("with shared_subscription and api_port 0, set client_id per process "
                              "(the id must survive restarts to keep the session)")
        return f"avfleet-ingest-{socket.gethostname()}-{settings.api_port}"[:64]
    return settings.client_id


class IngestService:
    def __init__(self, settings: ControllerSettings, engine: Engine, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.rejections = RejectionLog(metrics)
        self.client_id = ingest_client_id(settings)
        self.committed = 0  # messages committed by this process (fresh and duplicates alike)
        self.disconnects = 0  # connections lost since start (diagnostics, tests)
        # Unbounded is safe: the broker never has more than receive_maximum deliveries unacknowledged.
        self._inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._writer: threading.Thread | None = None
        self._client = self._make_client()
        self._sink: Sink | None = None
        self._pending: dict[int, list[Inbound]] = {}  # batch id -> messages handed to the writer, not acked
        self._broker_max_packet: int | None = None  # the broker's Maximum Packet Size (MQTT 5 CONNACK)
        self._subscribe_mid: int | None = None  # the SUBSCRIBE of the current connection
        # Commands the link gave up on, (command_id, reason, first try): failed by the batching thread.
        self._undelivered: queue.SimpleQueue[tuple[str, str, float]] = queue.SimpleQueue()
        self._outgoing = OutgoingTracker(self._on_undelivered)
        # MQTT 5 PUBLISH properties by message expiry (s), each packed once: see _expiry_properties.
        self._expiry_props: dict[int, ExpiryProperties] = {}

    # -- MQTT --------------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        self._v5 = s.mqtt_protocol == "5"
        if self._v5:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5,
                                 manual_ack=True)
        else:  # 3.1.1: the persistent session is clean_session=False
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311,
                                 clean_session=False, manual_ack=True)
        if s.broker_username:
            client.username_pw_set(s.broker_username, s.broker_secret())
        _host, _port, tls = s.broker_address()
        if tls:
            client.tls_set(ca_certs=str(s.broker_ca_file) if s.broker_ca_file else None)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(self, client: mqtt.Client, _ud: Any, flags: Any, reason: Any, props: Any) -> None:
        try:
            if reason.is_failure:
                self._refused = str(reason)
                log.error("broker refused the ingest session: %s", reason)
                return
            self._refused = None
            self._broker_max_packet = getattr(props, "MaximumPacketSize", None)
            if not flags.session_present:
                log.warning("no stored session for %s: messages sent while it was absent may be missing "
                            "(agents replay their outbox)", self.client_id)
            if self._v5:
                # retainHandling=1: retained states only for a new subscription, not on every reconnect.
                options = SubscribeOptions(qos=1, retainHandling=1)
                shared = self.settings.shared_subscription
                _rc, self._subscribe_mid = client.subscribe(
                    [(topics.shared(f) if shared else f, options) for f in INGEST_FILTERS])
            else:
                _rc, self._subscribe_mid = client.subscribe([(f, 1) for f in INGEST_FILTERS])
        except Exception:  # an exception here would kill paho's network thread
            log.exception("on_connect failed")

    def _on_subscribe(self, _c: Any, _ud: Any, mid: int, reason_codes: Any, _props: Any) -> None:
        try:
            if mid != self._subscribe_mid:
                return
            refused = [str(rc) for rc in reason_codes if rc.is_failure]
            if refused:
                log.error("broker refused ingest subscriptions: %s", ", ".join(refused))
            # Connected only now: a message published before the broker holds our subscriptions
            # would never reach us (a new session), so `start()` must not return earlier.
            self.metrics.connected.set(1)
            self._connected.set()
        except Exception:
            log.exception("on_subscribe failed")

    def _on_disconnect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        try:
            self._connected.clear()
            self.metrics.connected.set(0)
            self.disconnects += 1
            if not self._stop.is_set():
                log.warning("ingest session disconnected (%s); reconnecting", reason)
            self._outgoing.disconnected(client)  # nothing is resent for ever
        except Exception:  # an exception here would kill paho's network thread
            log.exception("on_disconnect failed")

    def _on_publish(self, _c: Any, _ud: Any, mid: int, reason: Any, _props: Any) -> None:
        try:
            self._outgoing.acked(mid, str(reason) if reason.is_failure else None)
        except Exception:
            log.exception("on_publish failed")

    def _on_undelivered(self, topic: str, payload: bytes, reason: str) -> None:
        """Called on paho's thread: count, log, and leave the database write to the batching thread."""
        self.metrics.publish_failed.labels(reason="undelivered").inc()
        log.error("message to %s not delivered: %s", topic, reason)
        if topic.endswith("/cmd"):
            try:
                command_id = json.loads(payload)["command_id"]
            except (ValueError, KeyError, TypeError):
                return
            self._undelivered.put((str(command_id), reason, time.monotonic()))

    def _file_undelivered(self) -> None:
        """Commands whose message will not be delivered become failed, instead of expiring later."""
        retry: list[tuple[str, str, float]] = []
        while True:
            try:
                command_id, reason, since = self._undelivered.get_nowait()
            except queue.Empty:
                break
            try:
                with write_transaction(self.engine) as conn:
                    stored = commands.mark_undelivered(conn, command_id, f"not delivered: {reason}")
            except Exception:
                log.exception("could not mark command %s failed; will retry", command_id)
                stored = False
            # A refusal can come back before the API has committed the command's row: try again a while.
            if not stored and time.monotonic() - since < 30:
                retry.append((command_id, reason, since))
        for item in retry:
            self._undelivered.put(item)

    @property
    def max_packet_bytes(self) -> int:
        """The largest PUBLISH packet we send: our setting, or the broker's announced limit if smaller."""
        limit = self.settings.broker_max_packet_bytes
        return min(limit, self._broker_max_packet) if self._broker_max_packet else limit

    def _on_message(self, _c: Any, _ud: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._inbox.put_nowait((message.topic, message.payload, message.mid, message.qos))
        except Exception:
            log.exception("could not queue a message; it stays unacknowledged and comes back on reconnect")

    def start(self, connect_timeout: float = 15.0) -> None:
        s = self.settings
        host, port, _tls = s.broker_address()
        try:
            if self._v5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = s.session_expiry_s
                props.ReceiveMaximum = s.receive_maximum  # lets batches fill past the broker's default 20 in flight
                self._client.connect_async(host, port, keepalive=30, clean_start=False, properties=props)
            else:
                self._client.connect_async(host, port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise IngestError(f"cannot connect to broker {s.broker_url}: {exc}") from None
        self._sink = ProcessSink(s) if s.writer_process else ThreadSink(BatchWriter(s, self.engine))
        self._client.loop_start()
        self._writer = threading.Thread(target=self._write_loop, name="avfleet-ingest-writer", daemon=True)
        self._writer.start()
        if not self._connected.wait(connect_timeout):
            refused = self._refused
            self.stop()
            raise IngestError(f"broker {s.broker_url} " + (f"refused the controller: {refused}" if refused
                              else f"did not accept a connection within {connect_timeout:.0f}s"))

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand, then leave the session in place (the broker keeps queueing for us)."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout)
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
        self.metrics.connected.set(0)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, expiry_s: int | None = None) -> bool:
        """Publish from the ingest session (commands). True when paho accepted it for delivery.

        Raises TooLarge when the packet would exceed the broker's limit (see outgoing.py). False,
        with nothing left queued to go out later, when not connected or paho's queue is full.
        """
        props = self._expiry_properties(expiry_s) if self._v5 else None  # 3.1.1: only the payload's expires_at
        size = publish_packet_size(topic, payload, qos, props, self._v5)
        limit = self.max_packet_bytes
        if size > limit:
            self.metrics.publish_failed.labels(reason="too_large").inc()
            raise TooLarge(f"the message would be {size} bytes on the wire; the broker accepts at most {limit}")
        if not self._connected.is_set():
            # paho would keep a QoS 1 message and send it after the reconnect, though the caller
            # has recorded it as failed: a command must not run after being reported failed.
            self.metrics.publish_failed.labels(reason="not_connected").inc()
            return False
        generation = self._outgoing.generation
        info = self._client.publish(topic, payload, qos=qos, properties=props)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._outgoing.withdraw(self._client, info.mid)
            self.metrics.publish_failed.labels(reason="refused_by_client").inc()
            return False
        if qos:
            self._outgoing.sent(info.mid, topic, payload, generation)
        return True

    def _expiry_properties(self, expiry_s: int | None) -> Properties | None:
        """The PUBLISH properties of a message expiry: one object per expiry value, packed once.

        Building paho's `Properties()` per message was half the cost of publishing a run's 5,000
        commands, and each was packed twice more (our size check, then paho's own write). paho
        only reads them, so one object serves every message with that expiry (resends after a
        reconnect included). Bounded: expiries are whole seconds of at most a day.
        """
        if expiry_s is None:
            return None
        props = self._expiry_props.get(expiry_s)
        if props is None:
            if len(self._expiry_props) > 4096:
                self._expiry_props.clear()
            props = self._expiry_props[expiry_s] = ExpiryProperties(expiry_s)
        return props

    # -- batches -----------------------------------------------------------------------------------------
    def _collect(self) -> list[Inbound]:
        """Up to batch_max_rows messages, waiting at most batch_max_ms after the first; [] when idle."""
        try:
            first = self._inbox.get(timeout=0.05)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_max_ms / 1000
        max_rows = self.settings.batch_max_rows
        while len(batch) < max_rows:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._inbox.get_nowait() if remaining <= 0 else self._inbox.get(timeout=remaining))
            except queue.Empty:
                break
            if remaining <= 0 and self._inbox.empty():
                break
        self.metrics.queue_depth.set(self._inbox.qsize())
        return batch

    def _write_loop(self) -> None:
        # The loop must outlive any surprise: if it ended, messages would stay unacknowledged forever.
        while True:
            try:
                self._write_batches()
                return
            except Exception:
                log.exception("ingest batching failed; restarting it with %d batches in hand", len(self._pending))
                if self._stop.wait(1.0):
                    return
                self._sink = ProcessSink(self.settings) if self.settings.writer_process else ThreadSink(
                    BatchWriter(self.settings, self.engine))
                for batch_id, batch in self._pending.items():
                    self._sink.submit(batch_id, [(topic, payload) for topic, payload, _, _ in batch])

    def _write_batches(self) -> None:
        sink = self._sink
        pending = self._pending  # kept on self: a restarted loop resubmits what was in hand
        next_id = max(pending, default=0)
        try:
            while True:
                batch = self._collect()
                self._file_undelivered()
                if batch:
                    next_id += 1
                    pending[next_id] = batch
                    sink.submit(next_id, [(topic, payload) for topic, payload, _, _ in batch])
                # Keep at most MAX_IN_FLIGHT batches at the writer: the next one is read while one commits.
                while pending:
                    result = sink.next_result(None if len(pending) >= MAX_IN_FLIGHT else 0)
                    if result is None:
                        break
                    batch_id, outcome = result
                    if isinstance(outcome, str):
                        if not self._retry_in_order(sink, pending, batch_id, outcome):
                            return  # stopping while the database fails: the broker redelivers later
                        continue
                    self._committed(pending.pop(batch_id), outcome)
                if not batch and self._stop.is_set():
                    if not pending:
                        return
                    result = sink.next_result(1.0)  # let the batches in hand finish
                    if result is not None:
                        batch_id, outcome = result
                        if not isinstance(outcome, str):
                            self._committed(pending.pop(batch_id), outcome)
                        else:
                            return
                    continue
        finally:
            sink.close()

    def _retry_in_order(self, sink: Sink, pending: dict[int, list[Inbound]], failed_id: int, error: str) -> bool:
        """After a failed commit, commit every batch in hand in the order it came, each until it succeeds.

        Resubmitting only the failed batch would queue it behind the later one still at the writer:
        once the database is back that later batch commits first, the earlier one's states arrive as
        late states, and transitions between them are lost from the device history
        (tests/reliability/test_outages.py, PostgreSQL restarted mid-ingest). False when stopping.
        """
        failed = {failed_id}
        self.metrics.commit_errors.inc()
        log.error("batch of %d messages failed to commit (%s); retrying in order, not acknowledged",
                  len(pending[failed_id]), error)
        while len(failed) < len(pending):  # the later batches still at the writer answer first
            result = sink.next_result(1.0)
            if result is None:
                if self._stop.is_set():
                    return False
                continue
            batch_id, outcome = result
            if isinstance(outcome, str):
                self.metrics.commit_errors.inc()
                failed.add(batch_id)
            else:
                self._committed(pending.pop(batch_id), outcome)
        delay = 0.5
        while pending:
            if self._stop.wait(delay):
                return False
            oldest = min(pending)
            sink.submit(oldest, [(topic, payload) for topic, payload, _, _ in pending[oldest]])
            result = None
            while result is None:
                result = sink.next_result(1.0)
                if result is None and self._stop.is_set():
                    return False
            batch_id, outcome = result
            if isinstance(outcome, str):
                self.metrics.commit_errors.inc()
                delay = min(delay * 2, 30.0)
                log.error("batch of %d messages failed to commit again (%s); retrying in %.1fs, not acknowledged",
                          len(pending[batch_id]), outcome, delay)
                continue
            self._committed(pending.pop(batch_id), outcome)
        return True

    def _committed(self, batch: list[Inbound], result: BatchResult) -> None:
        ack = self._client.ack
        for _topic, _payload, mid, qos in batch:
            if qos:
                ack(mid, qos)
        self.committed += len(batch)
        m = self.metrics
        m.batch_seconds.observe(result.seconds)
        m.batch_rows.observe(len(batch))
        for agent, reason, detail in result.rejections:
            self.rejections.reject(agent, reason, detail)
        for kind, count in result.by_kind.items():
            m.received.labels(kind=kind).inc(count)
        if result.duplicates:
            m.duplicates.inc(result.duplicates)
        for kind, count in result.clock_skewed.items():
            m.clock_skew.labels(kind=kind).inc(count)
        if result.newest_ts is not None:
            m.lag_seconds.set(max(0.0, (datetime.now(UTC) - result.newest_ts).total_seconds()))
