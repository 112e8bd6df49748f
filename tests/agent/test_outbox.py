"""The outbox on a real SQLite file: numbering across restarts, batching, bound and eviction, acks, replay flags."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from avfleet.agent.outbox import Outbox


def _add(outbox: Outbox, topic: str = "t", **kw) -> int:
    seq = outbox.next_seq()
    outbox.add(seq, topic, json.dumps({"seq": seq}).encode(), **kw)
    return seq


def test_seq_survives_restarts_even_after_every_message_was_acked(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    outbox = Outbox(path).open()
    seqs = [_add(outbox) for _ in range(5)]
    outbox.flush()
    outbox.ack(seqs)
    outbox.flush()
    assert outbox.depth == 0 and outbox.fetch(0, 10) == []
    outbox._db.close()  # a crash: no clean close writes the counter; the newest (acked) row still holds it
    again = Outbox(path).open()
    assert again.depth == 0 and again.fetch(0, 10) == []
    assert again.next_seq() == 6
    will = again.reserve_seq()  # persisted at once, although no row holds it
    again._db.close()  # simulate a crash: no clean close, nothing flushed since
    third = Outbox(path).open()
    assert third.next_seq() == will + 1
    third.close()


def test_uncommitted_seqs_are_reused_only_because_they_never_left(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite").open()
    committed = _add(outbox)
    outbox.flush()
    _add(outbox)  # pending, lost in the crash; it was never published (only committed rows are)
    outbox._db.close()
    again = Outbox(tmp_path / "o.sqlite").open()
    assert again.next_seq() == committed + 1
    assert [m.seq for m in again.fetch(0, 10)] == [committed]


def test_fetch_returns_committed_rows_in_order_without_acked(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite").open()
    seqs = [_add(outbox) for _ in range(10)]
    assert outbox.fetch(0, 100) == []  # nothing before the commit
    outbox.flush()
    outbox.ack([seqs[0], seqs[3]])
    assert [m.seq for m in outbox.fetch(0, 100)] == [s for s in seqs if s not in (seqs[0], seqs[3])]
    assert [m.seq for m in outbox.fetch(seqs[5], 2)] == seqs[6:8]
    outbox.flush()
    assert outbox.depth == 8
    outbox.close()


def test_bound_evicts_oldest_first_and_counts_across_restarts(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=10).open()
    seqs = [_add(outbox) for _ in range(25)]
    outbox.flush()
    assert outbox.depth == 10 and outbox.dropped == 15
    assert [m.seq for m in outbox.fetch(0, 100)] == seqs[-10:]
    outbox.close()
    again = Outbox(tmp_path / "o.sqlite", max_messages=10).open()
    assert again.dropped == 15 and again.depth == 10
    again.close()


def test_replay_flag_for_rows_of_an_earlier_run_and_after_a_disconnect(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite").open()
    a = _add(outbox)
    outbox.flush()
    (row,) = outbox.fetch(0, 10)
    assert row.replayed is False and json.loads(row.payload()) == {"seq": a, "replayed": False}
    outbox.mark_all_replayed()
    b = _add(outbox, replayed=True)
    outbox.flush()
    assert [(m.seq, m.replayed) for m in outbox.fetch(0, 10)] == [(a, True), (b, True)]
    c = _add(outbox)
    outbox.close()
    again = Outbox(tmp_path / "o.sqlite").open()
    rows = again.fetch(0, 10)
    assert [m.seq for m in rows] == [a, b, c] and all(m.replayed for m in rows)
    assert json.loads(rows[-1].payload()) == {"seq": c, "replayed": True}
    again.close()


def test_supersede_keeps_only_the_newest_undelivered_status(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite").open()
    old = _add(outbox, "status", supersede="status")
    state = _add(outbox, "state")
    outbox.flush()
    new = _add(outbox, "status", supersede="status")
    outbox.flush()
    assert [m.seq for m in outbox.fetch(0, 10)] == [state, new]
    assert old not in outbox.committed_seqs()
    outbox.close()


def test_batched_commits_write_far_less_than_one_commit_per_message(tmp_path: Path) -> None:
    body = json.dumps({"device_id": "pj-01", "power": "on", "lamps": [{"hours": 1234, "on": True}]}).encode()

    def wal_bytes(batch: int) -> int:
        path = tmp_path / f"o{batch}.sqlite"
        outbox = Outbox(path).open()
        outbox._db.execute("PRAGMA wal_autocheckpoint=0")  # measure what the commits append to the WAL
        start = (path.parent / (path.name + "-wal")).stat().st_size
        for i in range(200):
            seq = outbox.next_seq()
            outbox.add(seq, "t", body)
            if (i + 1) % batch == 0:
                outbox.flush()
        size = (path.parent / (path.name + "-wal")).stat().st_size - start
        outbox.close()
        return size

    assert wal_bytes(100) * 10 < wal_bytes(1)


def test_command_ids_are_remembered_across_restarts(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite").open()
    assert outbox.command_started("c1") is True
    assert outbox.command_started("c1") is False
    assert outbox.command_record("c1").status is None
    outbox.command_finished("c1", "done", None)
    outbox.close()
    again = Outbox(tmp_path / "o.sqlite").open()
    assert again.command_started("c1") is False
    assert again.command_record("c1").status == "done"
    for i in range(5):
        again.command_started(f"x{i}", keep=3)
    count = sqlite3.connect(tmp_path / "o.sqlite").execute("SELECT COUNT(*) FROM commands").fetchone()[0]
    assert count == 3
    again.close()


def test_epoch_is_made_with_the_file_kept_across_restarts_and_new_for_a_lost_file(tmp_path: Path) -> None:
    from avfleet.protocols.mqtt.payloads import EPOCH_PATTERN, LEGACY_EPOCH, Envelope

    path = tmp_path / "o.sqlite"
    first = Outbox(path).open()
    epoch = first.epoch
    assert epoch != LEGACY_EPOCH
    Envelope.model_validate({"agent_id": "a", "seq": 1, "epoch": epoch, "ts": "2026-01-01T00:00:00Z"})
    first._db.close()  # a crash: the epoch was written when the file was made
    again = Outbox(path).open()
    assert again.epoch == epoch
    again.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)  # a new SD card
    lost = Outbox(path).open()
    assert lost.next_seq() == 1 and lost.epoch != epoch
    lost.close()

    old = tmp_path / "old.sqlite"  # a file from before epochs: it gets one on first open, once
    db = sqlite3.connect(old)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
                     "INSERT INTO meta VALUES ('last_seq', 41);")
    db.commit()
    db.close()
    upgraded = Outbox(old).open()
    assert upgraded.next_seq() == 42 and upgraded.epoch not in (LEGACY_EPOCH, epoch)
    import re

    assert re.fullmatch(EPOCH_PATTERN.strip("^$"), upgraded.epoch)
    kept = upgraded.epoch
    upgraded.close()
    assert Outbox(old).open().epoch == kept
