"""The bookkeeping behind "no message wedges the link" (ingest/outgoing.py), on a real paho client's queue."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from avfleet.controller.ingest.outgoing import OutgoingTracker


def test_in_flight_at_two_disconnects_is_withdrawn_from_paho_and_reported_once() -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5)
    undelivered: list[tuple[str, str]] = []
    tracker = OutgoingTracker(lambda topic, _payload, reason: undelivered.append((topic, reason)))
    gen = tracker.generation
    info = client.publish("a/cmd", b"{}", qos=1)  # not connected: paho keeps it for the next connection
    assert info.mid in client._out_messages
    tracker.sent(info.mid, "a/cmd", b"{}", gen)
    tracker.disconnected(client)
    assert info.mid in client._out_messages and not undelivered  # one more try after a reconnect
    tracker.disconnected(client)
    assert info.mid not in client._out_messages and len(tracker) == 0
    assert undelivered == [("a/cmd", "not acknowledged by the broker across 2 connections")]


def test_a_disconnect_or_puback_before_the_publisher_registered_its_message_still_counts() -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5)
    undelivered: list[str] = []
    tracker = OutgoingTracker(lambda topic, _payload, _reason: undelivered.append(topic))
    gen = tracker.generation
    tracker.disconnected(client)  # paho's thread saw the broker drop us first
    tracker.sent(7, "late/cmd", b"{}", gen)
    tracker.disconnected(client)
    assert undelivered == ["late/cmd"]

    tracker.acked(8, None)  # the PUBACK overtook `sent`: nothing stays tracked, nothing is reported
    tracker.sent(8, "fast/cmd", b"{}", tracker.generation)
    tracker.acked(9, "Not authorized")
    tracker.sent(9, "refused/cmd", b"{}", tracker.generation)
    assert len(tracker) == 0 and undelivered == ["late/cmd", "refused/cmd"]
