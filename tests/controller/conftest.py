"""Databases for the controller tests: a SQLite file per test, and one PostgreSQL database per session.

The PostgreSQL database (`avfleet_test_<random>` on 127.0.0.1:5432, user postgres) is created and
migrated once, emptied before each test, and dropped at the end of the session.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import create_db_engine
from avfleet.controller.migrate import upgrade
from avfleet.controller.models import metadata
from tests.support.components import missing

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
API_TOKEN = "test-token-0123456789abcdef"


def pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def create_pg_database() -> str:
    name = f"avfleet_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def migrated_pg_database() -> Iterator[str]:
    """A migrated database of its own on the machine's PostgreSQL (127.0.0.1:5432), dropped afterwards."""
    if not pg_available():
        missing("PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres)")
    url = create_pg_database()
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with migrated_pg_database() as url:
        yield url


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata().sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'avfleet.db'}"
        engine = create_db_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_url")
    engine = create_db_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()
