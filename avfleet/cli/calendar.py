"""`avfleet calendar import --municipality NAME FILE.ics|FILE.csv`: a school calendar into the controller's database.

Every row's fate is printed with its line; one bad row and nothing is written (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    calendar = typer.Typer(help="School calendars: breaks, study days and closing days.", no_args_is_help=True)
    app.add_typer(calendar, name="calendar")

    @calendar.command("import")
    def calendar_import(file: Path = typer.Argument(..., help="An .ics or .csv file (start,end,kind,name)"),
                        municipality: str = typer.Option(..., "--municipality", help="Whose calendar this is"),
                        school: str | None = typer.Option(None, "--school",
                                                          help="A school whose calendar differs"),
                        config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                        database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Replace the municipality's (or school's) calendar with the file's days."""
        from avfleet.cli.database import controller_database
        from avfleet.controller.calendars.importer import CalendarFileError, read_file
        from avfleet.controller.calendars.service import replace_calendar
        from avfleet.controller.db import write_transaction

        try:
            fates = read_file(file)
        except (CalendarFileError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for fate in fates:
            typer.echo(fate.describe())
        bad = [f for f in fates if f.error is not None]
        if bad:
            typer.echo(f"{len(bad)} bad row(s) of {len(fates)}: nothing written", err=True)
            raise typer.Exit(2)
        with controller_database(config, database_url) as engine, write_transaction(engine) as conn:
            replace_calendar(conn, municipality, school, [f.day for f in fates if f.day is not None])
        where = municipality + (f" / {school}" if school else "")
        typer.echo(f"{len(fates)} day(s) written: the calendar of {where}")
