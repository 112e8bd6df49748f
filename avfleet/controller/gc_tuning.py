"""GC tuning for the ingest processes; imports only the standard library.

The spawned writer process imports this module and nothing of the API, so it stays free of uvicorn
and FastAPI. The controller process tunes itself only when asked (`Controller(..., tune_gc=True)`,
set by `avfleet controller`): `gc.freeze()` is process-wide, and a test or a script that builds a
Controller must not have its heap frozen behind its back.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Keep the cyclic GC off the ingest's hot path.

    Validating a state allocates dozens of objects; with the default threshold (700) the collector
    runs every few messages and walks the whole heap (FastAPI, SQLAlchemy, paho) each time it
    reaches the older generations: it cost more than validation itself (docs/benchmarks.md).
    Freezing the start-up heap and collecting the young generation less often fixes both.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
