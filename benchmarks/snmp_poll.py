"""One process polls 300 SNMP devices served by one snmpsim process, with SnmpPoller on one engine.

The devices are snapshots of the project's emulated devices (generated from the profiles, so the
poller reads every mapped OID): a third Raritan PDUs with 8 outlets, a third generic displays, a
third Epson projectors, each its own data file / community. snmpsim runs in its own process, so
the CPU time measured here is the poller's alone. The first cycle includes discovery (system group,
outlet walk, MAC walk); the figures are for the steady cycles after it, one GET per device.

    .venv/bin/python benchmarks/snmp_poll.py [--devices 300] [--cycles 5] [--concurrency 50]

The last line holds every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time


async def run(devices: int, cycles: int, concurrency: int) -> str:
    from avfleet.emulator.snmp_devices import EmulatedDisplay, EmulatedPdu, EmulatedSnmpProjector
    from avfleet.emulator.snmp_sim import SnmpSimRunner
    from avfleet.profiles.library import load_library
    from avfleet.protocols.device_url import SnmpTarget
    from avfleet.protocols.snmp.client import SnmpEngineContext
    from avfleet.protocols.snmp.poller import SnmpPoller
    from avfleet.protocols.status import Availability

    library = load_library()
    sim = SnmpSimRunner()
    for i in range(devices):
        community = f"dev-{i:03d}"
        if i % 3 == 0:
            device = EmulatedPdu(
                library.get("raritan-px"), community, outlets=[(f"o{n}", lambda n=n: 40.0 + n) for n in range(8)]
            )
        elif i % 3 == 1:
            device = EmulatedDisplay(
                library.get("generic-display"), community, mac=f"02:00:5e:00:{i // 256:02x}:{i % 256:02x}"
            )
        else:
            device = EmulatedSnmpProjector(library.get("epson-projector"), community, lamp_hours=100 + i)
        sim.add_text(community, device.snmprec())
    started = time.monotonic()
    await sim.astart(timeout=300)
    sim_start_s = time.monotonic() - started
    try:
        async with SnmpEngineContext() as engine:
            pollers = [
                SnmpPoller(
                    f"dev-{i:03d}", SnmpTarget(sim.host, sim.port, f"dev-{i:03d}"), engine=engine, library=library
                )
                for i in range(devices)
            ]
            gate = asyncio.Semaphore(concurrency)

            async def one(poller: SnmpPoller):
                async with gate:
                    return await poller.poll()

            async def cycle() -> tuple[float, float, int]:
                wall, cpu = time.monotonic(), time.process_time()
                statuses = await asyncio.gather(*(one(p) for p in pollers))
                online = sum(1 for s in statuses if s.availability == Availability.online)
                return time.monotonic() - wall, time.process_time() - cpu, online

            first_wall, first_cpu, first_online = await cycle()
            walls, cpus, onlines = [], [], []
            for _ in range(cycles):
                wall, cpu, online = await cycle()
                walls.append(wall)
                cpus.append(cpu)
                onlines.append(online)
    finally:
        await sim.astop()
    cycle_s = statistics.median(walls)
    cpu_ms = statistics.median(cpus) / devices * 1000
    print(f"snmpsim start with {devices} data files: {sim_start_s:.1f} s")
    print(
        f"first cycle (discovery): {first_wall:.2f} s, {first_cpu / devices * 1000:.2f} ms CPU/poll, "
        f"{first_online}/{devices} online"
    )
    for n, (wall, cpu) in enumerate(zip(walls, cpus, strict=True), start=1):
        print(f"cycle {n}: {wall:.2f} s, {cpu / devices * 1000:.2f} ms CPU/poll")
    return (
        f"snmp_poll devices={devices} concurrency={concurrency} cycle_s={cycle_s:.2f} "
        f"cpu_ms_per_poll={cpu_ms:.2f} polls_per_s={devices / cycle_s:.0f} "
        f"discovery_cycle_s={first_wall:.2f} online={min(onlines)}/{devices}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    print(asyncio.run(run(args.devices, args.cycles, args.concurrency)), flush=True)


if __name__ == "__main__":
    main()
