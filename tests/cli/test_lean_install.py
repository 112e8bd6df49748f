"""The lean install (no `controller` extra): what works without the controller's packages, and the
one line a controller command prints instead.

Each case runs the real CLI in a fresh interpreter whose import system refuses the controller's
packages, as on a Pi where `pip install avfleet` never installed them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from avfleet.cli.extras import INSTALL_HINT, controller_modules, missing_extra_message

REPO = Path(__file__).resolve().parents[2]
MINIMAL = REPO / "firmware_configs" / "agents" / "minimal.yaml"

# A meta path finder that answers "not installed" for the controller's packages, then the CLI.
LEAN_CLI = """
import sys
BLOCKED = set(sys.argv[1].split(","))

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from avfleet.cli.main import main
sys.argv = ["avfleet", *sys.argv[2:]]
main()
"""



def extra_modules() -> list[str]:
    """Import names of every package the `controller` extra of pyproject.toml lists (and Starlette,
    which FastAPI brings): the lean install has none of them."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["controller"]
    names = {re.sub(r"[-_.]+", "_", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0)).lower() for req in extra}
    return sorted(names | {"starlette"})


HEAVY = ",".join(extra_modules())


def lean(*args: str, blocked: str = HEAVY, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LEAN_CLI, blocked, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ["controller"],
    ["db", "upgrade"],
    ["demo", "--devices", "1", "--port", "0"],
])
def test_controller_commands_name_the_extra(args: list[str]) -> None:
    done = lean(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert INSTALL_HINT in lines[0]
    assert "Traceback" not in done.stderr


def test_one_missing_package_is_enough() -> None:
    done = lean("controller", blocked="fastapi")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: this command needs the controller's packages (fastapi is not installed): {INSTALL_HINT}"
    )


@pytest.mark.parametrize("args", [
    ["agent", "--check-config", str(MINIMAL)],  # the form of issue 8
    ["agent", "--config", str(MINIMAL), "--check-config"],  # the form of DESIGN.md
])
def test_agent_check_config_works_without_the_extra(args: list[str]) -> None:
    done = lean(*args)
    assert done.returncode == 0, done.stderr
    assert f"{MINIMAL}: ok (agent jkpg-ekhagen-a12, 2 device(s)" in done.stdout


def test_agent_without_a_config_is_a_usage_error() -> None:
    done = lean("agent")
    assert done.returncode == 2
    assert "--config" in done.stderr


def test_broker_config_needs_no_extra(tmp_path: Path) -> None:
    # Writing the Mosquitto config takes only cryptography, which the agent has anyway (SNMPv3 privacy).
    done = lean("broker", "config", "--out", str(tmp_path / "broker"), "--hostname", "127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "broker" / "mosquitto.conf").is_file()


def test_other_missing_modules_are_not_blamed_on_the_extra() -> None:
    assert missing_extra_message(ModuleNotFoundError("No module named 'zeroconf'", name="zeroconf")) is None
    assert missing_extra_message(ModuleNotFoundError("no name")) is None
    message = missing_extra_message(ModuleNotFoundError("x", name="sqlalchemy.engine"))
    assert message is not None and "sqlalchemy" in message
    assert {"fastapi", "uvicorn", "sqlalchemy", "alembic", "sqlmodel"} <= controller_modules()


def test_agent_runtime_and_lean_commands_load_no_controller_module() -> None:
    probe = (
        "import sys\n"
        "import avfleet.agent.runtime, avfleet.agent.discovery, avfleet.protocols.factory\n"
        "import avfleet.protocols.pjlink.poller, avfleet.protocols.snmp.poller, avfleet.emulator.pjlink_fleet\n"
        "from avfleet.cli.main import build_app\n"
        "build_app()\n"
        f"heavy = set({HEAVY.split(',')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('avfleet.controller')"
        " or m.startswith('avfleet.demo')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
