"""The writer process's pipe: large batches one way and large results the other never wait on each other."""

from __future__ import annotations

import time
from pathlib import Path

from avfleet.controller.db import create_db_engine
from avfleet.controller.ingest.sinks import ProcessSink
from avfleet.controller.ingest.writer import DETAIL_CHARS, BatchResult
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import load_settings
from tests.controller.conftest import API_TOKEN


def test_rejection_heavy_batches_in_flight_together_all_come_back(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'sink.db'}"
    engine = create_db_engine(db_url)
    upgrade(engine)
    engine.dispose()
    settings = load_settings(database_url=db_url, api_tokens=[API_TOKEN], broker_password="not-used-by-this-test")
    # Each message is refused for its topic (a device id of 200 characters), so a batch's result carries
    # 2,000 reasons (far more than a socket buffer); each batch is 2,000 × 50 KB on the way in.
    topic = "avfleet/v1/agent/a1/dev/" + "d" * 200 + "/state"
    batch = [(topic, b"x" * 50_000)] * 2_000
    sink = ProcessSink(settings)
    try:
        sink.submit(1, batch)
        sink.submit(2, batch)  # before reading a result, as the worker does (two batches in flight)
        results: dict[int, BatchResult | str] = {}
        deadline = time.monotonic() + 120
        while len(results) < 2 and time.monotonic() < deadline:
            got = sink.next_result(1.0)
            if got is not None:
                results[got[0]] = got[1]
        assert sorted(results) == [1, 2]
        for result in results.values():
            assert isinstance(result, BatchResult) and len(result.rejections) == 2_000
            assert all(reason == "topic" and len(detail) <= DETAIL_CHARS for _a, reason, detail in result.rejections)
    finally:
        sink.close()
