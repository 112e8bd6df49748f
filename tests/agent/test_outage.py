"""Store-and-forward through broker outages and agent crashes, against a real Mosquitto that is stopped,
started and killed, with emulated projectors (real PJLink bytes) changing state meanwhile.

"Receives every" is checked against what the agent itself wrote: a tap on the link records the
(seq, topic) of every message the agent queued (in-process runs), or the test reads the agent's outbox
file (subprocess runs). The subscriber keeps a persistent MQTT 5 session so nothing the broker
accepted is lost to it while it reconnects.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

import pytest

from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.mqtt.payloads import HealthMessage
from tests.agent.helpers import (
    AgentProcess,
    Recorder,
    agent_config,
    agent_dict,
    agent_topic,
    wait_until,
    write_config,
)
from tests.support.mosquitto import MosquittoBroker

OUTAGE_S = 60.0


def _device_messages(taps: list[tuple[int, str]]) -> dict[int, str]:
    return {seq: topic for seq, topic in taps if topic.endswith(("/state", "/event"))}


def _check_delivery(recorder: Recorder, written: dict[int, str], *, replayed_after: int | None = None) -> dict:
    """Every written state/event arrived, on its topic, in order per device, and duplicates are identical."""
    received = recorder.where(lambda m: m.topic.endswith(("/state", "/event")))
    first: dict[int, bytes] = {}
    per_topic_order: dict[str, list[int]] = defaultdict(list)
    duplicates = 0
    for m in received:
        body = m.raw.replace(b',"replayed":true}', b"}").replace(b',"replayed":false}', b"}")
        if m.seq in first:
            duplicates += 1
            assert first[m.seq] == body, f"seq {m.seq} arrived twice with different content"
            continue
        first[m.seq] = body
        device = m.topic.rsplit("/", 2)[-2]
        per_topic_order[device].append(m.seq)
        assert written.get(m.seq) == m.topic, f"seq {m.seq} on {m.topic} was not written by the agent there"
    missing = sorted(set(written) - set(first))
    assert not missing, f"{len(missing)} messages never arrived, e.g. {missing[:10]}"
    for device, seqs in per_topic_order.items():
        assert seqs == sorted(seqs), f"{device}: out of order after dedup"
    if replayed_after is not None:
        late = [m for m in received if m.seq > replayed_after and m.seq in written]
        assert late and all(m.data["replayed"] is True for m in late)
    return {"received": len(received), "unique": len(first), "duplicates": duplicates}


@pytest.mark.timeout(240)
async def test_broker_down_60s_while_20_projectors_change_then_everything_arrives(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-outage"), persistent=True).start()
    async with EmulatedFleet.from_count(20) as fleet:
        config = agent_config("a-outage", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              polling={"interval_s": 0.5, "failure_threshold": 2})
        agent = Agent(config)
        taps: list[tuple[int, str]] = []
        task = asyncio.create_task(agent.run())
        await asyncio.wait_for(agent.ready.wait(), 10)
        agent.link.taps.append(lambda seq, topic: taps.append((seq, topic)))
        try:
            await recorder.wait_for(lambda ms: len({m.topic for m in ms if m.topic.endswith("/state")}) == 20, 20,
                                    what="a state from every projector")
            for emu in fleet.emulators[:5]:
                emu.set_power("on")
            before = _device_messages(taps)
            await recorder.wait_for(lambda ms: set(before) <= {m.seq for m in ms}, 10, what="pre-outage messages")

            mosquitto.stop()
            down_since = time.monotonic()
            last_before_outage = max(s for s, _t in taps)
            rounds = 0
            while time.monotonic() - down_since < OUTAGE_S:
                rounds += 1
                for i, emu in enumerate(fleet.emulators):
                    if (i + rounds) % 2 == 0:
                        emu.set_power("on" if emu.power.name == "standby" else "standby")
                    if (i + rounds) % 5 == 0:
                        emu.set_error("filter", rounds % 2)
                await asyncio.sleep(3.0)
            assert not agent.link.connected
            written_during = {s: t for s, t in _device_messages(taps).items() if s > last_before_outage}
            assert len(written_during) >= 20 * 10, "the outage should cover hundreds of changes"
            mosquitto.start()
            written = _device_messages(taps)
            await recorder.wait_for(lambda ms: set(written) <= {m.seq for m in ms}, 60,
                                    what="every state and event after the outage")
            stats = _check_delivery(recorder, written, replayed_after=last_before_outage)
            await wait_until(lambda: agent.outbox.depth <= 5, 10, "outbox drained")
            # The subscriber's session came back from the broker's persistence (else it could miss messages).
            assert recorder.session_present[-1] is True
        finally:
            agent.stop()
            await asyncio.wait_for(task, 20)
    recorder.stop()
    assert agent.link.stats.connects == 2
    assert agent.outbox.dropped == 0
    assert stats["unique"] == len(written)
    events = [m for m in recorder.snapshot() if m.topic.endswith("/event") and m.seq > last_before_outage]
    assert {m.data["event"] for m in events} >= {"power", "fault_raised", "fault_cleared"}


async def _quiet(taps: list, seconds: float) -> None:
    """Wait until the agent has queued nothing new for `seconds`."""
    count, since = len(taps), time.monotonic()
    while time.monotonic() - since < seconds:
        await asyncio.sleep(0.1)
        if len(taps) != count:
            count, since = len(taps), time.monotonic()


def _outbox_rows(path: Path) -> dict[int, str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT seq, topic FROM messages"))
    finally:
        db.close()


@pytest.mark.timeout(120)
async def test_agent_killed_while_offline_delivers_its_buffer_after_restart(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    outbox_path = tmp_path / "o.sqlite"
    async with EmulatedFleet.from_count(4) as fleet:
        config_path = write_config(tmp_path / "agent.yaml", agent_dict(
            "a-crash", mosquitto.url, fleet.urls(), outbox_path, broker={"keepalive_s": 5}))
        proc = AgentProcess(config_path).start()
        first = Recorder(mosquitto.port, agent_topic("a-crash"), client_id="first").start()
        try:
            await first.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= 4, 30, what="states")
            first.stop()
            mosquitto.stop()
            for emu in fleet.emulators:
                emu.set_power("on")
            # Wait until the agent committed the changes to its outbox (what a crash cannot take away).
            buffered = await wait_until(
                lambda: (rows := _device_messages(list(_outbox_rows(outbox_path).items())))
                and sum(t.endswith("/event") for t in rows.values()) >= 4 and rows,
                20, "power events committed to the outbox")
            proc.kill()
            mosquitto.start()
            recorder = Recorder(mosquitto.port, agent_topic("a-crash"), client_id="second").start()
            proc = AgentProcess(config_path).start()
            await recorder.wait_for(lambda ms: set(buffered) <= {m.seq for m in ms}, 30,
                                    what="buffered messages after the restart")
            online = await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("/status") and m.data["state"] == "online"], 10,
                what="online status")
            assert proc.terminate() == 0, proc.log()
        finally:
            proc.kill()
    recorder.stop()
    arrived = {m.seq: m for m in recorder.snapshot()}
    assert all(arrived[s].data["replayed"] is True for s in buffered)
    assert all(arrived[s].topic == t for s, t in buffered.items())
    # Numbering went on from the crashed run: the new connection's status is newer than the buffer.
    assert online[0].seq > max(buffered)


@pytest.mark.timeout(120)
async def test_outbox_bound_drops_oldest_and_health_counts_them(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    try:
        recorder = Recorder(broker.port, agent_topic("a-bound"), persistent=True).start()
        broker.stop()  # the subscriber's session persists; the agent meets a broker that is down
        async with EmulatedFleet.from_count(3) as fleet:
            config = agent_config("a-bound", broker.url, fleet.urls(), tmp_path / "o.sqlite",
                                  outbox={"max_messages": 10})
            agent = Agent(config)
            taps: list[tuple[int, str]] = []
            task = asyncio.create_task(agent.run())
            await asyncio.wait_for(agent.ready.wait(), 10)
            agent.link.taps.append(lambda seq, topic: taps.append((seq, topic)))
            try:
                for _ in range(20):
                    agent.send_health()
                for _ in range(8):  # each toggle is polled: a state and a power event
                    fleet[0].set_power("on" if fleet[0].power.name == "standby" else "standby")
                    await asyncio.sleep(0.5)
                await _quiet(taps, 1.0)  # the last toggle has been polled and reported; nothing new comes
                agent.link.flush_now()
                await wait_until(lambda: agent.outbox.pending == 0 and agent.outbox.dropped >= 20, 10,
                                 "evictions committed")
                dropped = agent.outbox.dropped
                assert agent.outbox.depth <= 10
                kept = sorted(s for s, _t in taps)[-10:]
                assert agent.outbox.committed_seqs() == kept  # the newest ten, the oldest went first
                broker.start()
                await agent.link.wait_connected(15)
                # The connect queues status and birth: with the outbox full, the two oldest rows make room.
                kept = kept[2:]
                kept_qos1 = {s for s, t in taps if s in kept and not t.endswith("/health")}
                assert kept_qos1
                await recorder.wait_for(lambda ms: kept_qos1 <= {m.seq for m in ms}, 15, what="the kept messages")
                await agent.link.drain(10)
                # Health is QoS 0, which a broker does not queue for a subscriber that is still reconnecting.
                await wait_until(recorder.client.is_connected, 10, "subscriber back")
                agent.send_health()
                assert recorder.session_present[-1] is True
                health = await recorder.wait_for(
                    lambda ms: [m for m in ms if m.topic.endswith("/health") and m.data["replayed"] is False], 15,
                    what="a live health report")
            finally:
                agent.stop()
                await asyncio.wait_for(task, 15)
        recorder.stop()
    finally:
        broker.kill()
    report = HealthMessage.model_validate(health[-1].data)
    assert report.outbox_dropped == dropped + 2 and dropped >= 20
    assert report.outbox_depth <= 1
    tapped = {s for s, _t in taps}
    arrived_old = {m.seq for m in recorder.snapshot()} & tapped
    assert arrived_old - {health[-1].seq} and min(arrived_old) >= kept[0] > min(tapped)
