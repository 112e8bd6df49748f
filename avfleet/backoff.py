"""Exponential backoff with jitter: the one helper for every retry loop and every jittered period.

A leaf (imports nothing of avfleet). Jitter spreads a fleet that failed together (a broker restart,
a school's network coming back) so it does not come back in lock-step.

    wait = backoff_delay(failures, base=1.0, cap=60.0)    # 1, 2, 4 ... 60 s, each × U(0.5, 1)
    wait = jittered(30.0, 0.1, rng)                       # 30 s ± 10 %
"""

from __future__ import annotations

import random

_MAX_EXPONENT = 62  # 2**62 already dwarfs any cap; bounds the float for huge failure counts


def exponential(failures: int, *, base: float, cap: float) -> float:
    """`base × 2**(failures-1)`, at most `cap` but never below `base`; `base` for 0 or 1 failures."""
    if failures <= 1:
        return base
    return max(base, min(cap, base * 2.0 ** min(failures - 1, _MAX_EXPONENT)))


def jittered(value: float, fraction: float, rng: random.Random | None = None) -> float:
    """`value × U(1 - fraction, 1 + fraction)`: a period spread evenly around its value."""
    rng = rng or random.Random()
    return value * rng.uniform(1.0 - fraction, 1.0 + fraction)


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """The wait after `failures` consecutive failures: the exponential delay × U(1 - jitter, 1).

    The jitter only shortens the wait, so the cap holds; `jitter=1.0` is "full jitter" (0 .. delay).
    """
    rng = rng or random.Random()
    return exponential(failures, base=base, cap=cap) * rng.uniform(1.0 - jitter, 1.0)
