"""Issue 9.4: an agent whose outbox is lost (new SD card, reinstall) counts seq from 1 again; it is
heard, because the envelope's epoch changed. Real Mosquitto on the generated config (TLS, per-agent
password), the controller on SQLite and PostgreSQL, a real agent polling the PJLink emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import ProjectorConfig
from avfleet.protocols.pjlink.codec import PowerState
from tests.controller.ingest.harness import Api, RunningAgent, agent_config, start_controller, until
from tests.controller.processes import GeneratedBroker

AGENT = "room-a12"
DEVICE = "pj-00"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[GeneratedBroker]:
    b = GeneratedBroker(tmp_path).start()
    b.add_agent(AGENT)
    try:
        yield b
    finally:
        b.stop()


async def run_command(api: Api, action: str) -> dict:
    res = await until(lambda: api.post("/commands", {"action": action, "device_id": DEVICE, "ttl_s": 60}),
                      what=f"{action} accepted")
    assert res.status_code == 202, res.text
    command_id = res.json()["id"]
    return await until(lambda: (c := api.command(command_id))["status"] not in ("pending", "sent") and c,
                       timeout=30, what=f"result of {action}")


async def test_agent_with_a_lost_outbox_is_heard_again(broker: GeneratedBroker, db_url: str, tmp_path: Path) -> None:
    emulator = ProjectorEmulator(ProjectorConfig(warmup_s=0.2, cooldown_s=0.2))
    await emulator.start()
    controller = start_controller(broker, db_url)
    api = Api(controller)
    outbox = tmp_path / "agent" / "outbox.sqlite"
    config = agent_config(broker, AGENT, emulator.url(), outbox)
    try:
        first = await RunningAgent(config).start()
        first_epoch = first.agent.outbox.epoch
        await until(lambda: (a := api.agent(AGENT)) and a["state"] == "online", what="agent online")
        await until(lambda: (d := api.device(AGENT, DEVICE)) and d["power"] == "standby", what="first state")
        assert (await run_command(api, "power_on"))["status"] == "done"
        await until(lambda: api.device(AGENT, DEVICE)["power"] == "on", what="power on")
        await first.stop()
        await until(lambda: api.agent(AGENT)["state"] == "offline", what="agent offline after a clean stop")

        for suffix in ("", "-wal", "-shm"):  # the SD card is replaced: no outbox, seq starts at 1 again
            Path(f"{outbox}{suffix}").unlink(missing_ok=True)
        emulator.set_power(PowerState.standby)  # meanwhile someone switched the projector off by hand
        second = await RunningAgent(config).start()
        assert second.agent.outbox.epoch != first_epoch
        try:
            await until(lambda: api.agent(AGENT)["state"] == "online", what="the reinstalled agent online")
            await until(lambda: api.device(AGENT, DEVICE)["power"] == "standby", what="its new state")
            result = await run_command(api, "power_on")
            assert (result["status"], result["detail"]) != ("expired", None)
            assert result["status"] == "done", result
            await until(lambda: api.device(AGENT, DEVICE)["power"] in ("warming", "on"), what="power on again")
        finally:
            await second.stop()
        r = ReceivedMessage.__table__.c
        with controller.engine.connect() as conn:
            seqs = {e: set(conn.execute(sa.select(r.seq).where(r.epoch == e)).scalars())
                    for e in conn.execute(sa.select(r.epoch).distinct()).scalars()}
        assert set(seqs) == {first_epoch, second.agent.outbox.epoch}
        # The new outbox numbered from the start again, over seqs the old one had used: without the
        # epoch these were "duplicates" (status online, states, the command's result).
        reused = seqs[second.agent.outbox.epoch] & seqs[first_epoch]
        assert min(seqs[second.agent.outbox.epoch]) <= 2 and len(reused) >= 5
    finally:
        controller.stop()
        await emulator.stop()
