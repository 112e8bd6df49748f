"""Poll 500 emulated projectors concurrently with PJLinkPoller, then one by one with pypjlink2.

The emulators run in a separate process (each reply delayed 20-50 ms), so the client's CPU time
and memory are its own. Every poll is a full status: Class 2, powered on, so POWR ERST CLSS INF1
INF2 INFO NAME LAMP INPT AVMT SNUM SVER FILT (13 round trips) on one fresh connection.

    .venv/bin/python benchmarks/pjlink_poll.py [--count 500] [--cycles 3] [--independent N]

`--independent N` polls only the first N projectors with pypjlink2 (default: all of them; at
about 0.35 s per projector that takes a few minutes) and says so on the last line.
The last line holds every figure. Target: a full cycle of 500 in under 2 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import statistics
import time
from multiprocessing.connection import Connection

REPLY_DELAY = (0.02, 0.05)


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def serve_emulators(count: int, conn: Connection) -> None:
    raise_fd_limit(count * 4 + 256)

    async def main() -> None:
        from avfleet.emulator.pjlink_fleet import EmulatedFleet

        fleet = EmulatedFleet.from_count(
            count, pjlink_class=2, power="on", reply_delay_s=REPLY_DELAY, lamp_hours=1000, seed=42, idle_close_s=30
        )
        await fleet.start()
        conn.send([e.port for e in fleet])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        cpu = time.process_time()
        await fleet.stop()
        conn.send(cpu)

    asyncio.run(main())


async def poll_cycles(ports: list[int], cycles: int) -> tuple[list[float], float, int, int]:
    from avfleet.protocols.device_url import PJLinkTarget
    from avfleet.protocols.pjlink.poller import PJLinkPoller

    pollers = [
        PJLinkPoller(f"pj-{i}", PJLinkTarget("127.0.0.1", port), connect_timeout=10, reply_timeout=10,
                     identity_interval=0)  # every cycle a full status, identity included
        for i, port in enumerate(ports)
    ]
    times = []
    ok = 0
    cpu0 = time.process_time()
    for _ in range(cycles):
        t0 = time.perf_counter()
        statuses = await asyncio.gather(*(p.poll() for p in pollers))
        times.append(time.perf_counter() - t0)
        ok = sum(
            1 for s in statuses
            if s.availability == "online" and s.power == "on" and s.identity.serial and s.filter_hours is not None
        )
    cpu = time.process_time() - cpu0
    return times, cpu, ok, len(pollers) * cycles


def pypjlink_sequential(ports: list[int]) -> tuple[float, int]:
    from pypjlink import Projector

    ok = 0
    t0 = time.perf_counter()
    for port in ports:
        try:
            with Projector.from_address("127.0.0.1", port, timeout=10) as p:
                p.authenticate()
                power = p.get_power()
                p.get_errors()
                lamps = p.get_lamps()
                p.get_name()
                p.get_manufacturer()
                p.get_product_name()
                p.get_other_info()
                p.get_input()
                p.get_mute()
                ok += power == "on" and lamps[0][0] >= 1000
        except Exception as exc:  # an independent client's failure is a figure here, not a crash
            print(f"pypjlink2 failed on port {port}: {exc!r}")
    return time.perf_counter() - t0, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--independent", type=int, default=None, help="projectors polled by pypjlink2 (default all)")
    args = parser.parse_args()
    limit = raise_fd_limit(args.count * 2 + 256)

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve_emulators, args=(args.count, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise SystemExit("emulators did not start within 120 s")
        ports: list[int] = parent.recv()
        print(f"{len(ports)} emulated projectors in process {proc.pid} (reply delay {REPLY_DELAY[0]*1000:.0f}-"
              f"{REPLY_DELAY[1]*1000:.0f} ms); fd soft limit {limit}")

        times, cpu, ok, polls = asyncio.run(poll_cycles(ports, args.cycles))
        for i, t in enumerate(times, 1):
            print(f"PJLinkPoller cycle {i}: {t:.3f} s for {len(ports)} full polls")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        sample = ports if args.independent is None else ports[: args.independent]
        indep_s, indep_ok = pypjlink_sequential(sample)
        per = indep_s / max(1, len(sample))
        print(f"pypjlink2 one by one: {indep_s:.1f} s for {len(sample)} projectors ({per * 1000:.0f} ms each)")

        parent.send("stop")
        emu_cpu = parent.recv() if parent.poll(30) else float("nan")
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()

    median = statistics.median(times)
    extrapolated = "" if len(sample) == len(ports) else f" pypjlink2_extrapolated_{len(ports)}_s={per * len(ports):.1f}"
    print(
        f"pjlink_poll devices={len(ports)} cycles={args.cycles} cycle_s_median={median:.3f}"
        f" cycle_s_max={max(times):.3f}"
        f" cpu_s_per_poll={cpu / polls:.5f} peak_rss_mb={rss_mb:.0f} ok={ok}/{len(ports)}"
        f" emulator_cpu_s={emu_cpu:.1f} pypjlink2_sequential_s={indep_s:.1f} pypjlink2_devices={len(sample)}"
        f" pypjlink2_ok={indep_ok}/{len(sample)}{extrapolated}"
        f" speedup={per * len(ports) / median:.0f}x target_2s={'met' if median < 2 else 'missed'}"
    )


if __name__ == "__main__":
    main()
