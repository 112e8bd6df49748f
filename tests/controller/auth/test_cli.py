"""`avfleet users ...` and `avfleet tokens ...` on a SQLite file; the token works in the API.

One command runs as a real subprocess (the entry point, its exit code and streams); the others run
in this process through typer's runner: each new interpreter costs seconds of imports on a loaded
machine, and they would also hash the password at full cost (the package's conftest makes it cheap here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from avfleet.cli.main import build_app
from avfleet.controller.api.app import create_app
from avfleet.controller.auth.models import AuditEntry
from avfleet.controller.db import create_db_engine
from tests.controller.auth.support import settings_for


def subprocess_avfleet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avfleet.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def avfleet(*args: str):
    """The command in this process; the answer has returncode, stdout and stderr like a subprocess's."""
    result = CliRunner().invoke(build_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    result.returncode = result.exit_code
    return result


def test_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "controller.yaml"
    config.write_text(f"database_url: {url}\n")
    password = tmp_path / "pw"
    password.write_text("a-long-enough-password\n")
    db = ("--config", str(config))
    added = avfleet("users", "add", "anna", "--role", "technician", "--municipality", "Habo",
                    "--municipality", "Mullsjö", "--password-file", str(password), *db)
    assert added.returncode == 0, added.stderr
    assert "anna added: technician, Habo, Mullsjö" in added.stdout
    refused = subprocess_avfleet("users", "add", "vera", "--role", "viewer", *db)
    assert refused.returncode == 2 and "error: municipality" in refused.stderr
    created = avfleet("tokens", "create", "--user", "anna", "--name", "nightly report", *db)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("avf_") and "shown this once" in created.stderr
    listed = avfleet("tokens", "list", *db)
    assert "nightly report" in listed.stdout and token not in listed.stdout and "active" in listed.stdout
    users = avfleet("users", "list", *db)
    assert "anna\ttechnician\tHabo,Mullsjö\tactive" in users.stdout

    engine = create_db_engine(url)
    try:
        with TestClient(create_app(settings_for(url), engine)) as client:
            me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json() == {"name": "anna", "role": "technician", "municipalities": ["Habo", "Mullsjö"],
                                 "via": "token"}
            assert avfleet("tokens", "revoke", "1", *db).returncode == 0
            assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
            assert avfleet("users", "disable", "anna", *db).returncode == 0
            assert "disabled" in avfleet("users", "list", *db).stdout
        with engine.connect() as conn:
            a = AuditEntry.__table__.c
            trail = conn.execute(sa.select(a.action, a.result, a.via).order_by(a.id)).all()
        assert [(r.action, r.result) for r in trail] == [
            ("user.add", "ok"), ("user.add", "failed"), ("token.create", "ok"), ("token.revoke", "ok"),
            ("user.disable", "ok")]
        assert {r.via for r in trail} == {"cli"}
    finally:
        engine.dispose()
