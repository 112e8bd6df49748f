"""The Raspberry Pi provisioning files: the systemd unit verifies and is sandboxed, the first-boot
user-data holds a config the agent accepts, and the first-boot script parses."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from avfleet.agent.config import parse_config_text
from tests.agent.helpers import avfleet_command
from tests.support.components import require_binary

PI = Path(__file__).resolve().parents[2] / "firmware_configs" / "raspberry-pi"


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_unit_restarts_pings_the_watchdog_and_is_sandboxed() -> None:
    d = _directives((PI / "avfleet-agent.service").read_text())
    assert d["Type"] == ["notify"] and d["Restart"] == ["always"]
    assert int(d["WatchdogSec"][0]) > 0
    assert d["DynamicUser"] == ["yes"] and d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"] and d["StateDirectory"] == ["avfleet-agent"]
    assert d["CapabilityBoundingSet"] == [""]
    assert any("--check-config" in v for v in d["ExecStartPre"])
    # Every credential a config may name via ${CREDENTIALS_DIRECTORY} is loaded by the unit.
    loaded = {v.split(":", 1)[0] for v in d["LoadCredential"]}
    user_data = (PI / "user-data.yaml").read_text()
    for name in ("broker-password", "broker-ca.crt", "pjlink-password"):
        assert name in loaded and f"${{CREDENTIALS_DIRECTORY}}/{name}" in user_data


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    # The unit names the Pi's install path; point it at this environment's avfleet to verify the rest.
    unit = (PI / "avfleet-agent.service").read_text().replace("/opt/avfleet/venv/bin/avfleet", avfleet_command()[0])
    path = tmp_path / "avfleet-agent.service"
    path.write_text(unit)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "avfleet-agent.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_first_boot_user_data_holds_a_valid_agent_config(tmp_path: Path) -> None:
    data = YAML(typ="safe").load((PI / "user-data.yaml").read_text())
    files = {f["path"]: f for f in data["write_files"]}
    creds = tmp_path / "credentials"
    creds.mkdir()
    for path, entry in files.items():
        if path.startswith("/etc/avfleet/credentials/"):
            assert entry["permissions"] == "0600"
            (creds / Path(path).name).write_text(entry["content"])
    config = parse_config_text(files["/etc/avfleet/agent.yaml"]["content"], source="user-data agent.yaml",
                               environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.agent_id == data["hostname"]
    assert config.broker.tls_enabled and config.broker.password


def test_first_boot_script_parses() -> None:
    sh = require_binary("sh")
    result = subprocess.run([sh, "-n", str(PI / "avfleet-firstboot.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
