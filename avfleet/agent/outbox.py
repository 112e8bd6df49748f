"""The agent's store-and-forward outbox: every outgoing MQTT message lives here until the broker acks it.

SQLite in WAL mode with `synchronous=NORMAL`: a commit appends to the WAL without an fsync, which
survives a crashed or killed process (the OS has the pages) and spares the SD card; single-row
commits cost ~10 KB of writes per 100-byte message, batches of a few hundred ~0.3 KB (mqtt.md §1.5).
Messages therefore collect in memory and are committed together by `flush()`, which the agent calls
every `commit_interval_s` or when `commit_batch` messages are waiting. Only committed messages are
handed to the MQTT link, so a `seq` never reaches the broker before it is on disk. The newest row
is never deleted, only flagged acked, so after a crash MAX(seq) is at least every seq the broker
could have seen and numbering goes on from there (strictly increasing across restarts) without a
counter page written per commit. The file also holds a random `epoch`, made with it: seq counts
within one epoch, so a lost file (new SD card) numbers from 1 under a new epoch, which the
controller does not confuse with the old messages. Bodies are stored zlib-compressed: a JSON state shrinks about
2x, and so do the WAL and checkpoint writes.

The outbox is bounded (`max_messages`): beyond it the oldest rows are deleted at commit and the
count is kept in `dropped` (persisted, reported in health). A row is deleted after its PUBACK
(`ack`). A row can carry a `supersede` key: committing a newer row with the same key deletes the
older undelivered ones (an old `status: offline` must never be replayed after a newer `online`).

Also stores the command ids the agent has handled, so a repeated command runs once even across
restarts. All methods are thread-safe (one lock); the agent uses them from its event loop.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("avfleet.agent.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    replayed INTEGER NOT NULL DEFAULT 0,
    supersede TEXT,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_supersede ON messages(supersede) WHERE supersede IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commands (
    command_id TEXT PRIMARY KEY,
    received REAL NOT NULL,
    status TEXT,
    detail TEXT
);
"""


class OutboxError(Exception):
    """The outbox file cannot be opened or written (disk full, permissions, corrupt file)."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    seq: int
    topic: str
    body: bytes  # JSON object without its `replayed` field; see `payload()`
    qos: int
    retain: bool
    replayed: bool

    def payload(self, replayed: bool | None = None) -> bytes:
        """The wire payload: the body with `"replayed"` appended as the last field."""
        flag = self.replayed if replayed is None else replayed
        return self.body[:-1] + (b',"replayed":true}' if flag else b',"replayed":false}')


@dataclass(frozen=True, slots=True)
class CommandRecord:
    command_id: str
    status: str | None  # None while the command is still running
    detail: str | None


class Outbox:
    def __init__(self, path: str | Path, *, max_messages: int = 100_000, commit_batch: int = 500) -> None:
        self.path = Path(path)
        self.max_messages = max_messages
        self.commit_batch = commit_batch
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[int, str, bytes, int, int, int, str | None]] = []
        self._acked: set[int] = set()
        self._mark_replayed = False
        self._last_seq = 0  # highest seq handed out
        self._top = 0  # highest seq in the messages table; its row is kept (acked) as the seq high-water mark
        self._top_acked = False
        self._dropped = 0
        self._dropped_stored = 0  # the `dropped` in meta
        self._depth = 0  # committed rows
        self._epoch = 0  # random, made with the file; seq counts within it (see `epoch`)
        self.commits = 0

    # ---- life cycle ---------------------------------------------------------------------------

    def open(self) -> Outbox:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            top, top_acked = db.execute(
                "SELECT COALESCE(MAX(seq), 0), COALESCE(MAX(acked), 0) FROM messages "
                "WHERE seq = (SELECT MAX(seq) FROM messages)"
            ).fetchone()
            (depth,) = db.execute("SELECT COUNT(*) FROM messages WHERE acked = 0").fetchone()
            epoch = int(meta.get("epoch", 0))
            if not epoch:
                # A new file (or one from before epochs): a new numbering. Stored as an integer because
                # meta's values are; 63 random bits make a clash between two outboxes of one agent moot.
                epoch = secrets.randbits(63) or 1
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
            # Rows left by an earlier run were not acknowledged: they are replays now.
            db.execute("UPDATE messages SET replayed = 1 WHERE replayed = 0 AND acked = 0")
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        self._db = db
        self._epoch = epoch
        self._last_seq = max(int(meta.get("last_seq", 0)), int(top))
        self._top, self._top_acked = int(top), bool(top_acked)
        self._dropped = self._dropped_stored = int(meta.get("dropped", 0))
        self._depth = int(depth)
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            try:
                self._flush_locked()
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)",
                                 (self._last_seq,))
            except (OutboxError, sqlite3.Error) as exc:
                log.error("outbox %s not written at shutdown (%s): %d messages lost", self.path, exc,
                          len(self._pending))
            self._db.close()
            self._db = None

    # ---- numbering ----------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The next sequence number; persisted with the batch that holds its message.

        The newest row is never deleted, only flagged acked, so MAX(seq) of the table is the high-water
        mark after a crash without an extra page write per commit for a counter.
        """
        with self._lock:
            self._last_seq += 1
            return self._last_seq

    def reserve_seq(self) -> int:
        """A sequence number persisted at once, for a message that bypasses the outbox (the Last Will)."""
        with self._lock:
            self._last_seq += 1
            if self._db is None:
                raise OutboxError("outbox is closed")
            try:
                self._flush_locked()
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)",
                                 (self._last_seq,))
            except (OutboxError, sqlite3.Error) as exc:
                # A full disk must not stop the link from connecting (its thread would die and never
                # reconnect): the number is unique in this run; only a crash before the next good
                # commit could hand it out again.
                log.warning("could not persist the Last Will's seq %d: %s", self._last_seq, exc)
            return self._last_seq

    # ---- messages -----------------------------------------------------------------------------

    def add(
        self,
        seq: int,
        topic: str,
        body: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        replayed: bool = False,
        supersede: str | None = None,
    ) -> None:
        if not body.endswith(b"}"):
            raise ValueError("outbox bodies are JSON objects")
        # Compressed on disk: JSON states shrink ~2x, and so do the WAL and checkpoint writes to the SD card.
        stored = zlib.compress(body, 6)
        with self._lock:
            self._pending.append((seq, topic, stored, qos, int(retain), int(replayed), supersede))

    @property
    def pending(self) -> int:
        """Messages added but not yet committed."""
        return len(self._pending)

    def flush(self) -> int:
        """Commit pending messages, acks and evictions in one transaction; returns rows written."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        db = self._db
        if db is None:
            raise OutboxError("outbox is closed")
        rows, self._pending = self._pending, []
        acked, self._acked = self._acked, set()
        mark = self._mark_replayed
        self._mark_replayed = False
        if not rows and not acked and not mark:
            return 0
        top, top_acked = self._top, self._top_acked
        try:
            db.execute("BEGIN")
            if acked:
                cur = db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in acked if s != top])
                self._depth -= max(cur.rowcount, 0)
                if top in acked and not top_acked:
                    db.execute("UPDATE messages SET acked = 1 WHERE seq = ?", (top,))
                    self._depth -= 1
                    top_acked = True
            if mark:
                db.execute("UPDATE messages SET replayed = 1 WHERE replayed = 0 AND acked = 0")
            if rows:
                if top_acked:
                    db.execute("DELETE FROM messages WHERE seq = ?", (top,))  # no longer the newest
                top, top_acked = max(top, max(r[0] for r in rows)), False
                db.executemany(
                    "INSERT OR REPLACE INTO messages (seq, topic, payload, qos, retain, replayed, supersede) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._depth += len(rows)
                newest: dict[str, int] = {}
                for row in rows:
                    if row[6] is not None:
                        newest[row[6]] = row[0]
                for key, seq in newest.items():
                    cur = db.execute(
                        "DELETE FROM messages WHERE supersede = ? AND seq < ? AND acked = 0", (key, seq)
                    )
                    self._depth -= max(cur.rowcount, 0)
            dropped_now = 0
            if self._dropped != self._dropped_stored:  # counted while a commit failed (disk full)
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self._dropped,))
            if self._depth > self.max_messages:
                excess = self._depth - self.max_messages
                cur = db.execute(
                    "DELETE FROM messages WHERE seq IN "
                    "(SELECT seq FROM messages WHERE acked = 0 ORDER BY seq LIMIT ?)",
                    (excess,),
                )
                dropped_now = max(cur.rowcount, 0)
                self._depth -= dropped_now
                self._dropped += dropped_now
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self._dropped,))
            db.execute("COMMIT")
            self._dropped_stored = self._dropped
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            # Keep what we had so a later flush can try again (disk full clears up, a lock goes away).
            self._pending = rows + self._pending
            self._acked |= acked
            self._mark_replayed = self._mark_replayed or mark
            # While the disk stays full the messages wait in memory, within the same bound as on disk:
            # the oldest go first and are counted (health's outbox_dropped), never silently lost.
            excess = len(self._pending) - self.max_messages
            if excess > 0:
                del self._pending[:excess]
                self._dropped += excess
            raise OutboxError(f"cannot write outbox {self.path}: {exc}") from exc
        self._top, self._top_acked = top, top_acked
        self.commits += 1
        return len(rows)

    def fetch(self, after_seq: int, limit: int) -> list[OutboxMessage]:
        """Committed, unacknowledged messages with seq > after_seq, oldest first."""
        with self._lock:
            if self._db is None:
                raise OutboxError("outbox is closed")
            cur = self._db.execute(
                "SELECT seq, topic, payload, qos, retain, replayed FROM messages "
                "WHERE seq > ? AND acked = 0 ORDER BY seq LIMIT ?",
                (after_seq, limit + len(self._acked)),
            )
            out = [
                OutboxMessage(seq, topic, _body(payload), qos, bool(retain), bool(replayed))
                for seq, topic, payload, qos, retain, replayed in cur
                if seq not in self._acked
            ]
        return out[:limit]

    def ack(self, seqs: Iterable[int]) -> None:
        """The broker has these; they are deleted with the next commit."""
        with self._lock:
            self._acked.update(seqs)

    def mark_all_replayed(self) -> None:
        """The connection dropped: whatever is still here goes out again as a replay."""
        with self._lock:
            self._mark_replayed = True
            self._pending = [(*r[:5], 1, r[6]) for r in self._pending]

    @property
    def depth(self) -> int:
        """Messages waiting for the broker (committed, not yet acked, plus pending)."""
        return max(self._depth - len(self._acked), 0) + len(self._pending)

    @property
    def dropped(self) -> int:
        """Messages evicted because the outbox was full, since the file was created."""
        return self._dropped

    @property
    def last_seq(self) -> int:
        return self._last_seq

    @property
    def epoch(self) -> str:
        """The envelope's `epoch`: this file's random id as hex. A lost outbox (new SD card, reinstall)
        starts seq at 1 again under a new epoch, so the controller does not take it for duplicates."""
        return f"{self._epoch:x}"

    def contains(self, seq: int) -> bool:
        """True while the message is pending or committed and not yet acknowledged."""
        with self._lock:
            if seq in self._acked:
                return False
            if any(row[0] == seq for row in self._pending):
                return True
            if self._db is None:
                return False
            row = self._db.execute("SELECT 1 FROM messages WHERE seq = ? AND acked = 0", (seq,)).fetchone()
            return row is not None

    def committed_seqs(self) -> list[int]:
        """Every committed, unacknowledged seq (for tests and diagnostics)."""
        with self._lock:
            if self._db is None:
                raise OutboxError("outbox is closed")
            cur = self._db.execute("SELECT seq FROM messages WHERE acked = 0 ORDER BY seq")
            return [s for (s,) in cur if s not in self._acked]

    # ---- command ids --------------------------------------------------------------------------

    def command_record(self, command_id: str) -> CommandRecord | None:
        with self._lock:
            if self._db is None:
                raise OutboxError("outbox is closed")
            row = self._db.execute(
                "SELECT status, detail FROM commands WHERE command_id = ?", (command_id,)
            ).fetchone()
        return CommandRecord(command_id, row[0], row[1]) if row else None

    def command_started(self, command_id: str, keep: int = 10_000) -> bool:
        """Record a command id before running it (committed at once); False if it was seen before."""
        with self._lock:
            if self._db is None:
                raise OutboxError("outbox is closed")
            try:
                self._db.execute("BEGIN")
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO commands (command_id, received) VALUES (?, ?)", (command_id, time.time())
                )
                fresh = cur.rowcount == 1
                if fresh:
                    self._db.execute(
                        "DELETE FROM commands WHERE command_id IN "
                        "(SELECT command_id FROM commands ORDER BY received DESC LIMIT -1 OFFSET ?)",
                        (keep,),
                    )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise OutboxError(f"cannot record command {command_id!r}: {exc}") from exc
        return fresh

    def command_finished(self, command_id: str, status: str, detail: str | None) -> None:
        with self._lock:
            if self._db is None:
                raise OutboxError("outbox is closed")
            self._db.execute(
                "UPDATE commands SET status = ?, detail = ? WHERE command_id = ?", (status, detail, command_id)
            )


def _body(stored: bytes) -> bytes:
    data = bytes(stored)
    return data if data.startswith(b"{") else zlib.decompress(data)
