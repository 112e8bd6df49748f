"""`avfleet simulate projectors`: emulated PJLink projectors on 127.0.0.1 until interrupted.

Prints one line per projector once all listen: its URL first (without the password), then
`class=N auth=yes|no name=...`, so scripts can take the first field of each line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def register(group: typer.Typer) -> None:
    group.command(name="projectors")(simulate_projectors)


def simulate_projectors(
    count: Annotated[int | None, typer.Option("--count", min=1, max=5000, help="How many projectors.")] = None,
    base_port: Annotated[
        int, typer.Option("--base-port", min=0, max=65535, help="First TCP port (0: free ports).")
    ] = 4352,
    password: Annotated[str | None, typer.Option("--password", help="PJLink password for every projector.")] = None,
    pjlink_class: Annotated[int | None, typer.Option("--class", min=1, max=2, help="PJLink class, 1 or 2.")] = None,
    fleet: Annotated[
        Path | None, typer.Option("--fleet", help="Fleet file (YAML: models, faults, passwords).", exists=True)
    ] = None,
    warmup: Annotated[float | None, typer.Option("--warmup", min=0, help="Warm-up seconds.")] = None,
    cooldown: Annotated[float | None, typer.Option("--cooldown", min=0, help="Cool-down seconds.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run emulated PJLink projectors until Ctrl-C."""
    import asyncio
    import contextlib

    settings: dict[str, Any] = {}
    if password is not None:
        settings["password"] = password
    if pjlink_class is not None:
        settings["pjlink_class"] = pjlink_class
    if warmup is not None:
        settings["warmup_s"] = warmup
    if cooldown is not None:
        settings["cooldown_s"] = cooldown
    if fleet is not None and count is not None:
        typer.echo("avfleet simulate projectors: give --count or --fleet, not both", err=True)
        raise typer.Exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(count or 1, base_port, fleet, host, settings))


async def _run(count: int, base_port: int, fleet_path: Path | None, host: str, settings: dict[str, Any]) -> None:
    import asyncio
    import signal

    from pydantic import ValidationError

    from avfleet.emulator.fleet_file import FleetFileError
    from avfleet.emulator.pjlink_fleet import EmulatedFleet

    try:
        if fleet_path is not None:
            fleet = EmulatedFleet.from_file(fleet_path, host=host, base_port=base_port, **settings)
        else:
            fleet = EmulatedFleet.from_count(count, host=host, base_port=base_port, **settings)
    except (FleetFileError, ValidationError, ValueError) as exc:
        typer.echo(f"avfleet simulate projectors: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        await fleet.start()
    except OSError as exc:
        typer.echo(f"avfleet simulate projectors: cannot listen: {exc.strerror or exc} (port in use?)", err=True)
        raise typer.Exit(1) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for emu in fleet:
            c = emu.config
            auth = "yes" if c.password else "no"
            print(f"{emu.url(with_password=False)} class={c.pjlink_class} auth={auth} name={c.name!r}", flush=True)
        typer.echo(f"{len(fleet)} projectors ready; Ctrl-C to stop", err=True)
        await stop.wait()
    finally:
        await fleet.stop()
