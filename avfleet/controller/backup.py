"""Backups of the controller's database, and restoring one: `avfleet db backup` / `avfleet db restore`.

SQLite: the online backup API (sqlite3.Connection.backup), which copies one consistent snapshot
while the controller keeps writing (WAL mode: the reader blocks no writer); the backup is itself a
SQLite database file. Written
to a temporary name beside the target and renamed, so a crash never leaves half a backup under the
final name.

PostgreSQL: `pg_dump --format=custom` (a consistent snapshot in one transaction) and `pg_restore`.
pg_dump refuses a server newer than itself, so its version is checked against the server's first
and the message says which package to install. The password goes to the tools in PGPASSWORD,
never on their command line (where `ps` shows it to every user).

A restore refuses a database holding any row unless forced: restoring is for an empty (new or
freshly migrated) database; over live data it replaces everything.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    what: str  # one line for people: what was done
    path: Path
    rows: int  # rows in the model tables (of the source for a backup, of the result for a restore)


def count_rows(engine: Engine) -> int:
    """Rows in every table of the models that exists (the migration bookkeeping not counted)."""
    from avfleet.controller.models import metadata

    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return sum(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                   for table in metadata().sorted_tables if table.name in present)


def backup(engine: Engine, out: Path) -> Outcome:
    """Write a backup of the database behind `engine` to `out` (replaced if it exists)."""
    url = engine.url
    out.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_backup(_sqlite_path(url.database), out)
        kind = "SQLite online backup"
    elif url.get_backend_name() == "postgresql":
        _check_pg_dump_version(engine)
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={out}.partial",
              f"--dbname={_pg_conninfo(url)}"], url, "pg_dump")
        os.replace(f"{out}.partial", out)
        kind = "pg_dump, custom format"
    else:
        raise BackupError(f"no backup for a {url.get_backend_name()} database")
    rows = count_rows(engine)
    return Outcome(f"backed up {rows} rows to {out} ({kind}, {out.stat().st_size} bytes)", out, rows)


def restore(engine: Engine, source: Path, *, force: bool = False) -> Outcome:
    """Restore the backup `source` into the database behind `engine`, refusing one with data unless `force`."""
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    url = engine.url
    before = count_rows(engine)
    if before and not force:
        raise BackupError(f"the database holds {before} rows; restoring replaces all of them. "
                          "Restore into an empty database, or add --force to replace them")
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url.database, must_exist=False)
        engine.dispose()  # no pooled connection of ours holds the file while it is overwritten
        _sqlite_restore(source, target)
    elif url.get_backend_name() == "postgresql":
        engine.dispose()
        # --clean --if-exists: a freshly migrated (empty) database has the tables already.
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", f"--dbname={_pg_conninfo(url)}", str(source)],
             url, "pg_restore")
    else:
        raise BackupError(f"no restore for a {url.get_backend_name()} database")
    rows = count_rows(engine)
    replaced = f", replacing {before} rows" if before else ""
    return Outcome(f"restored {rows} rows from {source}{replaced}", source, rows)


# --- SQLite --------------------------------------------------------------------------------------

def _sqlite_path(database: str | None, *, must_exist: bool = True) -> Path:
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"no SQLite database at {path}")
    return path


def _sqlite_backup(source: Path, out: Path) -> None:
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(partial)
    try:
        # In one step: a backup in steps restarts whenever another connection writes between them,
        # so under a busy controller it might never end. One step reads one snapshot, and in WAL
        # mode (controller/db.py) a reader does not block the controller's writers.
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()
    os.replace(partial, out)


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{source} fails SQLite's integrity check")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as the controller runs it (controller/db.py)
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite backup: {exc}") from None
    finally:
        src.close()


# --- PostgreSQL ----------------------------------------------------------------------------------

def _pg_conninfo(url: sa.URL) -> str:
    """A libpq URL of the database without its password (that goes in PGPASSWORD)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(argv: list[str], url: sa.URL, what: str) -> None:
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    proc = subprocess.run([_tool(argv[0]), *argv[1:]], env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _major(version_text: str) -> int:
    found = re.search(r"(\d+)(?:\.(\d+))?", version_text)
    if found is None:
        raise BackupError(f"cannot read a version in {version_text!r}")
    return int(found.group(1))


def _check_pg_dump_version(engine: Engine) -> None:
    proc = subprocess.run([_tool("pg_dump"), "--version"], capture_output=True, text=True, timeout=30)
    client = _major(proc.stdout)
    with engine.connect() as conn:
        server = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10_000
    if client < server:
        raise BackupError(f"pg_dump {client} cannot dump a PostgreSQL {server} server; install "
                          f"postgresql-client-{server} (or newer)")
