"""`avfleet probe URL [--json] [--timeout S]`: poll one device once and print its normalized status.

Exit status: 0 online; 1 unreachable; 2 bad URL or unknown profile (one line, never a traceback);
3 authentication failed; 4 answered but not understood (error). The run never lasts longer than
HARD_DEADLINE_S, whatever the device does: the poll runs under a deadline, and a watchdog thread
ends the process should the loop itself hang.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

HARD_DEADLINE_S = 15.0
EXIT_CODES = {"online": 0, "unreachable": 1, "auth_failed": 3, "error": 4}
EXIT_BAD_URL = 2


class ProbeInputError(Exception):
    """What the user asked for cannot be polled (an unknown profile, unusable profile files)."""


def register(app: typer.Typer) -> None:
    app.command(name="probe")(probe)


def probe(
    url: Annotated[str, typer.Argument(help="pjlink://[:PASSWORD@]HOST[:PORT] or snmp://[COMMUNITY@]HOST[:PORT]")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the status object as JSON.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, max=HARD_DEADLINE_S, help="Seconds per step (connect, reply).")
    ] = None,
) -> None:
    """Poll one device once; exit 0 only if it answered and was understood."""
    from avfleet.protocols.device_url import DeviceUrlError, parse_device_url

    try:
        target = parse_device_url(url)
    except DeviceUrlError as exc:
        typer.echo(f"avfleet probe: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_URL) from None
    try:
        status, reason = _run(target, timeout)
    except ProbeInputError as exc:
        typer.echo(f"avfleet probe: {target.redacted()}: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_URL) from None
    _report(status, reason, json_output, target.redacted())
    raise typer.Exit(EXIT_CODES.get(status.availability.value, 1))


def _run(target: Any, timeout: float | None) -> tuple[Any, str | None]:
    import asyncio
    import os
    import threading

    from avfleet.protocols.status import Availability, DeviceStatus, Protocol

    device_id = "probe"
    protocol = Protocol(target.scheme)

    def give_up() -> None:  # the event loop itself is stuck (a blocking library call): leave regardless
        late = DeviceStatus(
            device_id=device_id, kind="other", protocol=protocol, availability=Availability.unreachable,
            detail=f"no answer within {HARD_DEADLINE_S:g} s (hard deadline)",
        )
        sys.stdout.write(late.model_dump_json() + "\n")
        sys.stdout.flush()
        sys.stderr.write(f"avfleet probe: {target.redacted()}: unreachable: {late.detail}\n")
        sys.stderr.flush()
        os._exit(EXIT_CODES["unreachable"])

    watchdog = threading.Timer(HARD_DEADLINE_S + 1.0, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        return asyncio.run(_poll(target, timeout, device_id))
    finally:
        watchdog.cancel()


async def _poll(target: Any, timeout: float | None, device_id: str) -> tuple[Any, str | None]:
    import asyncio

    from avfleet.protocols.device_url import PJLinkTarget
    from avfleet.protocols.factory import make_poller
    from avfleet.protocols.status import Availability, DeviceStatus, Protocol

    if isinstance(target, PJLinkTarget):
        options: dict[str, Any] = {
            "connect_timeout": timeout or 3.0,
            "reply_timeout": timeout or 5.0,
            "poll_deadline": HARD_DEADLINE_S - 2.0,  # room for start-up and output
        }
    else:
        options = {"timeout": timeout} if timeout else {}
    from avfleet.profiles.library import ProfileError, UnknownProfile

    try:
        poller = make_poller(device_id, target, **options)
    except (UnknownProfile, ProfileError) as exc:  # the URL's ?profile= or the profile files themselves
        raise ProbeInputError(str(exc).splitlines()[0]) from None
    try:
        async with asyncio.timeout(HARD_DEADLINE_S - 0.5):
            status = await poller.poll()
    except TimeoutError:
        status = DeviceStatus(
            device_id=device_id,
            kind=getattr(poller, "kind", None) or "other",
            protocol=Protocol(target.scheme),
            availability=Availability.unreachable,
            detail=f"no complete answer within {HARD_DEADLINE_S:g} s",
        )
    finally:
        try:
            async with asyncio.timeout(1.0):
                await poller.close()
        except (TimeoutError, OSError):
            pass
    # Read after the poll: auto-detection picks the profile during the first poll.
    reason = getattr(poller, "selection_reason", None)
    return status, reason if isinstance(reason, str) else None


def _report(status: Any, reason: str | None, json_output: bool, where: str) -> None:
    online = status.availability.value == "online"
    if json_output:
        typer.echo(status.model_dump_json())
        if reason:
            typer.echo(f"profile: {reason}", err=True)
    else:
        _table(status, reason, where)
    if not online:
        detail = status.detail or "no detail"
        typer.echo(f"avfleet probe: {where}: {status.availability.value}: {detail}", err=True)


def _table(status: Any, reason: str | None, where: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{where} ({status.protocol.value})", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    colour = {"online": "green", "unreachable": "red", "auth_failed": "red", "error": "yellow"}
    avail = status.availability.value
    table.add_row("availability", f"[{colour.get(avail, 'white')}]{avail}[/]")
    table.add_row("power", status.power.value)
    faults = status.faults.model_dump(mode="json")
    active = {k: v for k, v in faults.items() if v in ("warning", "error")}
    if active:
        table.add_row("faults", ", ".join(f"{k}: {v}" for k, v in active.items()))
    elif all(v == "unknown" for v in faults.values()):
        table.add_row("faults", "unknown")
    else:
        table.add_row("faults", "none reported")
    if status.lamps:
        table.add_row("lamps", ", ".join(f"{lamp.hours} h {'on' if lamp.on else 'off'}" for lamp in status.lamps))
    elif avail == "online":
        table.add_row("lamps", "none (laser/LED or not reported)")
    for label, value in (
        ("filter hours", status.filter_hours),
        ("input", status.input),
        ("AV mute", None if status.av_mute is None else ("on" if status.av_mute else "off")),
        ("power (W)", status.power_w),
    ):
        if value is not None:
            table.add_row(label, str(value))
    for outlet in status.outlets:
        table.add_row(f"outlet {outlet.index}", f"{outlet.name or ''} on={outlet.on} {outlet.power_w or ''} W")
    for key, value in status.identity.model_dump().items():
        if value:
            table.add_row(key.replace("_", " "), str(value))
    table.add_row("observed at", status.observed_at.isoformat())
    if status.detail:
        table.add_row("detail", status.detail)
    if reason:
        table.add_row("profile", reason)
    Console().print(table)
