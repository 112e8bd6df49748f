"""What the controller publishes must never wedge its broker link.

Two traps, both measured against Mosquitto with the generated config:

- A PUBLISH larger than the broker's `max_packet_size` makes Mosquitto drop the connection. paho
  keeps every unacknowledged QoS 1 message and sends it again after each reconnect, so one
  oversized command cut the controller off once a second until it was restarted. Hence every
  outgoing packet is measured first and refused (`TooLarge`) above the limit: the setting
  `broker_max_packet_bytes`, or the broker's own Maximum Packet Size from its CONNACK if smaller.
- A message the broker drops us for for any other reason would loop the same way. A message still
  unacknowledged at `MAX_ATTEMPTS` disconnects in a row is taken out of paho's queue and reported as
  undelivered instead of being sent again.

paho has no public call to withdraw a queued message; `_discard` uses its out-queue under its
own lock (paho-mqtt 2.x), and does nothing when those internals are not there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

log = logging.getLogger("avfleet.controller.ingest")

MAX_ATTEMPTS = 2


def publish_packet_size(topic: str, payload: bytes, qos: int, properties: Properties | None, v5: bool) -> int:
    """Bytes of the PUBLISH packet paho will write (fixed header included), as in paho's _send_publish."""
    remaining = 2 + len(topic.encode()) + len(payload) + (2 if qos > 0 else 0)
    if v5:
        remaining += len(properties.pack()) if properties is not None else 1
    length_bytes = 1
    while remaining >= 128 ** length_bytes and length_bytes < 4:
        length_bytes += 1
    return 1 + length_bytes + remaining


@dataclass
class Outgoing:
    topic: str
    payload: bytes
    attempts: int = 1


# Called with (topic, payload, reason) for a message that will not be delivered.
Undelivered = Callable[[str, bytes, str], None]


class OutgoingTracker:
    """QoS 1 messages published and not yet acknowledged, by mid; thread-safe (paho's thread and callers)."""

    def __init__(self, on_undelivered: Undelivered) -> None:
        self._lock = threading.Lock()
        self._by_mid: dict[int, Outgoing] = {}
        self._on_undelivered = on_undelivered
        self._generation = 0  # disconnects so far
        self._early: dict[int, str | None] = {}  # PUBACKs that came before `sent` registered their mid

    @property
    def generation(self) -> int:
        """Read before publishing and handed to `sent`: paho's thread may write the packet and see the
        broker drop us before the publishing thread gets to `sent`; that disconnect must count too."""
        return self._generation

    def sent(self, mid: int, topic: str, payload: bytes, generation: int) -> None:
        with self._lock:
            early = mid in self._early
            failure = self._early.pop(mid, None)
            if not early:
                self._by_mid[mid] = Outgoing(topic, payload, attempts=1 + self._generation - generation)
        if failure is not None:
            self._on_undelivered(topic, payload, f"the broker refused it: {failure}")

    def acked(self, mid: int, failure: str | None) -> None:
        with self._lock:
            item = self._by_mid.pop(mid, None)
            if item is None:
                if len(self._early) > 1000:  # only ever a few; never let it grow
                    self._early.clear()
                self._early[mid] = failure
                return
        if failure is not None:
            # The broker took the packet but will not deliver it (v5 PUBACK reason, e.g. not authorized).
            self._on_undelivered(item.topic, item.payload, f"the broker refused it: {failure}")

    def disconnected(self, client: mqtt.Client) -> None:
        """A connection ended: whatever was in flight at MAX_ATTEMPTS disconnects is withdrawn."""
        with self._lock:
            self._generation += 1
            for item in self._by_mid.values():
                item.attempts += 1
            given_up = [(mid, item) for mid, item in self._by_mid.items() if item.attempts > MAX_ATTEMPTS]
            for mid, _ in given_up:
                del self._by_mid[mid]
        for mid, item in given_up:
            _discard(client, mid)
            log.error("gave up on a message to %s (%d bytes) still unacknowledged after %d disconnects; not "
                      "sending it again", item.topic, len(item.payload), MAX_ATTEMPTS)
            self._on_undelivered(item.topic, item.payload,
                                 f"not acknowledged by the broker across {MAX_ATTEMPTS} connections")

    def withdraw(self, client: mqtt.Client, mid: int) -> None:
        """A publish paho refused (rc != success): make sure it is not sent later after all."""
        with self._lock:
            self._by_mid.pop(mid, None)
        _discard(client, mid)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_mid)


def _discard(client: mqtt.Client, mid: int) -> None:
    lock = getattr(client, "_out_message_mutex", None)
    queue = getattr(client, "_out_messages", None)
    if lock is None or queue is None:
        return
    with lock:
        queue.pop(mid, None)
