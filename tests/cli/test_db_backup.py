"""`avfleet db backup` and `avfleet db restore` on SQLite and PostgreSQL (real pg_dump/pg_restore):
a database with devices, history, tickets, notifications, inventory and users is backed up,
restored into an empty database, and every table compared row by row."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from avfleet.cli.main import build_app
from avfleet.controller.backup import BackupError, backup
from avfleet.controller.db import create_db_engine, write_transaction
from avfleet.controller.fleet.models import ReceivedMessage
from avfleet.controller.inventory.importer import import_csv
from avfleet.controller.migrate import current_revision, upgrade
from avfleet.controller.models import metadata
from avfleet.inventory.csvfile import COLUMNS
from tests.controller.auth.support import feed_two_municipalities, make_users, settings_for
from tests.controller.conftest import PG_ADMIN_URL, create_pg_database, drop_pg_database, pg_available
from tests.controller.inventory.support import NOW, good_row
from tests.support.components import missing
from tests.support.waiting import wait

# Tables a filled database must have rows in, so the comparison compares something.
FILLED = {"agents", "devices", "device_history", "received_messages", "tickets", "notifications",
          "inventory", "inventory_history", "users", "api_tokens"}


def subprocess_avfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avfleet.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


def avfleet(*args: str):
    """The command in this process (a new interpreter costs seconds under load); the answer has
    returncode, stdout and stderr like a subprocess's."""
    result = CliRunner().invoke(build_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    result.returncode = result.exit_code
    return result


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(a source database URL, an empty target's): SQLite files, or two new PostgreSQL databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'restored' / 'avfleet.db'}"
        return
    if not pg_available():
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    made = [create_pg_database(), create_pg_database()]
    try:
        yield made[0], made[1]
    finally:
        for url in made:
            drop_pg_database(url)


def fill(url: str) -> None:
    engine = create_db_engine(url)
    upgrade(engine)
    feed_two_municipalities(settings_for(url), engine)  # agents, devices, history, tickets, notifications
    make_users(engine)  # users and their tokens
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(good_row(n) for n in range(12))
    with write_transaction(engine) as conn:
        report = import_csv(conn, out.getvalue(), by="backup-test", now=NOW)
    assert report["written"], report["counts"]
    engine.dispose()


def snapshot(url: str) -> dict[str, list[str]]:
    """Every model table's rows, in a stable order (repr of each row, sorted)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
                    for t in metadata().sorted_tables}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_backup_then_restore_into_an_empty_database_gives_every_row_back(urls: tuple[str, str],
                                                                         tmp_path: Path) -> None:
    source, target = urls
    fill(source)
    before = snapshot(source)
    empty = {name for name in FILLED if not before[name]}
    assert not empty, f"the filled database has no rows in {sorted(empty)}"
    if target.startswith("postgresql"):
        engine = create_db_engine(target)
        upgrade(engine)  # a freshly migrated, empty database: the tables exist already
        engine.dispose()

    out = tmp_path / "backups" / "avfleet.backup"
    done = subprocess_avfleet("db", "backup", "--out", str(out), "--database-url", source)  # the entry point
    assert done.returncode == 0, done.stderr
    rows = sum(len(v) for v in before.values())
    assert f"backed up {rows} rows to {out}" in done.stdout
    assert out.is_file() and not list(out.parent.glob("*.partial"))

    restored = avfleet("db", "restore", str(out), "--database-url", target)
    assert restored.returncode == 0, restored.stderr
    assert f"restored {rows} rows from {out}" in restored.stdout
    assert snapshot(target) == before
    engine = create_db_engine(target)
    assert current_revision(engine) == current_revision(create_db_engine(source))
    engine.dispose()

    # Over data it refuses, and says how to go on; --force replaces.
    again = avfleet("db", "restore", str(out), "--database-url", target)
    assert again.returncode == 1
    assert f"the database holds {rows} rows" in again.stderr and "--force" in again.stderr
    forced = avfleet("db", "restore", str(out), "--force", "--database-url", target)
    assert forced.returncode == 0, forced.stderr
    assert f"replacing {rows} rows" in forced.stdout
    assert snapshot(target) == before


def test_backup_of_a_missing_sqlite_database_fails_and_says_so(tmp_path: Path) -> None:
    proc = avfleet("db", "backup", "--out", str(tmp_path / "b"), "--database-url", f"sqlite:///{tmp_path}/none.db")
    assert proc.returncode == 1
    assert "no SQLite database at" in proc.stderr
    proc = avfleet("db", "restore", str(tmp_path / "nothing"), "--database-url", f"sqlite:///{tmp_path}/x.db")
    assert proc.returncode == 1 and "no backup file at" in proc.stderr


def test_sqlite_backup_while_the_database_is_written_is_one_consistent_snapshot(tmp_path: Path) -> None:
    """A writer commits batches throughout the backup (as the controller's ingest does): the backup
    finishes, passes SQLite's integrity check, and holds whole batches only, between the counts
    before and after."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    table = ReceivedMessage.__table__
    batch = 200
    now = datetime.now(UTC)

    def write_batch(n: int) -> None:
        with write_transaction(engine) as conn:
            conn.execute(table.insert(), [{"agent_id": f"ag-{n}", "epoch": "0", "seq": i, "kind": "state",
                                           "received_at": now} for i in range(batch)])

    for n in range(100):  # 20,000 rows before the backup starts
        write_batch(n)
    stop, written = threading.Event(), [100]

    def writer() -> None:
        while not stop.is_set():
            write_batch(written[0])
            written[0] += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        wait(lambda: written[0] >= 105, 30, "the writer under way")
        before = written[0] * batch
        outcome = backup(engine, tmp_path / "busy.backup")
        wait(lambda: written[0] >= before // batch + 3, 30, "writes after the backup")
    finally:
        stop.set()
        thread.join(10)
    engine.dispose()
    copy = sqlite3.connect(tmp_path / "busy.backup")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = copy.execute("SELECT count(*) FROM received_messages").fetchone()[0]
    finally:
        copy.close()
    assert rows % batch == 0, "a batch was cut by the backup"
    assert before - batch <= rows <= written[0] * batch
    assert outcome.what.startswith("backed up")


def test_pg_dump_older_than_the_server_is_refused_with_the_package_to_install(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if not pg_available():
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    engine = create_db_engine(PG_ADMIN_URL)
    try:
        with pytest.raises(BackupError, match=r"pg_dump 9 cannot dump a PostgreSQL \d+ server; install "
                                              r"postgresql-client-\d+"):
            backup(engine, tmp_path / "never.backup")
    finally:
        engine.dispose()
    assert not (tmp_path / "never.backup").exists()
