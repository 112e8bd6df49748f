"""`avfleet report inventory [--municipality NAME] --year Y --format pdf|xlsx|csv --lang sv|en --out FILE`.

The same file as GET /api/v1/reports/inventory (controller/reports/service.py `report_file`).
Exit codes: 0 written; 2 bad input (an unknown municipality, named with the known ones; a year out
of range; a setting), or the file could not be written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from avfleet.cli.database import controller_database


def register(app: typer.Typer) -> None:
    report = typer.Typer(help="Reports: the inventory report of a municipality or the county.", no_args_is_help=True)
    app.add_typer(report, name="report")

    @report.command("inventory")
    def inventory(year: int = typer.Option(..., "--year", help="The calendar year (compared with the one before)"),
                  fmt: str = typer.Option(..., "--format", help="pdf | xlsx | csv"),
                  out: Path = typer.Option(..., "--out", help="The file to write"),
                  municipality: str | None = typer.Option(None, "--municipality", help="Omitted: the county"),
                  lang: str = typer.Option("sv", "--lang", help="sv | en"),
                  config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                  database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Write the inventory report (inventory, health, service life, warranty, repairs, energy; the county's
        with equity and procurement) for the year, beside the year before."""
        from avfleet.controller.errors import DomainError
        from avfleet.controller.reports.service import FORMATS, ReportService
        from avfleet.controller.settings import SettingsError, load_settings
        from avfleet.protocols.status import utc_now

        if fmt not in FORMATS:
            typer.echo(f"error: --format must be one of {', '.join(FORMATS)}", err=True)
            raise typer.Exit(2)
        if lang not in ("sv", "en"):
            typer.echo("error: --lang must be sv or en", err=True)
            raise typer.Exit(2)
        try:
            with controller_database(config, database_url) as engine, engine.connect() as conn:
                settings = load_settings(config, database_url=database_url, demo=True)
                made = ReportService(settings).report_file(conn, municipality, year, fmt, lang, utc_now())
        except (DomainError, SettingsError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            out.write_bytes(made.body)
        except OSError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{len(made.body)} bytes written to {out} ({municipality or 'county'}, {year}, {fmt}, {lang})")
