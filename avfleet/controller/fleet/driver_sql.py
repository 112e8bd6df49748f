"""Hot-path statements sent straight to the DBAPI driver (sqlite3 or psycopg 3).

The ingest applies tens of thousands of rows per second; SQLAlchemy's per-parameter processing
cost more than the statements themselves (docs/benchmarks.md). These helpers write exactly what
the SQLAlchemy column types would: naive UTC timestamps (on SQLite as text in SQLAlchemy's own
`YYYY-MM-DD HH:MM:SS.ffffff` format, so ORM/Core reads and SQL comparisons stay consistent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, CursorResult


class DriverSQL:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def json_mark(self) -> str:
        return "?" if self.sqlite else "%s::json"

    def row_in(self, columns: str, rows: int, width: int) -> str:
        """`(a, b) IN (...)` for `rows` tuples of `width` parameters."""
        one = f"({self.marks(width)})"
        values = ", ".join([one] * rows)
        return f"({columns}) IN (VALUES {values})" if self.sqlite else f"({columns}) IN ({values})"

    def time(self, value: datetime | None) -> Any:
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds") if self.sqlite else naive

    @staticmethod
    def read_time(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> CursorResult:
        return self.conn.exec_driver_sql(sql, tuple(params))

    def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if rows:
            self.conn.exec_driver_sql(sql, rows)
