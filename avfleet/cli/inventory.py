"""`avfleet inventory import FILE.csv [--dry-run] [--partial]` and `avfleet inventory export --out FILE.csv`.

The import prints every row's fate with its line (errors with their field); a bad row and nothing is
written (exit 2) unless `--partial` writes exactly the good rows (exit 2 still, as rows were refused).
"""

from __future__ import annotations

import csv
import getpass
import io
from pathlib import Path

import typer

from avfleet.cli.database import controller_database


def register(app: typer.Typer) -> None:
    inventory = typer.Typer(help="The inventory register: CSV import and export.", no_args_is_help=True)
    app.add_typer(inventory, name="inventory")

    @inventory.command("import")
    def inventory_import(file: Path = typer.Argument(..., help="The inventory CSV (UTF-8)"),
                         dry_run: bool = typer.Option(False, "--dry-run", help="Judge every row, write nothing"),
                         partial: bool = typer.Option(False, "--partial", help="Write the good rows, skip the bad"),
                         config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                         database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Create or update the register's units from the file: every row's fate is printed."""
        from avfleet.controller.db import write_transaction
        from avfleet.controller.errors import DomainError
        from avfleet.controller.inventory.importer import import_csv
        from avfleet.inventory.csvfile import CsvFileError, decode
        from avfleet.protocols.status import utc_now

        try:
            text = decode(file.read_bytes())
        except (CsvFileError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            with controller_database(config, database_url) as engine, write_transaction(engine) as conn:
                report = import_csv(conn, text, by=f"cli:{getpass.getuser()}", now=utc_now(), partial=partial,
                                    dry_run=dry_run)
        except (CsvFileError, DomainError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for fate in report["rows"]:
            typer.echo(fate.describe())
        counts = report["counts"]
        summary = ", ".join(f"{counts[k]} {k}" for k in ("created", "updated", "unchanged", "error"))
        if report["written"]:
            typer.echo(f"{summary}: written" + (" (the good rows only)" if counts["error"] else ""))
        else:
            reason = "dry run" if dry_run else "bad rows (use --partial to write the good ones)"
            typer.echo(f"{summary}: nothing written ({reason})")
        if counts["error"]:
            raise typer.Exit(2)

    @inventory.command("export")
    def inventory_export(out: Path = typer.Option(..., "--out", help="The CSV file to write"),
                         municipality: str | None = typer.Option(None, "--municipality", help="Only this one"),
                         config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                         database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Write the register as the inventory CSV (UTF-8, ISO dates), by place."""
        from avfleet.controller.inventory.importer import export_csv

        with controller_database(config, database_url) as engine, engine.connect() as conn:
            body = export_csv(conn, municipality)
        try:
            out.write_bytes(body.encode("utf-8"))
        except OSError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        units = sum(1 for _ in csv.reader(io.StringIO(body, newline=""))) - 1
        typer.echo(f"{units} unit(s) written to {out}")
