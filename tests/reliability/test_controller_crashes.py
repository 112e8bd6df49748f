"""The controller SIGKILLed at its two riskiest moments, with the whole chain up: emulated projectors,
`avfleet agent`, a real Mosquitto, `avfleet controller` on PostgreSQL, a webhook receiver and an
SMTP inbox (aiosmtpd). docs/reliability.md has a row for each scenario with the measured figures.

1. During a schedule run: the run's commands are out, the agent (frozen with SIGSTOP for the
   moment so that the kill lands before any answer) executes them while the controller is dead; the
   restarted controller files the answers queued in its broker session and closes the run, once.
   The run is started through the API's run-now (the same `start_run` the `schedules.due` job calls).
2. Between a ticket's notification and its record: the webhook receiver holds the first POST, the
   controller dies before it could record `sent`; after the restart the outbox delivers again with the
   same X-Avfleet-Delivery id (at-least-once with stable ids), and the e-mail queued behind it goes
   out exactly once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.schedules import service
from avfleet.controller.schedules.models import ScheduleRun
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink import PowerState
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, write_config
from tests.controller.conftest import API_TOKEN
from tests.reliability.stack import Controllers, controller_config, scenario_database, stopwatch
from tests.support.mosquitto import MosquittoBroker
from tests.support.receivers import Received, SmtpInbox, WebhookInbox
from tests.support.waiting import wait

AGENT = "jkpg-ekhagen-a12"


class HoldingWebhook(WebhookInbox):
    """Records every request; the first one is held (no answer) until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.holding = threading.Event()

    def handle(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        self.record(request)
        if not self.holding.is_set():
            self.holding.set()
            self.release.wait(30)
        return 200, {}, b""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("crashes")
    broker = MosquittoBroker(tmp / "mosquitto").start()
    webhook = HoldingWebhook().start()
    smtp = SmtpInbox().start()
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(3, pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", warmup_s=0,
                                                                 cooldown_s=0)).start()
    # Every POWR 0 a projector receives, counted where the bytes arrive.
    presses: dict[str, int] = {}
    for n, emu in enumerate(emulators.fleet.emulators):
        def counting(on: bool, _orig=emu.press_power, _id=f"pj-{n:02d}") -> str:
            if not on:
                presses[_id] = presses.get(_id, 0) + 1
            return _orig(on)
        emu.press_power = counting
    agent_cfg = write_config(tmp / "agent.yaml", agent_dict(AGENT, broker.url, [e.url() for e in
                                                                               emulators.fleet.emulators],
                                                              tmp / "outbox.db"))
    agent = AgentProcess(agent_cfg).start()
    try:
        with scenario_database() as db_url:
            config = controller_config(
                tmp / "controller.yaml", database_url=db_url, broker_url=broker.url, client_id="reliability-crash",
                webhooks=[{"url": webhook.url + "/hook", "secret": "webhook-secret-for-tests"}],
                smtp={"host": "127.0.0.1", "port": smtp.port}, email=[{"to": ["it@jonkoping.example"]}],
                notify_min_interval_s=0, notify_retry_base_s=0.5, ticket_resolve_quiet_s=3600,
                schedule_command_ttl_s=60)
            controllers = Controllers(config, tmp)
            controllers.start()
            engine = create_db_engine(db_url)
            try:
                with controllers.api() as api:
                    wait(lambda: len([d for d in api.get("/devices").json()["items"]
                                      if d["availability"] == "online"]) == 3, 60, "three projectors online")
                settings = load_settings(database_url=db_url, broker_url=broker.url, api_tokens=[API_TOKEN],
                                         broker_password="anonymous-broker", schedule_command_ttl_s=60)
                yield {"controllers": controllers, "emulators": emulators, "agent": agent, "webhook": webhook,
                       "smtp": smtp, "presses": presses, "engine": engine, "settings": settings}
            finally:
                controllers.kill()
                engine.dispose()
    finally:
        agent.kill()
        webhook.release.set()
        webhook.stop()
        smtp.stop()
        emulators.stop()
        broker.kill()


def _freeze(agent: AgentProcess, sig: int) -> None:
    assert agent.proc is not None
    os.killpg(agent.proc.pid, sig)


def test_sigkill_during_a_schedule_run_completes_it_once(chain: dict[str, Any]) -> None:
    controllers: Controllers = chain["controllers"]
    emulators, presses, agent = chain["emulators"], chain["presses"], chain["agent"]
    targets = [{"agent_id": AGENT, "device_id": d} for d in ("pj-00", "pj-01")]
    with controllers.api() as api:
        schedule = api.post("/schedules", json={"name": "Kväll", "action": "power_off", "times": ["17:30"],
                                                "days": "every_day", "scope": {"devices": targets}}).json()
        _freeze(agent, signal.SIGSTOP)  # the commands wait in the agent's session; no answer can come yet
        try:
            started = api.post(f"/schedules/{schedule['id']}/run")
            assert started.status_code == 202, started.text
            run_id = started.json()["id"]
            wait(lambda: {c["status"] for c in api.get("/commands").json()["items"]} == {"sent"}, 10,
                 "both power commands handed to the broker")
        finally:
            controllers.kill()  # SIGKILL with the run open and both commands out
            _freeze(agent, signal.SIGCONT)
    runs = ScheduleRun.__table__
    with chain["engine"].connect() as conn:
        assert conn.execute(sa.select(runs.c.state).where(runs.c.id == run_id)).scalar_one() == "running"
    # The agent executes while the controller is dead; its answers queue in the controller's session.
    wait(lambda: all(emulators.call(lambda i=i: emulators.fleet.emulators[i].power) == PowerState.standby
                     for i in (0, 1)), 30, "both projectors off")
    # The narrower window: a run committed whose commands were never published (a kill between the
    # commit and the publish leaves exactly this; made here directly, no process can be killed there).
    with write_transaction(chain["engine"]) as conn:
        gap_run = service.start_run(conn, [], chain["settings"], action="power_off",
                                    scope={"devices": [{"agent_id": AGENT, "device_id": "pj-02"}]}, by="test")
    assert [r["result"] for r in gap_run["results"]] == ["pending"]
    since = stopwatch()
    controllers.start()
    ready_s = since()
    with controllers.api() as api:
        run = wait(lambda: (r := api.get(f"/runs/{run_id}").json())["state"] == "finished" and r, 60,
                   "the run finished after the restart")
        recovery_s = since()
        assert (run["targeted"], run["powered_off"], run["failed"], run["expired"]) == (2, 2, 0, 0)
        assert {r["device_id"]: r["result"] for r in run["results"]} == {"pj-00": "powered_off",
                                                                         "pj-01": "powered_off"}
        runs_listed = api.get(f"/schedules/{schedule['id']}/runs").json()
        assert runs_listed["total"] == 1  # neither lost nor doubled
        commands = api.get("/commands", params={"limit": 100}).json()["items"]
        assert sorted((c["device_id"], c["status"]) for c in commands if c["device_id"] != "pj-02") == [
            ("pj-00", "done"), ("pj-01", "done")]
        # The dashboard's device list shows them off.
        wait(lambda: {d["id"]: d["power"] for d in api.get("/devices").json()["items"]
                      if d["id"] in ("pj-00", "pj-01")} == {"pj-00": "standby", "pj-01": "standby"}, 20,
             "the devices shown off")
        # The restart published the open commands again: the unpublished one ran, the others were
        # refused by the agent as duplicates.
        gap = wait(lambda: (r := api.get(f"/runs/{gap_run['id']}").json())["state"] == "finished" and r, 30,
                   "the run whose commands were never published finished")
        assert (gap["powered_off"], gap["expired"]) == (1, 0)
    assert presses == {"pj-00": 1, "pj-01": 1, "pj-02": 1}  # each projector got exactly one power off
    emulators.call(lambda: emulators.fleet.emulators[2].set_power("on"))
    print(f"RELIABILITY schedule-kill ready_s={ready_s} recovery_s={recovery_s}")


def test_sigkill_between_notification_and_its_record_redelivers_with_the_same_id(chain: dict[str, Any]) -> None:
    controllers: Controllers = chain["controllers"]
    emulators, webhook, smtp = chain["emulators"], chain["webhook"], chain["smtp"]
    if controllers.current is None or controllers.current.proc.poll() is not None:
        controllers.start()
    emulators.call(lambda: emulators.fleet.emulators[2].set_error("lamp", 2))
    assert webhook.holding.wait(60), "the webhook never got the ticket's notification"
    controllers.kill()  # the receiver has the POST; the controller never learns it was delivered
    webhook.release.set()
    since = stopwatch()
    controllers.start()
    ready_s = since()
    first, again = webhook.wait_for(2, timeout=60)
    recovery_s = since()
    mails = smtp.wait_for(1, timeout=30)
    with controllers.api() as api:
        notes = wait(lambda: (items := api.get("/notifications").json()["items"])
                     and all(n["state"] == "sent" for n in items) and items, 30, "every notification sent")
        (ticket,) = api.get("/tickets", params={"kind": "lamp"}).json()["items"]
        assert ticket["state"] == "open" and ticket["device_id"] == "pj-02"
    assert sorted(n["channel"] for n in notes) == ["email", "webhook"]
    # At-least-once with stable ids: the receiver saw the delivery twice, both times with one id and body.
    assert first.headers["x-avfleet-delivery"] == again.headers["x-avfleet-delivery"]
    assert first.body == again.body and first.json()["event"] == "ticket.opened"
    assert len(webhook.received) == 2
    assert len(smtp.messages) == 1 and mails[0][1]["X-Avfleet-Delivery"] in {n["delivery_id"] for n in notes}
    print(f"RELIABILITY notification-kill ready_s={ready_s} recovery_s={recovery_s}")
