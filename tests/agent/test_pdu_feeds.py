"""A PDU's reported outlets name the device each one feeds (the config's `feeds`), on the wire too."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from avfleet.agent.config import PollingConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import StateMessage, parse_agent_message
from avfleet.protocols.status import Availability, DeviceStatus, Kind, Outlet, Power
from tests.agent.test_coordinator import Clock, Collect


def test_pdu_state_carries_feeds_per_outlet() -> None:
    out = Collect()
    coordinator = DeviceCoordinator("pdu1", poller=None, reporter=out, polling=PollingConfig(), interval_s=10.0,
                                    kind=Kind.pdu, clock=Clock(), rng=random.Random(1), feeds={3: "pj1"})
    coordinator.handle(DeviceStatus(device_id="pdu1", kind=Kind.pdu, protocol="snmp",
                                    availability=Availability.online, power=Power.on,
                                    outlets=[Outlet(index=1, power_w=12.0), Outlet(index=3, power_w=180.0)]))
    [status] = out.states
    assert [(o.index, o.feeds) for o in status.outlets] == [(1, None), (3, "pj1")]
    message = StateMessage(agent_id="rum-a1", seq=1, ts=datetime(2026, 11, 11, tzinfo=UTC), **status.model_dump())
    parsed = parse_agent_message(topics.parse_topic(topics.state_topic("rum-a1", "pdu1")),
                                 message.model_dump_json().encode())
    assert [(o.index, o.power_w, o.feeds) for o in parsed.outlets] == [(1, 12.0, None), (3, 180.0, "pj1")]
