"""Faults at the agent's edge, with the agent in-process (its coordinators and outbox observable),
emulated projectors speaking real PJLink bytes and a real Mosquitto:

6. a projector that hangs in the middle of a reply (the emulator's `stall_mid_reply`: half a line,
   then nothing): its polls time out, it turns unreachable after the failure threshold, and the
   agent's other projectors keep their polling cadence;
7. a flood of PJLink notifications (LKUP/ERST/POWR datagrams, thousands a second) at the agent's
   notification listener: the event loop stays responsive, polls keep their cadence, and the outbox
   is not flooded: notifications are coalesced per device (one event and one early poll a second,
   the rest counted in that event's detail).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.pjlink import codec
from tests.agent.helpers import Recorder, agent_config, agent_topic, wait_until
from tests.support.mosquitto import MosquittoBroker

INTERVAL_S = 0.5


class LoopLag:
    """The event loop's worst delay over a 20 ms sleep: how responsive the agent stays."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(0.02)
            self.worst = max(self.worst, time.monotonic() - start - 0.02)

    def stop(self) -> float:
        self._task.cancel()
        return round(self.worst, 3)


async def _polls_over(agent: Agent, devices: list[str], seconds: float) -> dict[str, int]:
    before = {d: agent.coordinators[d].polls for d in devices}
    await asyncio.sleep(seconds)  # a measuring window, not waiting for an event
    return {d: agent.coordinators[d].polls - before[d] for d in devices}


@pytest.mark.timeout(90)
async def test_a_projector_hanging_mid_reply_goes_unreachable_and_the_others_keep_their_cadence(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-hang")).start()
    async with EmulatedFleet.from_count(3) as fleet:
        config = agent_config("a-hang", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              polling={"interval_s": INTERVAL_S, "failure_threshold": 2, "max_backoff_s": 2.0,
                                       "jitter": 0.0})
        agent = Agent(config)
        task = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.ready.wait(), 10)
            await recorder.wait_for(lambda ms: len({m.topic for m in ms if m.topic.endswith("/state")}) == 3, 15,
                                    what="a state from each projector")
            others = ["pj-01", "pj-02"]
            calm = await _polls_over(agent, others, 3.0)
            fleet.emulators[0].inject_fault("stall_mid_reply")
            hung_at = time.monotonic()
            lag = LoopLag()
            went = await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("pj-00/event") and m.data["event"] == "availability"
                            and m.data["new"] == "unreachable"], 30, what="pj-00 unreachable")
            unreachable_after_s = round(time.monotonic() - hung_at, 2)
            during = await _polls_over(agent, others, 3.0)
            worst_lag = lag.stop()
            assert "timed out" in (went[0].data["detail"] or "") or went[0].data["detail"]
            assert agent.coordinators["pj-00"].failures >= 2
            # Each other projector polls on its own schedule: the hung one costs them nothing.
            for device in others:
                assert during[device] >= 0.6 * calm[device], (calm, during)
            online = [m for m in recorder.snapshot() if m.topic.rsplit("/", 2)[-2] in others
                      and m.topic.endswith("/event") and m.data["event"] == "availability"]
            assert online == []  # nobody else flapped
            fleet.emulators[0].clear_fault("stall_mid_reply")
            await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("pj-00/event") and m.data["event"] == "availability"
                            and m.data["new"] == "online"], 30, what="pj-00 back online")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 20)
    recorder.stop()
    print(f"RELIABILITY hang unreachable_after_s={unreachable_after_s} calm={calm} during={during} "
          f"worst_loop_lag_s={worst_lag}")


async def _settled(read, quiet_s: float = 0.5, timeout: float = 15.0) -> int:
    """A counter's value once it stopped growing for `quiet_s` (the listener read what the kernel kept)."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if read() != value:
            value, since = read(), time.monotonic()
    return value


def _datagrams() -> list[bytes]:
    return [codec.encode_datagram(codec.LinkUp("00:11:22:33:44:55")),
            codec.encode_datagram(codec.ErrorNotice(codec.ErrorStatus())),
            codec.encode_datagram(codec.PowerNotice(codec.PowerState.on))]


def _flood(port: int, seconds: float, per_s: int) -> int:
    """Send `per_s` datagrams a second for `seconds` from 127.0.0.1 (the emulators' address), from a
    thread of its own: the flood comes from the network, not from the agent's event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    kinds = _datagrams()
    sent = 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * per_s)
            while sent < due:
                sock.sendto(kinds[sent % 3], ("127.0.0.1", port))
                sent += 1
            time.sleep(0.002)
    finally:
        sock.close()
    return sent


@pytest.mark.timeout(90)
async def test_a_notification_flood_is_coalesced_and_polls_keep_their_cadence(
        mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with EmulatedFleet.from_count(3, pjlink_class=2) as fleet:
        config = agent_config("a-flood", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              polling={"interval_s": INTERVAL_S, "jitter": 0.0},
                              discovery={"notifications": True, "notification_port": 0, "bind": "127.0.0.1"})
        agent = Agent(config)
        taps: list[tuple[int, str]] = []
        task = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.ready.wait(), 10)
            agent.link.taps.append(lambda seq, topic: taps.append((seq, topic)))
            await wait_until(lambda: all(c.polls >= 2 for c in agent.coordinators.values()), 15, "polling")
            devices = list(agent.coordinators)
            calm = await _polls_over(agent, devices, 2.0)
            written_before = len(taps)
            lag = LoopLag()
            polls_before = {d: agent.coordinators[d].polls for d in devices}
            flood_s, per_s = 3.0, 3000
            sent = await asyncio.to_thread(_flood, agent.listener.port, flood_s, per_s)
            during = {d: agent.coordinators[d].polls - polls_before[d] for d in devices}
            worst_lag = lag.stop()
            received = await _settled(lambda: agent.listener.received)
            written = len(taps) - written_before
            notes = [t for _s, t in taps[written_before:] if t.endswith("/event")]
            await agent.link.drain(15)  # everything written went out; nothing piles up
        finally:
            agent.stop()
            await asyncio.wait_for(task, 20)
    # The listener reads as fast as one event loop does (asyncio takes one datagram per readiness);
    # what it cannot read the kernel drops, which costs nothing. Before coalescing it read ~5 %.
    assert received >= 0.15 * sent
    per_device_events = len(notes) / len(devices)
    # At most one notification event per device a second (plus its state), not one per datagram.
    assert per_device_events <= flood_s + 2, (len(notes), sent)
    assert written <= len(devices) * (flood_s + 2) * 3
    for device in devices:
        # The regular cadence goes on; the notifications add at most about two early polls a second.
        assert during[device] >= 0.8 * calm[device] * flood_s / 2.0
        assert during[device] <= (flood_s / INTERVAL_S) + 2 * flood_s + 3
    assert worst_lag < 0.5
    coalesced = sum(agent.coordinators[d].notifications_coalesced for d in devices)
    assert coalesced >= received * len(devices) - len(notes) - len(devices)
    print(f"RELIABILITY flood sent={sent} received={received} outbox_written={written} events={len(notes)} "
          f"coalesced={coalesced} polls_calm_2s={calm} polls_flood_{flood_s}s={during} worst_loop_lag_s={worst_lag}")


def _fill_disk(agent: Agent, full: bool) -> None:
    """A simulated full disk (this machine cannot loop-mount a tiny file system): SQLite's
    `max_page_count` on the outbox's connection stops the file growing, and a filler table takes the
    free pages, so the outbox's next insert fails with SQLITE_FULL, as on a full SD card."""
    outbox = agent.outbox
    with outbox._lock:
        db = outbox._db
        if not full:
            db.execute("PRAGMA max_page_count = 1073741823")
            db.execute("DROP TABLE IF EXISTS filler")
            return
        (count,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {count + 2}")
        db.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        with contextlib.suppress(sqlite3.OperationalError):  # "database or disk is full"
            while True:
                db.execute("INSERT INTO filler VALUES (zeroblob(1000))")


@pytest.mark.timeout(90)
async def test_a_full_disk_under_the_outbox_is_survived_reported_and_counted(
        mosquitto: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Disk full simulated with `PRAGMA max_page_count` (see `_fill_disk`), while the broker is down: with
    the broker up the outbox deletes each row at its PUBACK and reuses its few pages, so a full disk
    only bites when the outbox has to grow (checked first: nothing fails then)."""
    recorder = Recorder(mosquitto.port, agent_topic("a-full"), persistent=True).start()
    async with EmulatedFleet.from_count(3, warmup_s=0, cooldown_s=0) as fleet:
        config = agent_config("a-full", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              outbox={"max_messages": 40})
        agent = Agent(config)
        taps: list[tuple[int, str]] = []
        task = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.ready.wait(), 10)
            agent.link.taps.append(lambda seq, topic: taps.append((seq, topic)))
            await recorder.wait_for(lambda ms: len({m.topic for m in ms if m.topic.endswith("/state")}) == 3, 15,
                                    what="a state from each projector")
            await agent.link.drain(10)
            _fill_disk(agent, True)
            for emu in fleet.emulators:
                emu.set_power("on")
            await recorder.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/event")]) >= 3, 10,
                                    what="power events delivered on the full disk, broker up")
            assert agent.link.commit_failures == 0
            mosquitto.stop()
            full_from = len(taps)
            rounds = 0
            # Toggle the projectors until commits fail and more messages wait than the outbox may hold.
            while agent.link.commit_failures == 0 or agent.outbox.dropped == 0:
                rounds += 1
                assert rounds < 120, "the outbox never filled"
                for emu in fleet.emulators:
                    emu.set_power("on" if emu.power.name == "standby" else "standby")
                await asyncio.sleep(0.4)
            polls_while_full = sum(c.polls for c in agent.coordinators.values())
            await wait_until(lambda: sum(c.polls for c in agent.coordinators.values()) >= polls_while_full + 6, 10,
                             "polling goes on while the disk is full")
            assert task.done() is False and agent.healthy()
            assert agent.outbox.pending <= 40
            stopwatch_s = time.monotonic()
            _fill_disk(agent, False)  # space is back
            await wait_until(lambda: agent.link.commit_failures == 0 and agent.outbox.pending == 0, 10,
                             "commits work again")
            mosquitto.start()
            await agent.link.wait_connected(15)
            await agent.link.drain(15)
            recovery_s = round(time.monotonic() - stopwatch_s, 2)
            dropped = agent.outbox.dropped
            # Health is QoS 0, which a broker does not queue for a subscriber that is still reconnecting.
            await wait_until(recorder.client.is_connected, 10, "subscriber back")
            agent.send_health()
            agent.link.flush_now()
            health = await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("/health") and m.data["replayed"] is False], 15,
                what="a live health report")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 20)
    recorder.stop()
    written = {s for s, t in taps[full_from:] if not t.endswith("/health")}
    arrived = {m.seq for m in recorder.snapshot()}
    lost = written - arrived
    # Only what the bound dropped is missing, and every dropped message is counted.
    assert len(lost) <= dropped and dropped > 0
    assert health[-1].data["outbox_dropped"] >= dropped
    logged = [r.getMessage() for r in caplog.records if "outbox" in r.getMessage()]
    assert any("outbox commit failed" in m for m in logged) and any("writable again" in m for m in logged)
    assert sum("outbox commit failed" in m for m in logged) <= 2  # said once, not at every retry
    print(f"RELIABILITY disk-full rounds={rounds} written={len(written)} dropped={dropped} lost={len(lost)} "
          f"recovery_s={recovery_s}")
