"""The one backoff helper: doubling from base, bounded by the cap, jitter within its bounds."""

from __future__ import annotations

import random

from avfleet.backoff import backoff_delay, exponential, jittered


def test_exponential_doubles_from_base_up_to_the_cap() -> None:
    assert [exponential(n, base=1.0, cap=20.0) for n in range(7)] == [1, 1, 2, 4, 8, 16, 20]
    assert exponential(10**6, base=1.0, cap=60.0) == 60.0  # a huge count neither overflows nor passes the cap
    assert exponential(5, base=30.0, cap=10.0) == 30.0  # never below base, even with a smaller cap


def test_backoff_delay_jitter_only_shortens_and_spreads() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(4, base=1.0, cap=60.0, rng=rng) for _ in range(2000)]
    assert all(4.0 * 0.5 <= d <= 8.0 for d in delays)
    assert max(delays) - min(delays) > 3.0  # spread, not lock-step
    full = [backoff_delay(0, base=5.0, cap=5.0, jitter=1.0, rng=rng) for _ in range(2000)]
    assert all(0.0 <= d <= 5.0 for d in full) and min(full) < 0.5 and max(full) > 4.5


def test_jittered_is_symmetric_around_the_value() -> None:
    rng = random.Random(3)
    values = [jittered(30.0, 0.1, rng) for _ in range(2000)]
    assert all(27.0 <= v <= 33.0 for v in values)
    assert min(values) < 27.5 and max(values) > 32.5
    assert jittered(30.0, 0.0, rng) == 30.0
