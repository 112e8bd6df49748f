"""Commands end to end: a controller-side client publishes on the agent's cmd topic through a real Mosquitto;
the agent runs them against emulated projectors (real PJLink bytes) and answers on cmd/result."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from avfleet.agent.commands import CommandHandler
from avfleet.agent.config import AgentConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.agent.outbox import Outbox
from avfleet.agent.runtime import Agent
from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.emulator.pjlink_config import FaultConfig, ProjectorConfig
from avfleet.protocols.mqtt import topics
from avfleet.protocols.mqtt.payloads import CommandResult
from avfleet.protocols.pjlink.codec import PowerState
from avfleet.protocols.status import Availability, DeviceStatus, Kind, Power
from tests.agent.helpers import Recorder, agent_config, agent_topic, command, wait_until
from tests.support.mosquitto import MosquittoBroker

AGENT = "a-cmd"


@pytest.fixture
async def setup(mosquitto: MosquittoBroker, tmp_path: Path):
    emulators = {
        "ok": ProjectorEmulator(ProjectorConfig(warmup_s=0.3, cooldown_s=0.3)),
        "broken": ProjectorEmulator(ProjectorConfig(faults=FaultConfig(lamp_failure=True))),
        "slow": ProjectorEmulator(ProjectorConfig(warmup_s=1.5, cooldown_s=0.3)),
        "dup": ProjectorEmulator(ProjectorConfig(warmup_s=0.1)),
    }
    for emu in emulators.values():
        await emu.start()
    config = agent_config(AGENT, mosquitto.url, [], tmp_path / "o.sqlite")
    config = AgentConfig.model_validate({
        **config.model_dump(mode="json", exclude={"devices"}),
        "outbox": {"path": str(tmp_path / "o.sqlite"), "commit_interval_s": 0.1},
        "devices": [{"id": f"pj-{name}", "url": emu.url()} for name, emu in emulators.items()],
    })
    agent = Agent(config)
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.ready.wait(), 10)
    recorder = Recorder(mosquitto.port, agent_topic(AGENT), client_id="controller").start()
    await recorder.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= 4, what="first states")
    try:
        yield agent, emulators, recorder
    finally:
        recorder.stop()
        agent.stop()
        await asyncio.wait_for(task, 15)
        for emu in emulators.values():
            await emu.stop()


def results(recorder: Recorder, command_id: str) -> list[CommandResult]:
    return [CommandResult.model_validate(m.data) for m in recorder.snapshot()
            if m.topic == topics.cmd_result_topic(AGENT) and m.data.get("command_id") == command_id]


async def send_and_wait(recorder: Recorder, payload, command_id: str, count: int = 1,
                        timeout: float = 15.0) -> list[CommandResult]:
    recorder.publish(topics.cmd_topic(AGENT), payload)
    await recorder.wait_for(lambda _ms: len(results(recorder, command_id)) >= count, timeout,
                            what=f"result of {command_id}")
    return results(recorder, command_id)


async def test_power_on_done_and_state_follows(setup) -> None:
    _agent, emus, recorder = setup
    (result,) = await send_and_wait(recorder, command("c-on", "pj-ok", "power_on"), "c-on")
    assert result.status == "done" and result.device_id == "pj-ok"
    assert emus["ok"].power in (PowerState.warming, PowerState.on)
    # The device is polled at once after the command: its new state follows without waiting a poll interval.
    await recorder.wait_for(lambda ms: any(m.topic == topics.state_topic(AGENT, "pj-ok")
                                           and m.data["power"] in ("warming", "on") for m in ms), 5,
                            what="state after power_on")
    (mute,) = await send_and_wait(recorder, command("c-input", "pj-ok", "set_input", {"input": "31"}), "c-input")
    assert mute.status in ("done", "failed")  # warming may refuse with ERR3 → retried until done
    await wait_until(lambda: emus["ok"].power == PowerState.on, 5, "warm-up over")
    (inp,) = await send_and_wait(recorder, command("c-input2", "pj-ok", "set_input", {"input": "11"}), "c-input2")
    assert inp.status == "done" and emus["ok"].input == "11"
    (av,) = await send_and_wait(recorder, command("c-mute", "pj-ok", "av_mute", {"on": True}), "c-mute")
    assert av.status == "done" and emus["ok"].video_muted and emus["ok"].audio_muted


async def test_device_error_gives_failed(setup) -> None:
    _agent, emus, recorder = setup
    (result,) = await send_and_wait(recorder, command("c-broken", "pj-broken", "power_on"), "c-broken")
    assert result.status == "failed"
    assert "ERR4" in result.detail and emus["broken"].power == PowerState.standby


async def test_expired_command_is_never_executed(setup) -> None:
    agent, emus, recorder = setup
    (result,) = await send_and_wait(recorder, command("c-old", "pj-ok", "power_on", expires_in=-5), "c-old")
    assert result.status == "expired"
    assert emus["ok"].power == PowerState.standby
    assert not [e for e in agent.commands.executed if e[0] == "c-old"]


@pytest.mark.parametrize(("payload", "command_id", "words"), [
    (b"{not json", "unknown", "not JSON"),
    (b"[1, 2]", "unknown", "JSON object"),
    ({**command("c-unknown-action", "pj-ok", "power_on"), "action": "self_destruct"}, "c-unknown-action", "action"),
    (command("c-no-device", "pj-nowhere", "power_on"), "c-no-device", "unknown device"),
    (command("c-bad-args", "pj-ok", "set_input"), "c-bad-args", "args.input"),
    (command("c-extra-args", "pj-ok", "power_on", {"force": True}), "c-extra-args", "force"),
    ({**command("c-missing", "pj-ok", "power_on"), "expires_at": None}, "c-missing", "expires_at"),
    (command("c-needs-device", None, "power_off"), "c-needs-device", "needs a device_id"),
])
async def test_malformed_or_unknown_commands_are_rejected(setup, payload, command_id, words) -> None:
    agent, emus, recorder = setup
    if isinstance(payload, dict) and payload.get("expires_at") is not None:
        # Built at collection time: give it fresh times, or a long run before this test expires it.
        fresh = command(command_id, None, "refresh")
        payload = {**payload, "issued_at": fresh["issued_at"], "expires_at": fresh["expires_at"]}
    (result,) = await send_and_wait(recorder, payload, command_id)
    assert result.status == "rejected" and words.lower() in result.detail.lower()
    assert not agent.commands.executed
    assert all(e.power == PowerState.standby for name, e in emus.items())


def _deep_command(command_id: str, depth: int) -> bytes:
    """A command whose args hold `depth` nested arrays: json.loads alone would raise RecursionError."""
    fields = {k: v for k, v in command(command_id, "pj-ok", "power_on").items() if k != "args"}
    head = json.dumps({**fields, "args": {}})[:-3]  # args last; drop its '{}}'
    return (head + '{"x": ' + "[" * depth + "]" * depth + "}}").encode()


async def test_a_command_nested_200000_deep_is_rejected_and_the_agent_goes_on(setup) -> None:
    agent, emus, recorder = setup
    (deep,) = await send_and_wait(recorder, _deep_command("c-deep", 200_000), "c-deep")
    assert (deep.status, deep.device_id, deep.detail) == (
        "rejected", "pj-ok", "not a command: JSON nested deeper than 16 levels")
    (bare,) = await send_and_wait(recorder, b"[" * 200_000 + b"]" * 200_000, "unknown")
    assert (bare.status, bare.device_id, bare.detail) == (
        "rejected", None, "not a command: JSON nested deeper than 16 levels")
    assert not agent.commands.executed and emus["ok"].power == PowerState.standby
    # The link and the handler survive: the next good command runs.
    (good,) = await send_and_wait(recorder, command("c-after-deep", "pj-ok", "power_on"), "c-after-deep")
    assert good.status == "done"


def test_depth_bound_is_exact_and_ignores_brackets_in_strings() -> None:
    from avfleet.agent.commands import MAX_JSON_DEPTH, CommandRejected

    ok = {**command("c-ok", "pj-ok", "set_input"), "args": {"input": "[[[[" * 40}}
    assert CommandHandler._parse(json.dumps(ok).encode()).args["input"] == "[[[[" * 40
    # The command object and args are two levels; MAX_JSON_DEPTH - 2 more still parse, one more does not.
    inner = MAX_JSON_DEPTH - 2
    assert CommandHandler._parse(_deep_command("c-edge", inner)).command_id == "c-edge"
    with pytest.raises(CommandRejected, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        CommandHandler._parse(_deep_command("c-over", inner + 1))
    assert CommandHandler._ids_from_raw(_deep_command("c-over", 10_000)) == ("c-over", "pj-ok")


async def test_repeated_command_id_runs_once(setup) -> None:
    agent, emus, recorder = setup
    (first,) = await send_and_wait(recorder, command("c-dup", "pj-dup", "power_on"), "c-dup")
    assert first.status == "done"
    await wait_until(lambda: emus["dup"].power == PowerState.on, 5, "pj-dup on")
    emus["dup"].set_power("standby")  # if the repeat ran, the projector would warm up again
    _first, second = await send_and_wait(recorder, command("c-dup", "pj-dup", "power_on"), "c-dup", count=2)
    assert second.status == "done" and "duplicate" in second.detail
    await asyncio.sleep(0.5)
    assert emus["dup"].power == PowerState.standby
    assert [e for e in agent.commands.executed if e[0] == "c-dup"] == [("c-dup", "pj-dup", "power_on")]


async def test_power_off_during_warm_up_waits_and_retries(setup) -> None:
    _agent, emus, recorder = setup
    (on,) = await send_and_wait(recorder, command("c-slow-on", "pj-slow", "power_on"), "c-slow-on")
    assert on.status == "done" and emus["slow"].power == PowerState.warming
    # ERR3 while warming: the agent retries every 0.2 s until the warm-up is over, well within the expiry.
    (off,) = await send_and_wait(recorder, command("c-slow-off", "pj-slow", "power_off", expires_in=20),
                                 "c-slow-off", timeout=20)
    assert off.status == "done" and "attempts" in off.detail
    assert emus["slow"].power in (PowerState.cooling, PowerState.standby)


async def test_power_off_during_warm_up_expires_when_warm_up_outlasts_it(setup) -> None:
    _agent, emus, recorder = setup
    await send_and_wait(recorder, command("c-slow-on2", "pj-slow", "power_on"), "c-slow-on2")
    (off,) = await send_and_wait(recorder, command("c-slow-off2", "pj-slow", "power_off", expires_in=0.6),
                                 "c-slow-off2")
    assert off.status == "expired" and "busy" in off.detail
    assert emus["slow"].power in (PowerState.warming, PowerState.on)


async def test_refresh_without_device_resends_birth_and_states(setup) -> None:
    _agent, _emus, recorder = setup
    births_before = len(recorder.where(lambda m: m.topic.endswith("/birth")))
    states_before = len(recorder.where(lambda m: m.topic.endswith("/state")))
    (result,) = await send_and_wait(recorder, command("c-refresh", None, "refresh"), "c-refresh")
    assert result.status == "done"
    await recorder.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= states_before + 4, 5,
                            what="states again")
    assert len(recorder.where(lambda m: m.topic.endswith("/birth"))) == births_before + 1


# ---- outlet safety: rejected before anything reaches a device, so no PDU is needed ----------------

async def test_never_cut_outlet_power_to_a_projector_that_is_on_or_cooling(tmp_path: Path) -> None:
    config = AgentConfig.model_validate({
        "version": 1, "agent_id": "a-pdu", "site": {"municipality": "M", "school": "S"},
        "broker": {"url": "mqtt://127.0.0.1:1"},
        "devices": [
            {"id": "pj", "url": "pjlink://127.0.0.1:1", "kind": "projector"},
            {"id": "pdu", "url": "snmp://127.0.0.1:1", "kind": "pdu", "feeds": {1: "pj"}},
        ],
    })
    outbox = Outbox(tmp_path / "o.sqlite").open()
    answers: list[tuple] = []

    class RecordingPdu:  # in-test stand-in: no PDU emulator speaks outlet control here; records what reaches it
        device_id = "pdu"

        def __init__(self) -> None:
            self.calls: list = []

        async def execute(self, action, args):
            self.calls.append((action, args))

        async def poll(self):
            raise AssertionError("not polled in this test")

        async def close(self):
            pass

    pdu = RecordingPdu()
    coordinators = {
        "pj": DeviceCoordinator("pj", pdu, _NullReporter(), polling=config.polling, interval_s=1),
        "pdu": DeviceCoordinator("pdu", pdu, _NullReporter(), polling=config.polling, interval_s=1),
    }

    async def refresh_all() -> None:
        return None

    handler = CommandHandler(config, outbox, coordinators, lambda *a: answers.append(a), refresh_all)
    for n, power in enumerate((None, Power.on, Power.cooling, Power.warming, Power.standby)):
        if power is not None:
            coordinators["pj"].handle(DeviceStatus(device_id="pj", kind=Kind.projector, protocol="pjlink",
                                                   availability=Availability.online, power=power))
        handler.handle_raw(_json(command(f"cut-{n}", "pdu", "power_off", {"outlet": 1})))
        await handler.wait_idle()
        if power == Power.standby:
            assert answers[-1][2] == "done" and pdu.calls == [("power_off", {"outlet": 1})]
        else:
            assert answers[-1][2] == "rejected", (power, answers[-1])
            assert "outlet 1 feeds projector 'pj'" in answers[-1][3] and not pdu.calls
    outbox.close()


class _NullReporter:
    def state(self, status) -> None:
        pass

    def event(self, *args, **kwargs) -> None:
        pass


def _json(data) -> bytes:
    import json

    return json.dumps(data).encode()
