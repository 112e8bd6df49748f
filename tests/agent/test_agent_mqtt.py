"""The agent against a real Mosquitto and emulated PJLink projectors speaking real bytes on loopback."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from pathlib import Path

from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import BirthMessage, EventMessage, HealthMessage, StateMessage, StatusMessage
from avfleet.protocols.mqtt.topics import parse_topic
from tests.agent.helpers import AgentProcess, Recorder, agent_config, agent_dict, agent_topic, wait_until, write_config
from tests.support.mosquitto import MosquittoBroker


async def _run(agent: Agent) -> asyncio.Task:
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.ready.wait(), 10)
    return task


async def test_birth_status_states_and_events(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-basic")).start()
    async with EmulatedFleet.from_count(2, warmup_s=0.3, cooldown_s=0.3) as fleet:
        config = agent_config("a-basic", mosquitto.url, fleet.urls(), tmp_path / "outbox.sqlite")
        agent = Agent(config)
        task = await _run(agent)
        try:
            # One state per device once polled; then a power change gives an event and a new state.
            await recorder.wait_for(lambda ms: {m.topic for m in ms if m.topic.endswith("/state")} == {
                topics.state_topic("a-basic", "pj-00"), topics.state_topic("a-basic", "pj-01")}, what="two states")
            fleet[0].set_power("on")
            fleet[1].set_error("fan", 2)
            await recorder.wait_for(lambda ms: any(m.data.get("event") == "power" for m in ms)
                                    and any(m.data.get("event") == "fault_raised" for m in ms), what="events")
            fleet[1].set_error("fan", 0)
            await recorder.wait_for(lambda ms: any(m.data.get("event") == "fault_cleared" for m in ms),
                                    what="fault cleared")
            agent.send_health()
            await recorder.wait_for(lambda ms: any(m.topic.endswith("/health") for m in ms), what="health")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
    messages = recorder.snapshot()
    parsed = []
    for m in messages:
        parsed.append((m, parse_topic(m.topic)))
    kinds = [p.kind.value for _m, p in parsed]
    assert kinds[0] == "status" and messages[0].data["state"] == "online" and messages[0].retain is False
    assert "birth" in kinds
    birth = BirthMessage.model_validate(next(m.data for m, p in parsed if p.kind.value == "birth"))
    assert [d.id for d in birth.devices] == ["pj-00", "pj-01"]
    assert birth.site.municipality == "Jönköping" and birth.boot_id == agent.boot_id
    assert "secret" not in str(birth)
    # Every message validates against the contract, and seq strictly increases in publish order per device.
    for m, p in parsed:
        model = {"status": StatusMessage, "birth": BirthMessage, "state": StateMessage, "event": EventMessage,
                 "health": HealthMessage}[p.kind.value]
        model.model_validate(m.data)
        assert m.data["agent_id"] == "a-basic" and m.data["replayed"] is False
    seqs = [m.seq for m in messages]
    assert len(seqs) == len(set(seqs)), "a seq was used twice"
    power = next(m.data for m in messages if m.data.get("event") == "power")
    assert (power["device_id"], power["old"], power["new"]) == ("pj-00", "standby", "on")
    fault = next(m.data for m in messages if m.data.get("event") == "fault_raised")
    assert (fault["device_id"], fault["component"], fault["new"]) == ("pj-01", "fan", "error")
    states_00 = [m.data for m in messages if m.topic == topics.state_topic("a-basic", "pj-00")]
    assert [s["power"] for s in states_00][:2] == ["standby", "on"]
    # Only changes were published: no two consecutive states of a device are equal (heartbeat is 60 s).
    for device in ("pj-00", "pj-01"):
        states = [m.data for m in messages if m.topic == topics.state_topic("a-basic", device)]
        for a, b in itertools.pairwise(states):
            assert {k: v for k, v in a.items() if k not in ("seq", "ts", "observed_at")} != \
                   {k: v for k, v in b.items() if k not in ("seq", "ts", "observed_at")}
    health = HealthMessage.model_validate(next(m.data for m in messages if m.topic.endswith("/health")))
    assert health.uptime_s > 0 and health.memory_rss_bytes and health.outbox_dropped == 0
    # Retained: status (offline after the clean stop), birth and the states.
    late = Recorder(mosquitto.port, agent_topic("a-basic"), client_id="late").start()
    retained = await late.wait_for(lambda ms: len(ms) >= 4 and ms, what="retained messages")
    late.stop()
    by_topic = {m.topic: m for m in retained}
    assert by_topic[topics.status_topic("a-basic")].data["state"] == "offline"
    assert topics.birth_topic("a-basic") in by_topic
    assert by_topic[topics.state_topic("a-basic", "pj-00")].data["power"] == "on"
    assert all(m.retain for m in retained)


async def test_unreachable_only_after_threshold_and_back(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-unr")).start()
    async with EmulatedFleet.from_count(1) as fleet:
        config = agent_config("a-unr", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
                              polling={"failure_threshold": 3, "interval_s": 0.2, "max_backoff_s": 0.5})
        agent = Agent(config)
        task = await _run(agent)
        coordinator = agent.coordinators["pj-00"]
        try:
            await recorder.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms), what="first state")
            polls_before = coordinator.polls
            await fleet[0].set_network(False)
            await recorder.wait_for(lambda ms: any(m.data.get("availability") == "unreachable" for m in ms),
                                    what="unreachable state")
            # Reported only at the third failure in a row.
            assert coordinator.polls - polls_before >= 3
            await fleet[0].set_network(True)
            await recorder.wait_for(lambda ms: sum(m.data.get("event") == "availability" for m in ms) >= 2,
                                    what="back online")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
    avail = [(m.data["old"], m.data["new"]) for m in recorder.snapshot() if m.data.get("event") == "availability"]
    assert avail == [("online", "unreachable"), ("unreachable", "online")]
    states = [m.data["availability"] for m in recorder.snapshot() if m.topic.endswith("/state")]
    assert states == ["online", "unreachable", "online"]


async def test_last_will_fires_when_the_agent_is_killed(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-will")).start()
    async with EmulatedFleet.from_count(1) as fleet:
        config_path = write_config(tmp_path / "agent.yaml", agent_dict(
            "a-will", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite", broker={"keepalive_s": 5}))
        proc = AgentProcess(config_path).start()
        try:
            online = await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("/status") and m.data["state"] == "online"], 30,
                what="online status")
            await recorder.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms), 15, what="a state")
            proc.kill()  # SIGKILL: no clean disconnect, the broker must publish the Will
            lost = await recorder.wait_for(
                lambda ms: [m for m in ms if m.topic.endswith("/status") and m.data["state"] == "lost"], 20,
                what="lost status")
        finally:
            proc.kill()
    recorder.stop()
    will = StatusMessage.model_validate(lost[0].data)
    assert will.boot_id == online[0].data["boot_id"]
    # The Will's seq was reserved before the connect, so it is below everything sent on that connection.
    assert will.seq < online[0].seq
    late = Recorder(mosquitto.port, topics.status_topic("a-will"), client_id="late").start()
    retained = await late.wait_for(lambda ms: ms, what="retained status")
    late.stop()
    assert retained[0].data["state"] == "lost" and retained[0].retain


async def test_notification_triggers_an_immediate_poll(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, agent_topic("a-note")).start()
    async with EmulatedFleet.from_count(1, pjlink_class=2) as fleet:
        config = agent_config(
            "a-note", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite",
            polling={"interval_s": 600},  # only a notification can make the second poll happen soon
            discovery={"notifications": True, "notification_port": 0, "bind": "127.0.0.1"},
        )
        agent = Agent(config)
        task = await _run(agent)
        try:
            await recorder.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms), what="first state")
            fleet[0].register_notify("127.0.0.1", agent.listener.port)
            fleet[0].set_power("on")  # the emulator sends a POWR notification datagram
            await recorder.wait_for(lambda ms: any(m.data.get("power") == "on" for m in ms), 10,
                                    what="state after the notification")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
    notes = [m.data for m in recorder.snapshot() if m.data.get("event") == "notification"]
    assert notes and "Power" in notes[0]["detail"]
    assert agent.listener.received >= 1


async def test_watchdog_ready_and_pings_under_systemd_notify(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.setblocking(False)
    received: list[str] = []
    async with EmulatedFleet.from_count(1) as fleet:
        config_path = write_config(tmp_path / "agent.yaml", agent_dict(
            "a-wd", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite"))
        proc = AgentProcess(config_path, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}).start()
        try:
            def drain() -> bool:
                while True:
                    try:
                        received.append(sock.recv(4096).decode())
                    except BlockingIOError:
                        break
                return sum("WATCHDOG=1" in r for r in received) >= 2

            await wait_until(drain, 30, "watchdog pings")
            assert proc.terminate() == 0
            await wait_until(lambda: drain() and any("STOPPING=1" in r for r in received), 5, "stopping")
        finally:
            proc.kill()
            sock.close()
    assert any(r.startswith("READY=1") for r in received)
    assert received.index(next(r for r in received if r.startswith("READY=1"))) < received.index("WATCHDOG=1")


def test_no_notify_socket_means_no_watchdog() -> None:
    from avfleet.agent.watchdog import Watchdog

    assert Watchdog(environ={}).enabled is False
    wd = Watchdog(environ={"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "2000000"})
    assert wd.enabled and wd.interval_s == 1.0


async def test_clean_sigterm_publishes_offline(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(mosquitto.port, topics.status_topic("a-term")).start()
    async with EmulatedFleet.from_count(1) as fleet:
        config_path = write_config(tmp_path / "agent.yaml", agent_dict(
            "a-term", mosquitto.url, fleet.urls(), tmp_path / "o.sqlite"))
        proc = AgentProcess(config_path).start()
        try:
            await recorder.wait_for(lambda ms: any(m.data["state"] == "online" for m in ms), 30, what="online")
            assert proc.terminate() == 0, proc.log()
            await recorder.wait_for(lambda ms: ms[-1].data["state"] == "offline", 10, what="offline")
            await asyncio.sleep(0.5)  # a Will would arrive right after the disconnect; give it the chance
        finally:
            proc.kill()
    recorder.stop()
    assert [m.data["state"] for m in recorder.snapshot()] == ["online", "offline"]
    assert os.path.exists(tmp_path / "o.sqlite")


async def test_notification_pushed_on_the_control_connection_is_reported(mosquitto: MosquittoBroker,
                                                                        tmp_path: Path) -> None:
    """A Class 2 ERST notification arriving on the TCP connection (not UDP) goes the way UDP ones go."""
    recorder = Recorder(mosquitto.port, agent_topic("a-tcp-notify")).start()
    # INF1 is asked while the identity is unknown: the notification comes once, with the first poll.
    async with EmulatedFleet.from_count(1, pjlink_class=2, stray_lines={"INF1": ["notify_erst"]}) as fleet:
        config = agent_config("a-tcp-notify", mosquitto.url, fleet.urls(), tmp_path / "outbox.sqlite",
                              polling={"interval_s": 30})
        agent = Agent(config)
        task = await _run(agent)
        try:
            events = await recorder.wait_for(
                lambda ms: [m for m in ms if m.data.get("event") == "notification"], what="a notification event")
            assert "Error" in events[0].data["detail"]
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
