"""Where batches go to be committed: a writer process (default) or a thread of this process.

paho's network loop and the batch writer both need the interpreter lock; in one process the
writer's validation and SQL slowed the network loop down to the sum of both costs. The writer
process takes that work to another core (docs/benchmarks.md). Results come back in order; a
batch is acknowledged only when its result says committed. A writer process that dies is
restarted and given every batch it had not answered; redelivered rows are deduplicated anyway.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, Protocol

from avfleet.controller.ingest.writer import BatchResult, BatchWriter
from avfleet.controller.settings import ControllerSettings

log = logging.getLogger("avfleet.controller.ingest")

Items = list[tuple[str, bytes]]
Result = tuple[int, BatchResult | str]  # (batch id, result, or the error text of a failed commit)


class Sink(Protocol):
    def submit(self, batch_id: int, items: Items) -> None: ...

    def next_result(self, timeout: float | None) -> Result | None: ...

    def close(self) -> None: ...


class ThreadSink:
    """Commits inline, in the caller's thread."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self._done: deque[Result] = deque()

    def submit(self, batch_id: int, items: Items) -> None:
        try:
            self._done.append((batch_id, self.writer.write(items)))
        except Exception as exc:
            log.exception("batch commit failed")
            self._done.append((batch_id, f"{type(exc).__name__}: {exc}"))

    def next_result(self, timeout: float | None) -> Result | None:
        return self._done.popleft() if self._done else None

    def close(self) -> None:
        self.writer.close()


def _writer_main(settings: ControllerSettings, conn: Connection) -> None:
    """The writer process: receive batches, commit, answer. Ends on None or a closed pipe."""
    import signal

    from avfleet.controller.gc_tuning import tune_gc
    from avfleet.logsetup import setup_logging

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    setup_logging(logging.INFO, tag="writer")
    writer = BatchWriter(settings)
    tune_gc()
    requests: queue.SimpleQueue = queue.SimpleQueue()

    def receive() -> None:
        # The pipe is always drained, so the parent's send of its next batch never waits on this
        # process's send of a result: with both blocked on full socket buffers (a large batch one way,
        # a result with many rejections the other) each would wait for the other for ever. Found by
        # the ingest fuzzing test (tests/controller/test_ingest_fuzzing.py).
        try:
            while True:
                item = conn.recv()
                requests.put(item)
                if item is None:
                    return
        except (EOFError, OSError):
            requests.put(None)

    threading.Thread(target=receive, name="avfleet-writer-receive", daemon=True).start()
    try:
        while True:
            request = requests.get()
            if request is None:
                return
            batch_id, items = request
            try:
                conn.send((batch_id, writer.write(items)))
            except Exception as exc:
                log.exception("batch commit failed")
                conn.send((batch_id, f"{type(exc).__name__}: {exc}"))
    finally:
        writer.close()


class ProcessSink:
    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._unanswered: dict[int, Items] = {}
        self._proc: Any = None
        self._conn: Connection | None = None
        self._start()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_writer_main, args=(self.settings, child), daemon=True,
                                       name="avfleet-ingest-writer")
        self._proc.start()
        child.close()
        self._conn = parent

    def _restart(self) -> None:
        log.error("the ingest writer process ended (exit code %s); restarting it with %d unanswered batches",
                  self._proc.exitcode if self._proc else None, len(self._unanswered))
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self._start()
        for batch_id, items in self._unanswered.items():
            self._conn.send((batch_id, items))

    def submit(self, batch_id: int, items: Items) -> None:
        self._unanswered[batch_id] = items
        try:
            self._conn.send((batch_id, items))
        except (OSError, EOFError):
            self._restart()

    def next_result(self, timeout: float | None) -> Result | None:
        try:
            if not self._conn.poll(timeout):
                if self._proc is not None and not self._proc.is_alive():
                    self._restart()
                return None
            batch_id, result = self._conn.recv()
        except Exception:  # EOF, a broken pipe, or a reply cut short by the writer's death
            self._restart()
            return None
        self._unanswered.pop(batch_id, None)
        return batch_id, result

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._conn.send(None)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        self._conn.close()
