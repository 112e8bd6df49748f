"""Secrets never leak: a run with every kind of secret set, every log and answer grepped for each.

`avfleet controller -v` (a subprocess, debug logging) and `avfleet agent` run against a real
Mosquitto, a password-protected PJLink emulator, an SNMPv3 device that never answers, a webhook
inbox, a fake TOPdesk and an SMTP server that offers no login (so the mail fails, and its error
goes through the logs and the API). A lamp fault opens a ticket that is sent to all three. The
secrets come from files and the environment (each kind once). Then every GET route of the API
and the CSV exports are read with the API token, and the secrets are looked for in the
controller's and the agent's output, in every answer and its headers, and in the database file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings
from avfleet.emulator.pjlink_fleet import EmulatedFleet
from avfleet.emulator.pjlink_thread import EmulatorThread
from tests.agent.helpers import AgentProcess, agent_dict, avfleet_command, write_config
from tests.support.components import free_port
from tests.support.mosquitto import MosquittoBroker
from tests.support.receivers import FakeTopdesk, SmtpInbox, WebhookInbox
from tests.support.waiting import wait

AGENT = "jkpg-secret-a12"
# Each secret is distinct and greppable; none is a substring of another's.
SECRETS = {
    "api token": "apitoken-Qz7LmP2vX9rT4wK8",
    "admin password": "adminpw-Hs3NcV6bJ1yU5eD0",
    "controller broker password": "brokerpw-Ka9FgR2mZ7tW3xQ1",
    "agent broker password": "agentpw-Lp4DsE8hN6uY2vB5",
    "PJLink password": "pjlinkpw-Rt5Ye2Uo",
    "SNMPv3 auth key": "snmpauth-Wc5TyI3oA7sG1kM9",
    "SNMPv3 priv key": "snmppriv-Xn2RbH8jF4qL6zC3",
    "SMTP password": "smtppw-Vd1PeQ5wT9mK3sJ7",
    "TOPdesk password": "topdeskpw-Gu6AzN2cR8yH4lX0",
    "webhook secret": "hooksecret-Jm3BvS7kE1pW5tD9",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("secrets")
    s = SECRETS

    def secret_file(name: str, value: str) -> str:
        path = work / name
        path.write_text(value + "\n")
        path.chmod(0o600)
        return str(path)

    broker = MosquittoBroker(work / "mosquitto").start()
    hooks, smtp = WebhookInbox().start(), SmtpInbox().start()
    topdesk = FakeTopdesk(password=s["TOPdesk password"]).start()
    emulators = EmulatorThread(lambda: EmulatedFleet.from_count(1, pjlink_class=2, manufacturer="EPSON",
                                                                 model="EB-2250U", power="on", warmup_s=0,
                                                                 password=s["PJLink password"]))
    emulators.start()
    port = free_port()
    config = {
        "database_url": f"sqlite:///{work / 'controller.db'}", "broker_url": broker.url,
        "broker_password_file": secret_file("broker.pw", s["controller broker password"]),
        "api_tokens_file": secret_file("tokens", s["api token"]),  # a file
        "api_port": port, "client_id": "secrets-test", "writer_process": False, "default_schedules": False,
        "notify_min_interval_s": 0, "notify_retry_base_s": 0.2, "notify_max_attempts": 2,
        "webhooks": [{"url": hooks.url + "/hook", "secret_file": secret_file("hook", s["webhook secret"])}],
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "username": "avfleet", "timeout_s": 5},
        "email": [{"to": ["drift@example.se"]}],
        "topdesk": {"url": topdesk.url, "username": topdesk.username,
                    "application_password_file": secret_file("topdesk", s["TOPdesk password"])},
    }
    ctl_config = write_config(work / "controller.yaml", config)
    env = {**os.environ, "AVFLEET_ADMIN_PASSWORD": s["admin password"],  # the environment, top level
           "AVFLEET_SMTP__PASSWORD": s["SMTP password"]}  # the environment, nested
    out_path = work / "controller.out"
    with out_path.open("wb") as out:
        controller = subprocess.Popen([*avfleet_command(), "controller", "--config", str(ctl_config), "-v"],
                                      stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {s['api token']}"}
    agent = None
    try:
        wait(lambda: "broker:" in out_path.read_text() or controller.poll() is not None, 60, "the ready lines")
        assert controller.poll() is None, out_path.read_text()
        emulator = emulators.fleet.emulators[0]
        agent_config = agent_dict(AGENT, broker.url, [], work / "outbox.db",
                                  broker={"password_env": "AGENT_BROKER_PW"}, devices=[
            {"id": "pj-00", "url": f"pjlink://127.0.0.1:{emulator.port}",
             "password_file": secret_file("pjlink", s["PJLink password"])},
            {"id": "pdu-01", "url": f"snmp://avfleet@127.0.0.1:{free_port()}?auth=SHA&priv=AES",
             "auth_key_file": secret_file("auth", s["SNMPv3 auth key"]),
             "priv_key_file": secret_file("priv", s["SNMPv3 priv key"])},
        ])
        agent = AgentProcess(write_config(work / "agent.yaml", agent_config),
                             env={"AGENT_BROKER_PW": s["agent broker password"]}).start()
        api = httpx.Client(base_url=base, headers=auth, timeout=15)
        wait(lambda: any(d["id"] == "pj-00" and d["power"] == "on" for d in api.get("/api/v1/devices").json()["items"]),
             60, "the projector polled with its password")
        emulators.call(lambda: emulator.set_error("lamp", 2))
        hooks.wait_for(1, timeout=60)
        wait(lambda: topdesk.incidents, 60, "a TOPdesk incident")
        wait(lambda: any(n["attempts"] >= 1 and n["last_error"]
                         for n in api.get("/api/v1/notifications").json()["items"] if n["channel"] == "email"),
             60, "the mail attempted (the server offers no login)")
        yield {"api": api, "base": base, "out": out_path, "agent": agent, "work": work, "hooks": hooks,
               "topdesk": topdesk}
        api.close()
    finally:
        if agent is not None:
            agent.kill()
        if controller.poll() is None:
            controller.terminate()
            try:
                controller.wait(20)
            except subprocess.TimeoutExpired:
                controller.kill()
        emulators.stop()
        hooks.stop()
        topdesk.stop()
        smtp.stop()
        broker.kill()


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: ids.get(m.group(1), "1"), path)


def _query(operation: dict) -> dict[str, str]:
    """Plausible values for the required query parameters, so the walk reaches the answers behind them."""
    params = {}
    for p in operation.get("parameters", []):
        if p["in"] != "query" or not p.get("required"):
            continue
        schema = p.get("schema", {})
        schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)
        if "enum" in schema:
            params[p["name"]] = schema["enum"][0]
        elif schema.get("format") == "date":
            params[p["name"]] = datetime.now(UTC).date().isoformat()
        elif schema.get("type") == "integer":
            params[p["name"]] = "1"
        else:
            params[p["name"]] = "Jönköping"
    return params


def test_no_secret_in_any_log_answer_export_or_the_database(run: dict) -> None:
    api: httpx.Client = run["api"]
    # The secrets were in use: the API took the token from its file, the admin logs in with the
    # password from the environment, the webhook is signed with the secret from its file, TOPdesk
    # accepted the password from its file, the projector answered the agent's PJLink password.
    login = httpx.post(run["base"] + "/api/v1/auth/login", json={"username": "admin",
                                                                 "password": SECRETS["admin password"]})
    assert login.status_code == 200
    hook = run["hooks"].received[0]
    expected = hmac.new(SECRETS["webhook secret"].encode(), hook.body, hashlib.sha256).hexdigest()
    assert expected in hook.headers.get("X-Avfleet-Signature", hook.headers.get("x-avfleet-signature", ""))
    assert run["topdesk"].incidents

    answers: list[str] = []
    ticket = api.get("/api/v1/tickets").json()["items"][0]
    ids = {"agent_id": AGENT, "device_id": "pj-00", "ticket_id": str(ticket["id"]), "municipality": "Jönköping",
           "name": "admin"}
    paths = api.get("/openapi.json").json()["paths"]
    walked = 0
    for path, operations in paths.items():
        if "get" not in operations or path == "/api/v1/stream":  # the stream never ends; read below
            continue
        res = api.get(_fill(path, ids), params=_query(operations["get"]))
        assert res.status_code < 500, f"GET {path}: {res.status_code} {res.text[:300]}"
        answers.append(f"GET {path} {res.status_code} {dict(res.headers)}\n{res.text}")
        walked += 1
    for extra in ("/docs", "/health", "/metrics", "/api/v1/stream?poll_ms=100"):
        if extra.startswith("/api/v1/stream"):
            with api.stream("GET", extra) as res:
                answers.append(next(res.iter_text()))
            continue
        answers.append(api.get(extra).text)
    assert walked >= 30
    assert any("export.csv" in a or "audit.csv" in a for a in answers)

    run["agent"].kill()  # its log is complete once it is gone
    logs = {"controller output": run["out"].read_text(errors="replace"), "agent output": run["agent"].log()}
    assert "dashboard:" in logs["controller output"] and "not shown" in logs["controller output"]
    assert len(logs["controller output"]) > 2000, "debug logging ran"
    database = (run["work"] / "controller.db").read_bytes().decode("utf-8", "replace")
    wal = run["work"] / "controller.db-wal"
    database += wal.read_bytes().decode("utf-8", "replace") if wal.exists() else ""
    places = {**logs, "API answers": "\n".join(answers), "database": database}
    leaks = [(what, where) for what, value in SECRETS.items() for where, text in places.items() if value in text]
    assert not leaks, f"secrets found: {leaks}"


def test_ready_lines_show_the_token_only_in_the_demo(tmp_path: Path) -> None:
    common = {"database_url": f"sqlite:///{tmp_path / 'r.db'}", "public_url": "https://av.example.se/"}
    production = Controller(load_settings(api_tokens=[SECRETS["api token"]], broker_password="x" * 20, **common),
                            migrate=False)
    lines = production.ready_lines(login=True)
    production.engine.dispose()
    assert [line.split(": ")[0] for line in lines] == ["dashboard", "api token", "broker"]
    assert SECRETS["api token"] not in "\n".join(lines)
    assert "api token: (configured in the settings; not shown)" in lines
    demo = Controller(load_settings(demo=True, **common), migrate=False)
    token = demo.settings.api_tokens[0].get_secret_value()
    assert f"api token: {token}" in demo.ready_lines(login=True)
    demo.engine.dispose()


def test_each_kind_of_secret_setting_comes_from_a_file_or_the_environment(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def file(name: str, value: str) -> Path:
        (tmp_path / name).write_text(value + "\n")
        return tmp_path / name

    monkeypatch.setenv("AVFLEET_API_TOKENS", '["from-the-environment-0123456789"]')
    monkeypatch.setenv("AVFLEET_TOPDESK__APPLICATION_PASSWORD", "topdesk-from-the-environment")
    # The nested ones in a settings file, as in production (the environment fills in beside the file).
    config = file("controller.yaml", f"""
smtp: {{host: 127.0.0.1, password_file: {file("s", "smtp-from-a-file")}}}
topdesk: {{url: "https://x.topdesk.net", username: u}}
webhooks: [{{url: "https://hooks.example.se/", secret_file: {file("w", "hook-from-a-file")}}}]
""")
    settings = load_settings(config, broker_password_file=file("b", "broker-from-a-file-0123"),
                             api_tokens_file=file("t", "token-from-a-file-0123456"),
                             admin_password_file=file("a", "admin-from-a-file-0123"))
    assert [t.get_secret_value() for t in settings.api_tokens] == ["from-the-environment-0123456789",
                                                                    "token-from-a-file-0123456"]
    assert settings.broker_secret() == "broker-from-a-file-0123"
    assert settings.admin_password is not None
    assert settings.admin_password.get_secret_value() == "admin-from-a-file-0123"
    assert settings.topdesk is not None and settings.topdesk.application_password is not None
    assert settings.topdesk.application_password.get_secret_value() == "topdesk-from-the-environment"
    assert settings.smtp is not None and settings.smtp.password_file == tmp_path / "s"
    assert settings.webhooks[0].secret is not None
    assert settings.webhooks[0].secret.get_secret_value() == "hook-from-a-file"
    monkeypatch.delenv("AVFLEET_TOPDESK__APPLICATION_PASSWORD")
    # A secret from a file is held to the same rules as one given inline.
    with pytest.raises(ValueError, match="admin_password: refusing"):
        load_settings(api_tokens_file=file("t2", "token-from-a-file-0123456"), broker_password="x" * 20,
                      admin_password_file=file("a2", "short"))
    with pytest.raises(ValueError, match=r"api_tokens_file: .* is empty"):
        load_settings(api_tokens_file=file("t3", " "), broker_password="x" * 20)
    # And none of them is in the settings' repr (what a log line of the settings would print).
    assert not any(v in repr(settings) for v in ("from-the-environment-0123456789", "token-from-a-file",
                                                  "admin-from-a-file", "topdesk-from-the-environment",
                                                  "hook-from-a-file", "broker-from-a-file"))
