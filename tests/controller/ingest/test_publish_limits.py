"""Issue 9.6: nothing from outside breaks the broker link. Mosquitto on the generated config
(max_packet_size 262144), the controller on SQLite and PostgreSQL, a real agent on the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from avfleet.controller.broker.config import MAX_PACKET_SIZE
from avfleet.controller.errors import TooLarge
from avfleet.controller.ingest.outgoing import publish_packet_size
from avfleet.controller.settings import ControllerSettings
from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.protocols.mqtt import topics
from tests.controller.ingest.harness import Api, RunningAgent, agent_config, start_controller, until
from tests.controller.processes import GeneratedBroker

AGENT = "room-b7"
DEVICE = "pj-00"
BIG_ARGS = {"input": "31", "note": "x" * 300_000}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[GeneratedBroker]:
    b = GeneratedBroker(tmp_path).start()
    b.add_agent(AGENT)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
async def emulator() -> Iterator[ProjectorEmulator]:
    emu = ProjectorEmulator(ProjectorConfig(warmup_s=0.2, cooldown_s=0.2))
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def issue(api: Api, args: dict | None = None) -> tuple[int, dict]:
    """A command with `args` (set_input), or without: power_on, which a projector in standby does at once."""
    body = {"action": "set_input", "args": args} if args else {"action": "power_on"}
    res = await until(lambda: api.post("/commands", {**body, "device_id": DEVICE, "ttl_s": 60}), what="an answer")
    return res.status_code, res.json()


async def final(api: Api, command_id: str, timeout: float = 90.0) -> dict:
    return await until(lambda: (c := api.command(command_id))["status"] not in ("pending", "sent") and c,
                       timeout=timeout, what=f"the result of {command_id}")


def test_the_setting_matches_the_generated_broker_config(tmp_path: Path) -> None:
    from avfleet.controller.broker.config import BrokerLayout, write_broker_config

    layout = BrokerLayout(tmp_path / "b", tls=False)
    controller_yaml = write_broker_config(layout)
    assert f"\nmax_packet_size {MAX_PACKET_SIZE}\n" in layout.conf.read_text()
    assert f"broker_max_packet_bytes: {MAX_PACKET_SIZE}" in controller_yaml.read_text()
    assert ControllerSettings.model_fields["broker_max_packet_bytes"].default == MAX_PACKET_SIZE


async def test_a_300_kb_command_is_refused_and_the_next_one_is_delivered_and_done(
        broker: GeneratedBroker, db_url: str, tmp_path: Path, emulator: ProjectorEmulator) -> None:
    controller = start_controller(broker, db_url)
    api = Api(controller)
    agent = await RunningAgent(agent_config(broker, AGENT, emulator.url(), tmp_path / "outbox.sqlite")).start()
    try:
        await until(lambda: api.device(AGENT, DEVICE), what="the device")
        status, body = await issue(api, BIG_ARGS)
        assert status == 413 and "broker accepts at most 262144" in body["detail"], body
        assert api.get(f"/commands?device_id={DEVICE}")["total"] == 0  # refused, so nothing stored
        assert controller.metrics.publish_failed.labels(reason="too_large")._value.get() == 1

        # Exactly the limit still goes out: the size is measured as Mosquitto counts it.
        cmd = topics.cmd_topic("room-nobody")  # no subscriber: the agent is not fed 256 KB of junk
        filler = MAX_PACKET_SIZE - publish_packet_size(cmd, b"", 1, None, True)
        while publish_packet_size(cmd, b"x" * filler, 1, None, True) > MAX_PACKET_SIZE:
            filler -= 1  # the remaining-length field itself grows with the payload
        assert controller.ingest.publish(cmd, b"x" * filler, qos=1)
        with pytest.raises(TooLarge):
            controller.ingest.publish(cmd, b"x" * (filler + 1), qos=1)

        status, body = await issue(api)
        assert status == 202, body
        assert (await final(api, body["id"]))["status"] == "done"
        assert controller.ingest.wait_connected(0) and controller.ingest.disconnects == 0
        assert "oversize" not in broker.log_path.read_text()
    finally:
        await agent.stop()
        controller.stop()


async def test_a_message_the_broker_drops_us_for_is_given_up_not_resent_for_ever(
        broker: GeneratedBroker, db_url: str, tmp_path: Path, emulator: ProjectorEmulator) -> None:
    """MQTT 3.1.1 announces no packet limit, and this controller believes in a larger one than the broker's:
    the 300 KB command goes out, Mosquitto drops the link; after two tries the command is failed and the
    link stays up for the next one."""
    controller = start_controller(broker, db_url, mqtt_protocol="3.1.1", broker_max_packet_bytes=1_000_000)
    api = Api(controller)
    agent = await RunningAgent(agent_config(broker, AGENT, emulator.url(), tmp_path / "outbox.sqlite")).start()
    try:
        await until(lambda: api.device(AGENT, DEVICE), what="the device")
        status, body = await issue(api, BIG_ARGS)
        assert status == 202 and body["status"] == "sent", body
        failed = await final(api, body["id"])
        assert failed["status"] == "failed" and "not delivered" in failed["detail"], failed
        assert broker.log_path.read_text().count("disconnected due to oversize packet") == 2

        await until(lambda: controller.ingest.wait_connected(0), what="the link back")
        status, body = await issue(api)
        assert status == 202, body
        assert (await final(api, body["id"]))["status"] == "done"
        assert controller.metrics.publish_failed.labels(reason="undelivered")._value.get() == 1
    finally:
        await agent.stop()
        controller.stop()


async def test_an_agent_drops_an_outbox_row_over_the_packet_limit_instead_of_looping(
        broker: GeneratedBroker, db_url: str, tmp_path: Path, emulator: ProjectorEmulator) -> None:
    from avfleet.protocols.mqtt.payloads import EventMessage

    controller = start_controller(broker, db_url)
    api = Api(controller)
    running = await RunningAgent(agent_config(broker, AGENT, emulator.url(), tmp_path / "outbox.sqlite")).start()
    link = running.agent.link
    try:
        await until(lambda: api.device(AGENT, DEVICE), what="the device")
        # Built past validation (which cuts an event's text to 512 characters): a row no bound stopped,
        # as a future field or a bug could make one, must still not loop at the broker's packet limit.
        seq = link.send(topics.event_topic(AGENT, DEVICE), lambda s, ts: EventMessage.model_construct(
            v=1, agent_id=AGENT, seq=s, epoch="0", ts=ts, replayed=False, device_id=DEVICE,
            event="notification", component=None, old=None, new="x" * 300_000, observed_at=ts, detail=None))
        link.flush_now()
        await until(lambda: link.stats.dropped_too_large == 1 and not running.agent.outbox.contains(seq),
                    what="the oversized row dropped")
        status, body = await issue(api)
        assert status == 202, body
        assert (await final(api, body["id"]))["status"] == "done"
        assert link.stats.connects == 1 and link.stats.disconnects == 0
        assert "oversize" not in broker.log_path.read_text()
    finally:
        await running.stop()
        controller.stop()
