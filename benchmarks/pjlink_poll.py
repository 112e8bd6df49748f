"""Poll 500 emulated projectors concurrently with PJLinkPoller, then one by one with pypjlink2.

The emulators run in a separate process (each reply delayed 20-50 ms; a share of slow projectors,
10 % by default, answers in 1-1.5 s), so the client's CPU time and memory are its own. Every poll
asks for a full status: Class 2, powered on, so POWR ERST LAMP CLSS FILT INF1 INF2 INPT AVMT INFO
NAME SNUM SVER (13 round trips) on one fresh connection, under the probe's 13 s poll deadline. A
slow projector cannot answer 13 questions in 13 s: it comes back online with a partial status
(power and errors first), which the figures count apart from the full ones.

    .venv/bin/python benchmarks/pjlink_poll.py [--count 500] [--cycles 3] [--slow-share 0.1]
                                               [--deadline 13] [--independent N]

`--independent N` polls only the first N fast projectors with pypjlink2 (default: every fast one;
at about 0.35 s per projector that takes a few minutes) and says so on the last line.
`--slow-share 0` gives the figures of the plain fleet (comparable with the runs before slow ones).
The last line holds every figure. Target: a full cycle of the fast 500 in under 2 s on 2 cores.
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
SLOW_DELAY = (1.0, 1.5)


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def slow_indices(count: int, share: float) -> set[int]:
    """Every n-th projector, so slow ones are spread through the fleet."""
    k = round(count * share)
    return set(range(0, count, max(1, count // k))[:k]) if k else set()


def serve_emulators(count: int, slow: set[int], conn: Connection) -> None:
    raise_fd_limit(count * 4 + 256)

    async def main() -> None:
        from avfleet.emulator.pjlink_fleet import EmulatedFleet

        fleet = EmulatedFleet.from_count(
            count, pjlink_class=2, power="on", reply_delay_s=REPLY_DELAY, lamp_hours=1000, seed=42, idle_close_s=30
        )
        for i in slow:
            emu = fleet[i]
            emu.config = emu.config.model_copy(update={"reply_delay_s": SLOW_DELAY})
        await fleet.start()
        conn.send([e.port for e in fleet])
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        cpu = time.process_time()
        await fleet.stop()
        conn.send(cpu)

    asyncio.run(main())


def is_full(s) -> bool:
    return (
        s.availability == "online" and s.detail is None and s.power == "on" and bool(s.identity.serial)
        and s.filter_hours is not None and s.input is not None and s.av_mute is not None
    )


async def timed(poller, i: int, t0: float, done_at: list[float]):
    """One poll, noting when it finished (seconds after t0)."""
    status = await poller.poll()
    done_at[i] = time.perf_counter() - t0
    return status


async def poll_cycles(ports: list[int], cycles: int, slow: set[int], deadline: float) -> dict:
    from avfleet.protocols.device_url import PJLinkTarget
    from avfleet.protocols.pjlink.poller import PJLinkPoller

    pollers = [
        PJLinkPoller(f"pj-{i}", PJLinkTarget("127.0.0.1", port), connect_timeout=10, reply_timeout=10,
                     identity_interval=0, poll_deadline=deadline)  # every cycle a full status, identity included
        for i, port in enumerate(ports)
    ]
    times, fast_times = [], []
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    cpu0 = time.process_time()
    for _ in range(cycles):
        t0 = time.perf_counter()
        done_at = [0.0] * len(pollers)
        statuses = await asyncio.gather(*(timed(p, i, t0, done_at) for i, p in enumerate(pollers)))
        times.append(time.perf_counter() - t0)
        fast_times.append(max((t for i, t in enumerate(done_at) if i not in slow), default=0.0))
        full = [is_full(s) for s in statuses]
        partial = [s.availability == "online" and not f for s, f in zip(statuses, full, strict=True)]
        counts = {  # the last cycle's
            "full": sum(full),
            "partial": sum(partial),
            "partial_with_power": sum(p and s.power == "on" for s, p in zip(statuses, partial, strict=True)),
            "not_online": sum(s.availability != "online" for s in statuses),
            "slow_full": sum(full[i] for i in slow),
            "slow_partial": sum(partial[i] for i in slow),
        }
        # A slow unit cut by the deadline asks the identity questions it missed in the next polls, so
        # the first cycle shows the partial statuses and later ones how they fill up.
        first = first or {"first_full": counts["full"], "first_partial": counts["partial"]}
    cpu = time.process_time() - cpu0
    return {"times": times, "fast_times": fast_times, "cpu": cpu, "polls": len(pollers) * cycles, **counts, **first}


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
    parser.add_argument("--slow-share", type=float, default=0.1, help="share of projectors answering in 1-1.5 s")
    parser.add_argument("--deadline", type=float, default=13.0, help="poll deadline in seconds (the probe's)")
    parser.add_argument("--independent", type=int, default=None,
                        help="fast projectors polled by pypjlink2 (default all fast ones)")
    args = parser.parse_args()
    slow = slow_indices(args.count, args.slow_share)
    limit = raise_fd_limit(args.count * 2 + 256)

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve_emulators, args=(args.count, slow, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise SystemExit("emulators did not start within 120 s")
        ports: list[int] = parent.recv()
        print(f"{len(ports)} emulated projectors in process {proc.pid} (reply delay {REPLY_DELAY[0]*1000:.0f}-"
              f"{REPLY_DELAY[1]*1000:.0f} ms; {len(slow)} slow ones {SLOW_DELAY[0]:g}-{SLOW_DELAY[1]:g} s);"
              f" fd soft limit {limit}")

        r = asyncio.run(poll_cycles(ports, args.cycles, slow, args.deadline))
        times, fast_times = r["times"], r["fast_times"]
        for i, (t, f) in enumerate(zip(times, fast_times, strict=True), 1):
            print(f"PJLinkPoller cycle {i}: {t:.3f} s for {len(ports)} polls ({len(ports) - len(slow)} fast ones"
                  f" done in {f:.3f} s)")
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        fast_ports = [p for i, p in enumerate(ports) if i not in slow]
        sample = fast_ports if args.independent is None else fast_ports[: args.independent]
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
    fast_median = statistics.median(fast_times)
    extrapolated = "" if len(sample) == len(ports) else f" pypjlink2_extrapolated_{len(ports)}_s={per * len(ports):.1f}"
    print(
        f"pjlink_poll devices={len(ports)} slow={len(slow)} deadline_s={args.deadline:g} cycles={args.cycles}"
        f" cycle_s_median={median:.3f} cycle_s_max={max(times):.3f} fast_cycle_s_median={fast_median:.3f}"
        f" cpu_s_per_poll={r['cpu'] / r['polls']:.5f} peak_rss_mb={rss_mb:.0f}"
        f" cycle1_full={r['first_full']} cycle1_partial={r['first_partial']}"
        f" online_full={r['full']}/{len(ports)} online_partial={r['partial']}"
        f" partial_with_power={r['partial_with_power']} not_online={r['not_online']}"
        f" slow_full={r['slow_full']} slow_partial={r['slow_partial']}"
        f" emulator_cpu_s={emu_cpu:.1f} pypjlink2_sequential_s={indep_s:.1f} pypjlink2_devices={len(sample)}"
        f" pypjlink2_ok={indep_ok}/{len(sample)}{extrapolated}"
        f" speedup={per * len(ports) / fast_median:.0f}x target_2s={'met' if fast_median < 2 else 'missed'}"
    )


if __name__ == "__main__":
    main()
