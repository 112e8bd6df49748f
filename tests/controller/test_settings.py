"""Settings refuse insecure secrets outside demo mode; file < environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from avfleet.controller.settings import SettingsError, load_settings

GOOD_TOKEN = "k3J9w0mZpQ7rT2vX8yB4nC6d"


def test_production_settings_refuse_missing_and_weak_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVFLEET_API_TOKENS", raising=False)
    with pytest.raises(SettingsError, match="api_tokens"):
        load_settings()
    with pytest.raises(SettingsError, match="api_tokens"):
        load_settings(api_tokens=["changeme"])
    with pytest.raises(SettingsError, match="broker_password"):
        load_settings(api_tokens=[GOOD_TOKEN])
    with pytest.raises(SettingsError, match="admin_password"):
        load_settings(api_tokens=[GOOD_TOKEN], broker_password=GOOD_TOKEN, admin_password="admin")
    ok = load_settings(api_tokens=[GOOD_TOKEN], broker_password=GOOD_TOKEN)
    assert ok.api_tokens[0].get_secret_value() == GOOD_TOKEN
    assert GOOD_TOKEN not in repr(ok)


def test_demo_mode_accepts_empty_secrets_and_defaults_to_sqlite_wal_file(tmp_path: Path) -> None:
    s = load_settings(demo=True, data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'avfleet.db'}"


def test_yaml_file_sits_below_environment_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(f"demo: true\nbroker_url: mqtt://127.0.0.1:1999\napi_port: 9001\nclient_id: from-file\n"
                   f"api_tokens: ['{GOOD_TOKEN}']\n")
    monkeypatch.setenv("AVFLEET_API_PORT", "9002")
    s = load_settings(cfg, client_id="explicit")
    assert s.broker_address() == ("127.0.0.1", 1999, False)
    assert s.api_port == 9002
    assert s.client_id == "explicit"


def test_bad_file_names_the_file_and_field(tmp_path: Path) -> None:
    cfg = tmp_path / "controller.yaml"
    cfg.write_text("demo: true\napi_port: lots\n")
    with pytest.raises(SettingsError, match=r"controller.yaml:2: api_port"):
        load_settings(cfg)
    cfg.write_text("demo: true\nbroker_ulr: mqtt://x\n")
    with pytest.raises(SettingsError, match="broker_ulr"):
        load_settings(cfg)


def test_every_problem_of_the_file_with_line_field_and_suggestion(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVFLEET_API_PORT", raising=False)
    monkeypatch.setenv("AVFLEET_BATCH_MAX_MS", "0")
    cfg = tmp_path / "controller.yaml"
    cfg.write_text("demo: true\n"
                   "api_port: lots\n"
                   "broker_ulr: mqtt://x\n"
                   "smtp:\n"
                   "  host: 127.0.0.1\n"
                   "  prot: 25\n"
                   "webhooks:\n"
                   "  - {url: 'ftp://x', secret: s}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(cfg)
    lines = str(caught.value).splitlines()
    assert sorted(lines) == sorted([
        f"{cfg}:2: api_port: Input should be a valid integer, unable to parse string as an integer",
        f"{cfg}:3: broker_ulr: unknown key (did you mean 'broker_url'?)",
        f"{cfg}:6: smtp.prot: unknown key (did you mean 'port'?)",
        f"{cfg}:8: webhooks[0].url: String should match pattern '^https?://'",
        "environment $AVFLEET_BATCH_MAX_MS: batch_max_ms: Input should be greater than or equal to 1",
    ]), lines
    assert len(caught.value.problems) == 5


@pytest.mark.parametrize(("text", "line", "words"), [
    ("demo: true\napi_port: .inf\n", 2, "api_port: inf is not a finite number"),
    ("demo: true\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n", 6, "(yaml): more than 100000 values once aliases are expanded"),
    ("demo: true\ndemo: false\n", 2, "(yaml): not valid YAML"),
    ("- demo\n", 1, "(file): the top level must be a mapping"),
])
def test_hostile_or_broken_files_are_refused_with_a_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(cfg)
    assert str(caught.value).startswith(f"{cfg}:{line}: {words}"), str(caught.value)


def test_receive_maximum_below_the_batch_size_is_refused() -> None:
    with pytest.raises(SettingsError, match="receive_maximum"):
        load_settings(demo=True, receive_maximum=100, batch_max_rows=500)


def test_controller_command_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AVFLEET_")}
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(f"database_url: sqlite:///{tmp_path / 'x.db'}\napi_tokens: ['changeme']\n")
    proc = subprocess.run([sys.executable, "-m", "avfleet.cli.main", "controller", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert "api_tokens" in proc.stderr and "changeme" not in proc.stderr
    assert not (tmp_path / "x.db").exists()  # refused before touching anything


def test_controller_command_prints_every_problem_on_its_own_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AVFLEET_")}
    cfg = tmp_path / "controller.yaml"
    cfg.write_text("demo: true\napi_prot: 8080\nbatch_max_rows: -1\n")
    proc = subprocess.run([sys.executable, "-m", "avfleet.cli.main", "controller", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert sorted(proc.stderr.splitlines()) == [
        f"error: {cfg}:2: api_prot: unknown key (did you mean 'api_port'?)",
        f"error: {cfg}:3: batch_max_rows: Input should be greater than or equal to 1",
    ]
