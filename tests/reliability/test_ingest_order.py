"""The ingest's retry after a failed commit keeps the batches in the order they came.

Found by test_outages.py (PostgreSQL restarted mid-ingest): resubmitting only the failed batch put
it behind the later batch still at the writer, so once the database was back the later one
committed first and the earlier one's states were filed as late, losing transitions from the
device history. This checks the order directly, with a writer that fails while the database is down.
"""

from __future__ import annotations

from pathlib import Path

from avfleet.controller.db import create_db_engine
from avfleet.controller.ingest.metrics import IngestMetrics
from avfleet.controller.ingest.worker import IngestService
from avfleet.controller.ingest.writer import BatchResult
from avfleet.controller.settings import load_settings


class FlakyWriter:
    """A sink whose writer handles submissions in order and fails the first `failures` of them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.queue: list[int] = []
        self.committed: list[int] = []

    def submit(self, batch_id: int, _items: list) -> None:
        self.queue.append(batch_id)

    def next_result(self, _timeout: float | None) -> tuple[int, object] | None:
        if not self.queue:
            return None
        batch_id = self.queue.pop(0)
        if self.failures > 0:
            self.failures -= 1
            return batch_id, "OperationalError: the database is down"
        self.committed.append(batch_id)
        return batch_id, BatchResult(messages=1)

    def close(self) -> None:
        pass


def test_a_failed_batch_commits_before_the_later_one_in_hand(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", broker_url="mqtt://127.0.0.1:1",
                             broker_password="unused-broker-password-0123", api_tokens=["t" * 24], writer_process=False)
    engine = create_db_engine(settings.resolved_database_url)
    service = IngestService(settings, engine, IngestMetrics())
    sink = FlakyWriter(failures=3)  # the batch, the one behind it, and the first retry fail
    pending = {1: [("t", b"{}", 1, 0)], 2: [("t", b"{}", 2, 0)]}  # QoS 0: nothing to acknowledge here
    sink.submit(1, [])
    sink.submit(2, [])
    batch_id, outcome = sink.next_result(None)
    assert (batch_id, isinstance(outcome, str)) == (1, True)
    assert service._retry_in_order(sink, pending, batch_id, outcome)
    assert sink.committed == [1, 2] and not pending
    assert service.metrics.commit_errors._value.get() == 3
    engine.dispose()
