"""`avfleet simulate snmp`: emulated SNMP displays, SNMP projectors and a switched PDU on 127.0.0.1.

Prints one snmp:// URL per device once they answer (the first field of each line), then serves
until Ctrl-C. Live values (PDU outlet watts, energy, switching) come from the in-process agent;
`--snmpsim` serves static `.snmprec` snapshots of the same devices with snmpsim instead.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(group: typer.Typer) -> None:
    group.command(name="snmp")(simulate_snmp)


def simulate_snmp(
    displays: Annotated[int, typer.Option("--displays", min=0, max=1000, help="Emulated SNMP displays.")] = 1,
    projectors: Annotated[
        int, typer.Option("--projectors", min=0, max=1000, help="Emulated projectors giving identity and lamp hours.")
    ] = 1,
    pdu: Annotated[
        str, typer.Option("--pdu", help="PDU profile: raritan-px, apc-rack-pdu, cyberpower-epdu, planet-ipm, or none.")
    ] = "raritan-px",
    projector_profile: Annotated[str, typer.Option("--projector-profile")] = "epson-eb-2250u",
    display_profile: Annotated[str, typer.Option("--display-profile")] = "generic-display",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="UDP port (0: a free one).")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    snmpsim: Annotated[bool, typer.Option("--snmpsim", help="Serve static snapshots with snmpsim.")] = False,
) -> None:
    """Run emulated SNMP devices until Ctrl-C, printing their snmp:// URLs."""
    import asyncio
    import contextlib

    from avfleet.profiles.library import ProfileError, UnknownProfile, load_library

    try:
        library = load_library()
        devices = _devices(library, displays, projectors, pdu, projector_profile, display_profile)
    except (UnknownProfile, ProfileError, ValueError) as exc:
        typer.echo(f"avfleet simulate snmp: {exc}", err=True)
        raise typer.Exit(2) from None
    if not devices:
        typer.echo("avfleet simulate snmp: nothing to run (all counts are 0)", err=True)
        raise typer.Exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        if snmpsim:
            _run_snmpsim(devices, port)
        else:
            asyncio.run(_run_inprocess(devices, host, port))


def _devices(library, displays: int, projectors: int, pdu: str, projector_profile: str, display_profile: str) -> list:
    from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu, EmulatedSnmpProjector

    devices: list = []
    outlets = []
    display = library.get(display_profile)
    for i in range(1, displays + 1):
        mac = f"02:00:5e:10:00:{i % 256:02x}"
        devices.append(EmulatedDisplay(display, f"display-{i}", mac=mac))
        watts = display.rated_watts.on if display.rated_watts else 100.0
        outlets.append((f"display-{i}", lambda w=watts: w))
    projector = library.get(projector_profile)
    for i in range(1, projectors + 1):
        mac = f"02:00:5e:20:00:{i % 256:02x}"
        devices.append(EmulatedSnmpProjector(projector, f"projector-{i}", lamp_hours=500 * i, mac=mac))
        watts = projector.rated_watts.on if projector.rated_watts else 300.0
        outlets.append((f"projector-{i}", lambda w=watts: w))
    if pdu != "none":
        devices.append(EmulatedPdu(library.get(pdu), "pdu-1", outlets=outlets or [("outlet-1", lambda: 0.0)]))
    return devices


async def _run_inprocess(devices: list, host: str, port: int) -> None:
    import asyncio
    import signal

    from avfleet.emulator.snmp_devices import SnmpFleet

    fleet = SnmpFleet(devices, host=host, port=port)
    await fleet.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for url, device in zip(fleet.urls(), devices, strict=True):
            typer.echo(f"{url} kind={device.profile.kind.value} name={device.name}")
        typer.echo(f"serving {len(devices)} SNMP devices on udp {fleet.host}:{fleet.port}; Ctrl-C stops", err=True)
        await stop.wait()
    finally:
        await fleet.stop()


def _run_snmpsim(devices: list, port: int) -> None:
    import signal

    from avfleet.emulator.snmp_sim import SnmpSimNotFound, SnmpSimRunner

    try:
        sim = SnmpSimRunner(port=port or None)
    except SnmpSimNotFound as exc:
        typer.echo(f"avfleet simulate snmp: {exc}", err=True)
        raise typer.Exit(2) from None
    for device in devices:
        sim.add_text(device.community, device.snmprec())
    with sim:
        for device in devices:
            typer.echo(f"{device.url(sim.host, sim.port)} kind={device.profile.kind.value} name={device.name}")
        typer.echo(f"snmpsim serving {len(devices)} devices on udp {sim.host}:{sim.port}; Ctrl-C stops", err=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM}) if _block_signals() else signal.pause()


def _block_signals() -> bool:
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    return True
