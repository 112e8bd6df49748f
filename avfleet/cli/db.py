"""`avfleet db backup --out FILE` and `avfleet db restore FILE` (beside `db upgrade`, cli/controller.py).

Unlike the other database commands these do not migrate on the way in: a backup copies the
database as it is, and a restore migrates only what it restored (an older backup is brought to the
newest schema after it is in place).
"""

from __future__ import annotations

from pathlib import Path

import typer


def _engine(config: Path | None, database_url: str | None):  # -> Engine
    from avfleet.controller.db import create_db_engine
    from avfleet.controller.settings import SettingsError, load_settings

    try:
        settings = load_settings(config, database_url=database_url, demo=True)  # only the database matters
    except SettingsError as exc:
        for line in str(exc).splitlines() or [""]:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None
    return create_db_engine(settings.resolved_database_url)


def register(db: typer.Typer) -> None:
    @db.command("backup")
    def db_backup(out: Path = typer.Option(..., "--out", help="The backup file to write (replaced if it exists)"),
                  config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                  database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Back up the database while the controller runs (SQLite online backup; pg_dump for PostgreSQL)."""
        from avfleet.controller.backup import BackupError, backup

        engine = _engine(config, database_url)
        try:
            typer.echo(backup(engine, out).what)
        except BackupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()

    @db.command("restore")
    def db_restore(file: Path = typer.Argument(..., help="A file `avfleet db backup` wrote"),
                   force: bool = typer.Option(False, "--force", help="Replace a database that holds data"),
                   config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                   database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Restore a backup into an empty database (stop the controller first), then migrate it to the newest schema."""
        from avfleet.controller.backup import BackupError, restore
        from avfleet.controller.migrate import current_revision, upgrade

        engine = _engine(config, database_url)
        try:
            outcome = restore(engine, file, force=force)
            restored = current_revision(engine)
            upgrade(engine)
            typer.echo(outcome.what)
            now = current_revision(engine)
            typer.echo(f"database at revision {now}" + (f" (the backup's was {restored})" if restored != now else ""))
        except BackupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        finally:
            engine.dispose()
