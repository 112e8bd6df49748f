"""`avfleet simulate ...`: emulated devices on loopback for the demo, tests and benchmarks."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from avfleet.cli import simulate_projectors, simulate_snmp

    group = typer.Typer(help="Run emulated devices on 127.0.0.1 until interrupted.", no_args_is_help=True)
    simulate_projectors.register(group)
    simulate_snmp.register(group)
    app.add_typer(group, name="simulate")
