"""Engine factory: SQLite (WAL, synchronous=NORMAL, foreign keys) or PostgreSQL through psycopg 3."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url


class DatabaseError(RuntimeError):
    """The database cannot be reached or used; the message says which URL (without its password)."""


def normalize_url(url: str) -> str:
    """Accept postgresql:// and postgres:// and send them through psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is switched off (see _sqlite_pragmas); we issue BEGIN.
        # Writers take the lock up front (BEGIN IMMEDIATE): a deferred transaction that read first
        # cannot upgrade to a writer once another connection committed (SQLITE_BUSY_SNAPSHOT).
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)
    raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


WRITE_OPTION = "avfleet_write"


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its first statement."""
    with _turnstile(engine), engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


class _Turnstile:
    """An flock on a file beside a SQLite database, taken around every `write_transaction`.

    SQLite's busy handler polls (sleeping up to 100 ms between tries), so a process that commits
    back to back, as the ingest writer does during a 5,000-command fan-out, could starve the jobs'
    and the API's writers past their 30 s busy timeout ("database is locked"). A blocked flock is
    woken when its holder lets go, before the writer's next batch is parsed: the writers take turns.
    A thread already inside a write_transaction does not wait for itself. The kernel releases the
    lock of a process that dies. Writers outside write_transaction still meet SQLite's busy timeout.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self._local, "held", False):
            yield
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._local.held = True
            try:
                yield
            finally:
                self._local.held = False
        finally:
            os.close(fd)  # closing the file releases the flock


_TURNSTILES: dict[str, _Turnstile] = {}
_TURNSTILES_LOCK = threading.Lock()


def _turnstile(engine: Engine) -> Any:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return nullcontext()
    path = str(Path(database).resolve()) + "-writers.lock"
    with _TURNSTILES_LOCK:
        turnstile = _TURNSTILES.get(path) or _TURNSTILES.setdefault(path, _Turnstile(path))
    return turnstile.held()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # autocommit at the driver; SQLAlchemy's begin event issues BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC on every backend and hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)
