"""50,000 random and mutated payloads on an agent's topics while another agent's valid traffic flows, on the
generated broker config (per-agent credentials and ACL), with a spoofing agent among them; the controller
runs as `avfleet controller` in a subprocess with its writer process, on SQLite.

The controller keeps ingesting the valid messages (every one stored once, with its own content), refuses
every payload that breaks the contract (none of their seqs is stored), counts the refusals, and the
spoofer's messages on the victim's topics never reach it (the broker's ACL) nor does the victim's id in a
payload on another agent's topic pass (the controller's own check).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine
from avfleet.controller.fleet.models import Device, DeviceTransition, ReceivedMessage
from avfleet.controller.ingest.worker import INGEST_FILTERS
from avfleet.controller.migrate import upgrade
from avfleet.protocols.mqtt import topics
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.controller.processes import ControllerProcess, GeneratedBroker
from tests.controller.test_crash_recovery import controller_config
from tests.support.fuzz import mutants
from tests.support.waiting import wait

FUZZ_COUNT = 50_000
VALID_COUNT = 5_000
SPOOF_COUNT = 500
VICTIM, FUZZER, SPOOFER = "fuzz-victim", "fuzz-agent", "fuzz-spoofer"
RECEIVED = ReceivedMessage.__table__
HISTORY = DeviceTransition.__table__
DEVICES = Device.__table__


def victim_power(seq: int) -> str:
    return "on" if (seq // 5) % 2 else "standby"


def victim_messages() -> list[tuple[str, bytes]]:
    return [support.state(VICTIM, f"pj{seq % 5}", seq, at=seq, power=victim_power(seq))
            for seq in range(1, VALID_COUNT + 1)]


def delivered(topic: str) -> bool:
    return any(mqtt.topic_matches_sub(f, topic) for f in INGEST_FILTERS)


def seq_of(payload: bytes) -> int | None:
    try:
        seq = json.loads(payload).get("seq")
    except (ValueError, AttributeError, RecursionError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def rejected_total(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("avfleet_ingest_rejected_total{"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzzed_agent_and_spoofer_do_not_disturb_valid_traffic(tmp_path: Path) -> None:
    broker = GeneratedBroker(tmp_path).start()
    db_url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    engine = create_db_engine(db_url)
    upgrade(engine)
    controller = ControllerProcess(controller_config(tmp_path, broker, db_url, "avfleet-controller-fuzz",
                                                     agent_lost_after_s="86400"), tmp_path / "controller.log").start()
    try:
        victim = support.Publisher(broker.port, client_id=VICTIM, username=VICTIM, password=broker.add_agent(VICTIM))
        fuzzer = support.Publisher(broker.port, client_id=FUZZER, username=FUZZER, password=broker.add_agent(FUZZER))
        spoofer = support.Publisher(broker.port, client_id=SPOOFER, username=SPOOFER,
                                    password=broker.add_agent(SPOOFER))
        cases = list(mutants(FUZZER, VICTIM, FUZZ_COUNT, seed=20261201))
        valid = victim_messages()
        # The spoofer sends the victim's seqs with the opposite power, on the victim's own topics.
        spoofs = [support.state(VICTIM, f"pj{seq % 5}", seq, at=seq,
                                power="standby" if victim_power(seq) == "on" else "on")
                  for seq in range(1, SPOOF_COUNT + 1)]
        started = time.monotonic()
        threads = [threading.Thread(target=p.publish_all, args=(msgs,), daemon=True) for p, msgs in
                   ((victim, valid), (fuzzer, [(m.topic, m.payload) for m in cases]), (spoofer, spoofs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        for p in (victim, fuzzer, spoofer):
            p.flush()
        # A valid last word from the fuzzer: once it is stored, everything it sent before has been judged.
        sentinel_seq = 10_000_000
        fuzzer.publish(*support.status(FUZZER, sentinel_seq, "online", at=1))
        fuzzer.flush()

        def stored(agent: str) -> set[int]:
            with engine.connect() as conn:
                return set(conn.execute(sa.select(RECEIVED.c.seq).where(RECEIVED.c.agent_id == agent)).scalars())

        wait(lambda: sentinel_seq in stored(FUZZER) and len(stored(VICTIM)) >= VALID_COUNT, timeout=300,
             what="the valid traffic and the fuzzer's last word stored")
        elapsed = time.monotonic() - started
        for p in (victim, fuzzer, spoofer):
            p.close()

        # The valid traffic: every message once, with the victim's own content (not the spoofer's).
        assert stored(VICTIM) == set(range(1, VALID_COUNT + 1))
        with engine.connect() as conn:
            history = conn.execute(sa.select(HISTORY.c.seq, HISTORY.c.power).where(HISTORY.c.agent_id == VICTIM)).all()
            fuzz_devices = conn.execute(sa.select(DEVICES.c.device_id)
                                        .where(DEVICES.c.agent_id == FUZZER)).scalars().all()
            agents = set(conn.execute(sa.text("SELECT agent_id FROM agents")).scalars())
        assert len(history) == VALID_COUNT
        assert all(power == victim_power(seq) for seq, power in history)
        assert not stored(SPOOFER)  # it only tried to speak for the victim

        # The fuzzer: no certainly-invalid payload left a trace; the controller counted the refusals.
        fuzz_stored = stored(FUZZER)
        reached = [m for m in cases if delivered(m.topic)]
        refused = [m for m in reached if m.invalid]
        leaked = [m.how for m in refused if seq_of(m.payload) in fuzz_stored]
        assert not leaked, f"refusable payloads stored: {Counter(leaked).most_common(5)}"
        assert len(fuzz_stored) < len(reached) - len(refused) + 2
        assert rejected_total(controller.base_url) >= len(refused)
        assert all(topics.is_valid_id(d) for d in fuzz_devices)
        assert agents <= {VICTIM, FUZZER}

        # Still serving, and the rate stated for the record.
        assert controller.proc is not None and controller.proc.poll() is None
        assert httpx.get(f"{controller.base_url}/health", timeout=10).json()["database"] == "ok"
        rate = (len(reached) + VALID_COUNT) / elapsed
        print(f"fuzz: {len(cases)} mutants ({len(reached)} reached the controller, {len(refused)} certainly "
              f"invalid), {VALID_COUNT} valid, {SPOOF_COUNT} spoofed; {elapsed:.1f} s, {rate:.0f} msg/s")
    finally:
        controller.kill()
        broker.stop()
        engine.dispose()
