"""MQTT 5 where the broker speaks it, 3.1.1 otherwise: against amqtt, a real broker that only speaks 3.1.1
(the project's development broker), the agent falls back and delivers its birth and states."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from tests.agent.helpers import Recorder, agent_config, agent_topic
from tests.support.components import free_port, missing


@pytest.fixture
def amqtt_broker(tmp_path: Path):
    binary = Path(sys.executable).parent / "amqtt"
    if not binary.exists():
        missing("amqtt is not installed in this environment")
    port = free_port()
    conf = tmp_path / "amqtt.yaml"
    conf.write_text(
        f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n"
        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
    )
    log = (tmp_path / "amqtt.log").open("wb")
    proc = subprocess.Popen([str(binary), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"amqtt did not start: {(tmp_path / 'amqtt.log').read_text()}") from None
            time.sleep(0.1)
    try:
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


@pytest.mark.timeout(90)
async def test_falls_back_to_mqtt_311_when_the_broker_refuses_v5(amqtt_broker: int, tmp_path: Path) -> None:
    recorder = Recorder(amqtt_broker, agent_topic("a-v3"), v5=False).start()
    async with EmulatedFleet.from_count(1) as fleet:
        config = agent_config("a-v3", f"mqtt://127.0.0.1:{amqtt_broker}", fleet.urls(), tmp_path / "o.sqlite",
                              broker={"keepalive_s": 5})
        agent = Agent(config)
        task = asyncio.create_task(agent.run())
        try:
            await asyncio.wait_for(agent.ready.wait(), 10)
            await agent.link.wait_connected(40)
            await recorder.wait_for(lambda ms: any(m.topic.endswith("/birth") for m in ms)
                                    and any(m.topic.endswith("/state") for m in ms), 20, what="birth and state")
        finally:
            agent.stop()
            await asyncio.wait_for(task, 15)
    recorder.stop()
    assert agent.link.protocol == "3.1.1"
