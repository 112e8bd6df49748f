"""Upgrades from every earlier revision to the newest, with data in the database.

For each revision 0001..head, on SQLite and PostgreSQL: an empty database is brought to that
revision, every table then present gets a row by plain SQL (values chosen from the reflected column
types, foreign keys pointing at the rows inserted before), the database is upgraded to the newest
revision, and each row must still be there with its values, in a schema equal to the models'
(the check of tests/controller/test_migrations.py). The rows are built from the schema itself, so a
new migration is covered without editing this test; one that rewrites data on purpose adds its
expectation here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from avfleet.controller.db import create_db_engine
from avfleet.controller.migrate import alembic_config, current_revision, upgrade
from avfleet.controller.models import metadata
from tests.controller.conftest import create_pg_database, drop_pg_database, pg_available
from tests.controller.test_migrations import HEAD
from tests.support.components import missing

REVISIONS = [s.revision for s in reversed(list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()))]
WHEN = datetime(2026, 1, 5, 8, 30, 0)  # naive UTC, as the controller stores it
ON = date(2026, 1, 5)


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """One PostgreSQL database for the module, emptied to nothing (schema and all) before each test."""
    if not pg_available():
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url = request.getfixturevalue("pg_database")
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # faster than a new database per revision
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def _value(table: str, column: dict[str, Any]) -> Any:
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 7
    if isinstance(kind, (sa.Float, sa.Numeric)):
        return 2.5
    if isinstance(kind, sa.DateTime):
        return WHEN
    if isinstance(kind, sa.Date):
        return ON
    if isinstance(kind, sa.JSON):
        return json.dumps({"from": table})
    if isinstance(kind, sa.String):  # Text and VARCHAR too
        text = f"{table}.{column['name']}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(f"{table}.{column['name']}: no test value for type {kind!r}; add one to _value")


def insert_a_row_everywhere(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """One row in every table (alembic's own aside), in foreign-key order; answers what was inserted."""
    inspector = sa.inspect(conn)
    names = [n for n in inspector.get_table_names() if n != "alembic_version"]
    order = [n for n, _ in inspector.get_sorted_table_and_fkc_names() if n in names]
    inserted: dict[str, dict[str, Any]] = {}
    for table in order:
        pk = inspector.get_pk_constraint(table)["constrained_columns"]
        references = {col: (fk["referred_table"], ref) for fk in inspector.get_foreign_keys(table)
                      for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)}
        row: dict[str, Any] = {}
        for column in inspector.get_columns(table):
            name = column["name"]
            if name in references:
                ref_table, ref_column = references[name]
                row[name] = conn.execute(sa.text(f'SELECT "{ref_column}" FROM "{ref_table}"')).scalar_one()
            elif pk == [name] and isinstance(column["type"], sa.Integer):
                continue  # the database numbers it (1 in an empty table)
            else:
                row[name] = _value(table, column)
        columns = ", ".join(f'"{c}"' for c in row)
        conn.execute(sa.text(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join(":" + c for c in row)})'), row)
        inserted[table] = row
    return inserted


def _same(stored: Any, given: Any) -> bool:
    if isinstance(given, str) and given.startswith("{") and not isinstance(stored, str):
        return stored == json.loads(given)
    if isinstance(stored, str) and isinstance(given, str) and given.startswith("{"):
        return json.loads(stored) == json.loads(given)
    if isinstance(stored, datetime) and stored.tzinfo is not None:
        stored = stored.replace(tzinfo=None)
    if isinstance(given, datetime) and isinstance(stored, str):
        return stored.startswith(given.isoformat(sep=" "))
    if isinstance(given, date) and isinstance(stored, str):
        return stored == given.isoformat()
    if isinstance(given, float):
        return abs(float(stored) - given) < 1e-9
    return stored == given


@pytest.mark.slow
@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrade_from_revision_with_data_keeps_it_and_matches_the_models(empty_url: str, revision: str) -> None:
    engine = create_db_engine(empty_url)
    try:
        upgrade(engine, revision)
        assert current_revision(engine) == revision
        with engine.begin() as conn:
            inserted = insert_a_row_everywhere(conn)
        assert inserted, "no tables at this revision"
        upgrade(engine)
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            for table, row in inserted.items():
                stored = [dict(r._mapping) for r in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
                assert len(stored) == 1, f"{table}: {len(stored)} rows after the upgrade from {revision}"
                changed = {c: (stored[0].get(c), v) for c, v in row.items() if not _same(stored[0].get(c), v)}
                assert not changed, f"{table}: values changed by the upgrade from {revision}: {changed}"
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata())
        assert diffs == []
    finally:
        engine.dispose()


def test_every_revision_is_covered() -> None:
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == HEAD
    assert len(REVISIONS) == len(set(REVISIONS)) >= 9
