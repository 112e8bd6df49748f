"""The controller's database for the commands that work on its data (db, users, tokens, inventory,
calendar): settings from `--config` (and `--database-url`), migrations brought up to date.

The one helper for this mechanism. Only the database matters to these commands, so settings are
built in demo mode (the checks of secrets are the controller's, not theirs); a bad setting is one
`error:` line per problem and exit 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@contextmanager
def controller_database(config: Path | None, database_url: str | None) -> Iterator[Engine]:
    from avfleet.controller.db import create_db_engine
    from avfleet.controller.migrate import upgrade
    from avfleet.controller.settings import SettingsError, load_settings

    try:
        settings = load_settings(config, database_url=database_url, demo=True)
    except SettingsError as exc:
        for line in str(exc).splitlines() or [""]:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    engine = create_db_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
