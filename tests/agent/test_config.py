"""Agent config: the examples and the minimal config load; bad files give one clear error each, exit 2,
and the agent starts nothing (no connection reaches a listening socket where the broker would be)."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest

from avfleet.agent.config import AgentConfig, ConfigError, load_config, parse_config_text
from avfleet.protocols.device_url import PJLinkTarget, SnmpTarget
from tests.agent.helpers import avfleet_command

EXAMPLES = Path(__file__).resolve().parents[2] / "firmware_configs" / "agents"

MINIMAL = """\
version: 1
agent_id: jkpg-ekhagen-a12
site: {municipality: Jönköping, school: Ekhagens skola, room: A12}
broker: {url: "mqtt://127.0.0.1:1883"}        # mqtts://, username and password_file as needed
devices:
  - {id: pj-a12, url: "pjlink://:PASSWORD@10.1.2.3"}
  - {id: disp-a12, url: "snmp://public@10.1.2.4", profile: generic-display}
"""


def test_minimal_config_of_design_loads() -> None:
    config = parse_config_text(MINIMAL)
    assert config.agent_id == "jkpg-ekhagen-a12"
    assert config.site.room == "A12"
    assert config.broker.host_port() == ("127.0.0.1", 1883)
    pj, disp = config.devices
    assert isinstance(pj.target, PJLinkTarget) and pj.target.password == "PASSWORD"
    assert isinstance(disp.target, SnmpTarget) and disp.target.profile == "generic-display"
    # Birth lists devices without secrets.
    assert "PASSWORD" not in pj.describe().model_dump_json()
    assert "PASSWORD" not in repr(config)


def _example_environ(tmp_path: Path, text: str) -> dict[str, str]:
    creds = tmp_path / "credentials"
    creds.mkdir(exist_ok=True)
    for name in re.findall(r"\$\{CREDENTIALS_DIRECTORY\}/([\w.-]+)", text):
        (creds / name).write_text(f"secret-for-{name}-0123456789\n")
    return {"CREDENTIALS_DIRECTORY": str(creds)}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_validates(path: Path, tmp_path: Path) -> None:
    environ = _example_environ(tmp_path, path.read_text())
    config = load_config(path, environ=environ)
    assert config.version == 1 and config.devices


def test_minimal_example_is_the_design_minimal_config() -> None:
    assert (EXAMPLES / "minimal.yaml").read_text().strip() == MINIMAL.strip()


def test_secrets_come_from_files_and_environment(tmp_path: Path) -> None:
    (tmp_path / "pj.pw").write_text("s3cret-pj\n")
    (tmp_path / "broker.pw").write_text("s3cret-broker\n")
    text = """\
version: 1
agent_id: a1
site: {municipality: M, school: S}
broker: {url: "mqtts://broker.example:8884", password_file: broker.pw}
devices:
  - {id: pj1, url: "pjlink://10.0.0.1", password_file: pj.pw}
  - {id: d1, url: "snmp://10.0.0.2", password_env: D1_COMMUNITY}
  - {id: d2, url: "snmp://u@10.0.0.3?auth=SHA&priv=AES", auth_key_env: K1, priv_key_env: K2}
"""
    env = {"D1_COMMUNITY": "community-x", "K1": "authkey-123", "K2": "privkey-456"}
    config = parse_config_text(text, base_dir=tmp_path, environ=env)
    assert config.broker.password == "s3cret-broker"
    assert config.broker.host_port() == ("broker.example", 8884) and config.broker.tls_enabled
    pj, d1, d2 = config.devices
    assert pj.target.password == "s3cret-pj"
    assert d1.target.community == "community-x"
    assert d2.target.v3.auth_key == "authkey-123" and d2.target.v3.priv_key == "privkey-456"
    dumped = repr(config) + config.model_dump_json()
    for secret in ("s3cret-pj", "s3cret-broker", "community-x", "authkey-123", "privkey-456"):
        assert secret not in dumped


def test_config_can_be_built_from_python(tmp_path: Path) -> None:
    config = AgentConfig.model_validate({
        "version": 1, "agent_id": "demo-1", "site": {"municipality": "M", "school": "S"},
        "broker": {"url": "mqtt://127.0.0.1:1884"},
        "devices": [{"id": "pj1", "url": "pjlink://127.0.0.1:40001", "poll_interval_s": 5}],
        "outbox": {"path": str(tmp_path / "o.sqlite")},
    })
    assert config.poll_interval(config.devices[0]) == 5
    assert config.outbox_path() == tmp_path / "o.sqlite"


GOOD_HEAD = """\
version: 1
agent_id: a1
site: {municipality: M, school: S}
broker:
  url: "mqtt://127.0.0.1:PORT"
"""

# name: (file text, expected line, expected field text, expected words in the message)
BAD_CONFIGS: dict[str, tuple[str, int | None, str, str]] = {
    "misspelt-top-level-key": (GOOD_HEAD + "devics:\n  - {id: p, url: 'pjlink://10.0.0.1'}\n", 6, "devics",
                               "did you mean 'devices'"),
    "misspelt-nested-key": (GOOD_HEAD + "  pasword_file: /x\n", 6, "broker.pasword_file",
                            "did you mean 'password_file'"),
    "missing-agent-id": ("version: 1\nsite: {municipality: M, school: S}\nbroker: {url: 'mqtt://127.0.0.1:PORT'}\n",
                         1, "agent_id", "missing"),
    "unsupported-version": (GOOD_HEAD.replace("version: 1", "version: 2"), 1, "version", "not supported"),
    "yaml-syntax-error": (GOOD_HEAD + "devices: [ {id: p, url: x\n", None, "(yaml)", "not valid YAML"),
    "duplicate-key": (GOOD_HEAD + "agent_id: a2\n", None, "(yaml)", "duplicate"),
    "bad-device-url-scheme": (GOOD_HEAD + "devices:\n  - {id: p, url: 'http://10.0.0.1'}\n", 7, "devices[0]",
                              "unknown scheme"),
    "duplicate-device-ids": (GOOD_HEAD + "devices:\n  - {id: p, url: 'pjlink://10.0.0.1'}\n"
                             "  - {id: p, url: 'pjlink://10.0.0.2'}\n", 6, "devices", "appears twice"),
    "broker-url-scheme": (GOOD_HEAD.replace("mqtt://", "tcp://"), 5, "broker.url", "mqtt:// or mqtts://"),
    "missing-password-file": (GOOD_HEAD + "  password_file: /nonexistent/avfleet/pw\n", 4, "broker",
                              "cannot read password_file"),
    "unset-password-env": (GOOD_HEAD + "devices:\n  - {id: p, url: 'pjlink://10.0.0.1', "
                           "password_env: AVFLEET_TEST_UNSET_VAR}\n", 7, "devices[0]", "AVFLEET_TEST_UNSET_VAR"),
    "invalid-agent-id": (GOOD_HEAD.replace("agent_id: a1", "agent_id: 'room a1/x'"), 2, "agent_id", "pattern"),
    "negative-interval": (GOOD_HEAD + "polling: {interval_s: -5}\n", 6, "polling.interval_s", "greater than 0"),
    "wrong-type": (GOOD_HEAD + "polling:\n  heartbeat_s: often\n", 7, "polling.heartbeat_s", "number"),
    "empty-file": ("", 1, "(file)", "empty"),
    "top-level-list": ("- version: 1\n", 1, "(file)", "mapping"),
    "password-in-url-and-file": (GOOD_HEAD + "devices:\n  - {id: p, url: 'pjlink://:pw@10.0.0.1', "
                                 "password_env: HOME}\n", 7, "devices[0]", "already holds a password"),
    "missing-tls-ca": (GOOD_HEAD + "  tls: {ca: /nonexistent/ca.crt}\n", 6, "broker.tls", "does not exist"),
}


@pytest.mark.timeout(300)  # 18 interpreters at once: slow on a loaded 2-core machine
async def test_bad_configs_each_give_one_clear_error_exit_2_and_start_nothing(tmp_path: Path) -> None:
    # A listening socket where the broker would be: the agent must not connect to it.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(16)
    sink.setblocking(False)
    port = sink.getsockname()[1]
    paths = {}
    for name, (text, *_rest) in BAD_CONFIGS.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("PORT", str(port)))
        paths[name] = path

    async def run(path: Path) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *avfleet_command(), "agent", "--config", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 240)
        return proc.returncode, out.decode(), err.decode()

    results = dict(zip(paths, await asyncio.gather(*(run(p) for p in paths.values())), strict=True))
    try:
        sink.accept()
        connected = True
    except BlockingIOError:
        connected = False
    finally:
        sink.close()
    assert not connected, "a bad config still made the agent connect to the broker"
    assert not list(tmp_path.glob("*.sqlite*")), "a bad config still created an outbox"
    for name, (code, out, err) in results.items():
        _text, line, field, words = BAD_CONFIGS[name]
        lines = [x for x in err.splitlines() if x.startswith("config error:")]
        assert code == 2, f"{name}: exit {code}, stderr {err!r}"
        assert len(lines) == 1, f"{name}: expected one error, got {err!r}"
        message = lines[0]
        where = f"{paths[name]}:{line}:" if line else f"{paths[name]}"
        assert where in message, f"{name}: {message!r} does not name {where}"
        assert field in message, f"{name}: {message!r} does not name field {field}"
        assert words.lower() in message.lower(), f"{name}: {message!r} lacks {words!r}"
        assert "Traceback" not in err and out == ""


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "no such file" in str(info.value)


async def test_check_config_validates_and_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL)
    proc = await asyncio.create_subprocess_exec(
        *avfleet_command(), "agent", "--config", str(path), "--check-config",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert "ok (agent jkpg-ekhagen-a12, 2 device(s)" in out.decode()
    assert not list(tmp_path.glob("*.sqlite*"))


async def test_unusable_outbox_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the outbox directory should be")
    path = tmp_path / "agent.yaml"
    path.write_text(MINIMAL.replace("devices:", f"outbox: {{path: '{blocker}/outbox.sqlite'}}\ndevices:"))
    proc = await asyncio.create_subprocess_exec(
        *avfleet_command(), "agent", "--config", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "agent could not start: cannot open outbox" in err.decode() and "Traceback" not in err.decode()


# ---- hostile or broken input (issue 9.9): one exact line each, exit 2 -----------------------------

_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10 if prev else ['lol'] * 10)}]\n"
    for prev, name in zip(["", "l1", "l2", "l3", "l4"], ["l1", "l2", "l3", "l4", "l5"], strict=True)
)
HOSTILE: dict[str, tuple[str, str]] = {
    # name: (text after GOOD_HEAD, exact message after "PATH:")
    "alias-bomb": (_BOMB, "10: (yaml): more than 100000 values once aliases are expanded (an alias bomb?); refused"),
    "deep-flow": ("polling: " + "[" * 5000 + "]" * 5000 + "\n", "6: (yaml): nested deeper than 32 levels; refused"),
    "deep-block": ("".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n",
                   "38: (yaml): nested deeper than 32 levels; refused"),
    "nan": ("polling: {interval_s: .nan}\n", "6: polling.interval_s: nan is not a finite number"),
    "inf": ("polling:\n  heartbeat_s: -.inf\n", "7: polling.heartbeat_s: -inf is not a finite number"),
    "url-trailing-garbage": ("devices:\n  - {id: p, url: 'pjlink://10.0.0.1:4352/x'}\n",
                             "7: devices[0]: url: pjlink://10.0.0.1:4352: unexpected text after the host and port "
                             "('/x')"),
    "url-bad-port": ("devices:\n  - {id: p, url: 'pjlink://10.0.0.1:43x52'}\n",
                     "7: devices[0]: url: pjlink://10.0.0.1: the port is not a number between 1 and 65535"),
    "url-bad-percent": ("devices:\n  - {id: p, url: 'pjlink://:pw%zz@10.0.0.1'}\n",
                        "7: devices[0]: url: pjlink://***@10.0.0.1: bad percent-encoding in the password "
                        "(% takes two hex digits)"),
    "misspelt-with-suggestion": ("polling: {intervall_s: 5}\n",
                                 "6: polling.intervall_s: unknown key (did you mean 'interval_s'?)"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_one_exact_error(name: str) -> None:
    text, message = HOSTILE[name]
    with pytest.raises(ConfigError) as info:
        parse_config_text(GOOD_HEAD.replace("PORT", "1883") + text, source="agent.yaml")
    assert str(info.value) == f"agent.yaml:{message}"


def test_all_problems_are_reported_not_only_the_first() -> None:
    text = GOOD_HEAD.replace("PORT", "1883") + "polling: {interval_s: -1, jiter: 0.2}\nhealth: {interval_s: x}\n"
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, source="agent.yaml")
    assert str(info.value).splitlines() == [
        "agent.yaml:6: polling.interval_s: Input should be greater than 0",
        "agent.yaml:6: polling.jiter: unknown key (did you mean 'jitter'?)",
        "agent.yaml:7: health.interval_s: Input should be a valid number, unable to parse string as a number",
    ]


@pytest.mark.timeout(120)
async def test_hostile_files_exit_2_with_one_line(tmp_path: Path) -> None:
    async def run(name: str) -> tuple[str, int, str, str]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(GOOD_HEAD.replace("PORT", "1883") + HOSTILE[name][0])
        proc = await asyncio.create_subprocess_exec(
            *avfleet_command(), "agent", "--config", str(path), "--check-config",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return str(path), proc.returncode, out.decode(), err.decode()

    names = ["alias-bomb", "deep-flow", "nan", "url-trailing-garbage"]
    for name, (path, code, out, err) in zip(names, await asyncio.gather(*(run(n) for n in names)), strict=True):
        assert (code, out) == (2, ""), (name, err)
        assert err.splitlines() == [f"config error: {path}:{HOSTILE[name][1]}"], name


# ---- the default outbox path (issue 8.8) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/avfleet-agent:/var/lib/other", "XDG_STATE_HOME": "/x", "HOME": "/h"},
         "/var/lib/avfleet-agent/outbox.sqlite"),
        ({"XDG_STATE_HOME": "/srv/state", "HOME": "/h"}, "/srv/state/avfleet/outbox-jkpg-ekhagen-a12.sqlite"),
        ({"XDG_STATE_HOME": "relative/dir", "HOME": "/h"}, "/h/.local/state/avfleet/outbox-jkpg-ekhagen-a12.sqlite"),
        ({"HOME": "/h"}, "/h/.local/state/avfleet/outbox-jkpg-ekhagen-a12.sqlite"),
    ],
    ids=["systemd", "xdg", "xdg-relative-ignored", "home"],
)
def test_default_outbox_is_never_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: str
) -> None:
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert parse_config_text(MINIMAL).outbox_path() == Path(expected)


async def test_check_config_prints_the_outbox_path_it_will_use(tmp_path: Path) -> None:
    import os

    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL)
    base = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
    cases = {
        "systemd": ({"STATE_DIRECTORY": str(tmp_path / "sd")}, tmp_path / "sd" / "outbox.sqlite"),
        "xdg": ({"XDG_STATE_HOME": str(tmp_path / "xdg")}, tmp_path / "xdg/avfleet/outbox-jkpg-ekhagen-a12.sqlite"),
        "home": ({"HOME": str(tmp_path / "home")},
                 tmp_path / "home/.local/state/avfleet/outbox-jkpg-ekhagen-a12.sqlite"),
    }

    async def run(extra: dict[str, str]) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *avfleet_command(), "agent", "--config", str(path), "--check-config", env={**base, **extra},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode() + err.decode()

    results = await asyncio.gather(*(run(extra) for extra, _ in cases.values()))
    for (name, (_extra, expected)), (code, out) in zip(cases.items(), results, strict=True):
        assert code == 0, (name, out)
        assert f"outbox {expected})" in out, (name, out)
    assert not list(tmp_path.rglob("*.sqlite*")), "--check-config created an outbox"


def test_a_community_snmp_cannot_send_is_refused_at_load() -> None:
    text = GOOD_HEAD.replace("PORT", "1883") + "devices:\n  - {id: d, url: 'snmp://10.0.0.2', password_env: C}\n"
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, source="agent.yaml", environ={"C": "pub€"})
    assert str(info.value) == ("agent.yaml:7: devices[0]: password_file/_env: the community or user name holds '€', "
                               "which SNMP cannot send (only characters up to U+00FF)")


def test_a_clustered_broker_is_a_list_of_urls_tried_in_order() -> None:
    text = MINIMAL.replace('broker: {url: "mqtt://127.0.0.1:1883"}',
                           'broker: {urls: ["mqtt://127.0.0.1:1883", "mqtt://127.0.0.2:1884", "mqtt://localhost"]}')
    config = parse_config_text(text)
    assert config.broker.addresses() == [("127.0.0.1", 1883), ("127.0.0.2", 1884), ("localhost", 1883)]
    assert config.broker.host_port() == ("127.0.0.1", 1883) and not config.broker.tls_enabled


@pytest.mark.parametrize(("broker", "problem"), [
    ('{url: "mqtt://a", urls: ["mqtt://b"]}', "not both"),
    ('{urls: ["mqtt://a", "http://b"]}', "urls entry 2 (http://b): broker url must start with mqtt://"),
    ('{urls: ["mqtt://a", "mqtts://b"]}', "mix mqtt:// and mqtts://"),
    ("{urls: []}", "give broker.url (or broker.urls)"),
])
def test_a_bad_broker_list_names_its_problem(broker: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text(MINIMAL.replace('{url: "mqtt://127.0.0.1:1883"}', broker))
    assert problem in str(info.value)
