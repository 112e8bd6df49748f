"""The chain on a clustered broker: emulated projectors -> agent -> a three-node NATS cluster speaking
MQTT 3.1.1 (JetStream) -> the controller.

The agent has the cluster's nodes as `broker.urls` and the controller sits on another node. While the
projectors change state, the node the agent is connected to is killed (SIGKILL): the agent moves to the
next node, and every state and event it wrote reaches the controller's database, none twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from avfleet.agent.runtime import Agent
from avfleet.controller.app import Controller
from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from tests.agent.helpers import agent_config, wait_until
from tests.controller.conftest import API_TOKEN
from tests.support.nats import NatsCluster

AGENT = "jkpg-ekhagen-a12"
RECEIVED = ReceivedMessage.__table__


@pytest.fixture
def cluster(tmp_path: Path):
    nats = NatsCluster(tmp_path / "nats").start()
    try:
        yield nats
    finally:
        nats.stop()


def _stored_seqs(controller: Controller) -> set[int]:
    with controller.engine.connect() as conn:
        return set(conn.execute(sa.select(RECEIVED.c.seq).where(RECEIVED.c.agent_id == AGENT)).scalars())


@pytest.mark.timeout(240)
async def test_agent_fails_over_to_another_node_mid_stream_and_nothing_is_lost(cluster: NatsCluster,
                                                                                 tmp_path: Path) -> None:
    home, first, second = cluster.nodes
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'ctl.db'}", broker_url=home.mqtt_url,
                             mqtt_protocol="3.1.1", api_tokens=[API_TOKEN], api_port=0, client_id="nats-ctl",
                             broker_password="anonymous-broker-ignores-this", writer_process=False,
                             agent_lost_after_s=86400)
    controller = Controller(settings)
    controller.start()
    try:
        async with EmulatedFleet.from_count(8) as fleet:
            config = agent_config(AGENT, first.mqtt_url, fleet.urls(), tmp_path / "outbox.sqlite",
                                  broker={"url": None, "urls": [first.mqtt_url, second.mqtt_url, home.mqtt_url],
                                          "protocol": "3.1.1", "reconnect_min_s": 0.2, "reconnect_max_s": 1.0})
            agent = Agent(config)
            written: dict[int, str] = {}
            task = asyncio.create_task(agent.run())
            await asyncio.wait_for(agent.ready.wait(), 20)
            agent.link.taps.append(lambda seq, topic: written.__setitem__(seq, topic))
            try:
                assert agent.link._address_now() == ("127.0.0.1", first.mqtt_port)

                async def flip(rounds: int) -> None:
                    for r in range(rounds):
                        for i, emu in enumerate(fleet.emulators):
                            if (i + r) % 2 == 0:
                                emu.set_power("on" if emu.power.name == "standby" else "standby")
                        await asyncio.sleep(0.5)

                await flip(6)
                await wait_until(lambda: {s for s, t in written.items() if t.endswith(("/state", "/event"))}
                                 <= _stored_seqs(controller), 30, "the stream before the kill stored")
                before_kill = max(written)
                cluster.kill(first)
                killed_at = time.monotonic()
                await flip(10)  # the changes go on while the agent finds the next node
                await wait_until(lambda: agent.link.connected, 30, "the agent on another node")
                failover_s = time.monotonic() - killed_at
                # The next node, or the one after when the next still holds the dead node's session lock.
                assert agent.link._address_now() in {("127.0.0.1", second.mqtt_port), ("127.0.0.1", home.mqtt_port)}
                await flip(4)
                device_seqs = {s for s, t in written.items() if t.endswith(("/state", "/event"))}
                assert len([s for s in device_seqs if s > before_kill]) >= 20
                await wait_until(lambda: device_seqs <= _stored_seqs(controller), 60,
                                 "every state and event the agent wrote is stored")
                await wait_until(lambda: agent.outbox.depth == 0, 30, "the agent's outbox drained")
            finally:
                agent.stop()
                await asyncio.wait_for(task, 20)
        assert agent.link.stats.connects >= 2
        assert agent.outbox.dropped == 0
        assert failover_s < 30
        with controller.engine.connect() as conn:
            duplicates = conn.execute(sa.select(RECEIVED.c.seq, sa.func.count()).where(RECEIVED.c.agent_id == AGENT)
                                      .group_by(RECEIVED.c.epoch, RECEIVED.c.seq).having(sa.func.count() > 1)).all()
        assert duplicates == []  # the primary key forbids them; stated so a change of key shows here
    finally:
        controller.stop()
