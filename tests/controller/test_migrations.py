"""Migrations bring an empty SQLite or PostgreSQL database to exactly the schema of the models."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from avfleet.controller.db import create_db_engine
from avfleet.controller.migrate import alembic_config, current_revision, upgrade
from avfleet.controller.models import metadata
from tests.controller.conftest import create_pg_database, drop_pg_database, pg_available
from tests.support.components import missing

# The newest revision of the chain (0001 initial, 0002 leases, ...): an upgrade must reach it.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not pg_available():
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def test_upgrade_of_an_empty_database_matches_the_models(empty_url: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata())
            tables = set(sa.inspect(conn).get_table_names())
        assert diffs == []
        assert {"agents", "devices", "device_history", "received_messages", "inventory_records",
                "commands"} <= tables
        upgrade(engine)  # a second run is a no-op
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_db_upgrade_command(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    proc = subprocess.run(
        [sys.executable, "-m", "avfleet.cli.main", "db", "upgrade", "--database-url", f"sqlite:///{db}"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"database at revision {HEAD}" in proc.stdout
    engine = create_db_engine(f"sqlite:///{db}")
    assert current_revision(engine) == HEAD
    engine.dispose()
