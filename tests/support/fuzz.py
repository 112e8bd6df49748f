"""Random and mutated agent payloads for the ingest fuzzing test (deterministic per seed).

Each `Mutant` says whether it is certainly invalid (the controller must refuse it) or merely odd (it may
be accepted if it still satisfies the contract, e.g. a dropped optional field). The mutations follow what
a broken or hostile agent sends: random bytes, truncation, flipped bytes, invalid UTF-8, wrong types,
missing required fields, unknown fields, huge numbers, non-finite numbers, deep nesting, long strings,
other agents' ids in the payload (spoofing), bad timestamps and bad seqs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.controller import support

REQUIRED = ("agent_id", "seq", "ts")  # `v` and `replayed` have defaults


@dataclass(frozen=True)
class Mutant:
    topic: str
    payload: bytes
    invalid: bool  # certainly refused by a correct controller
    how: str


def templates(agent_id: str, seq: int) -> list[tuple[str, bytes]]:
    """One valid message of each kind for `agent_id` (a state, an event, a birth, a status, a health)."""
    return [
        support.state(agent_id, "pj1", seq, at=seq),
        support.event(agent_id, "pj1", seq, at=seq),
        support.birth(agent_id, seq, municipality="Jönköping", school="Fuzz", room="F1", devices=["pj1"], at=seq),
        support.status(agent_id, seq, "online", at=seq),
        support.health(agent_id, seq, at=seq),
    ]


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _wrong_type(rng: random.Random) -> Any:
    return rng.choice(["x", 12, -1, 2**70, 1.5, True, None, [], {}, [1, 2], {"a": 1}, "9" * 400])


def mutants(agent_id: str, victim: str, count: int, seed: int = 1) -> Iterator[Mutant]:
    """`count` mutants on `agent_id`'s own topics; some carry `victim` as their agent id (spoofing)."""
    rng = random.Random(seed)
    seq = 1_000_000  # away from the valid traffic's seqs

    def base() -> tuple[str, dict[str, Any]]:
        nonlocal seq
        seq += 1
        topic, payload = rng.choice(templates(agent_id, seq))
        return topic, json.loads(payload)

    def random_bytes() -> Mutant:
        topic, _ = base()
        return Mutant(topic, rng.randbytes(rng.randint(0, 600)), True, "random bytes")

    def truncated() -> Mutant:
        topic, body = base()
        raw = _json(body)
        return Mutant(topic, raw[:rng.randint(0, len(raw) - 2)], True, "truncated")

    def flipped() -> Mutant:
        topic, body = base()
        raw = bytearray(_json(body))
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return Mutant(topic, bytes(raw), False, "flipped bytes")  # a flip inside a string may stay valid

    def bad_utf8() -> Mutant:
        topic, body = base()
        raw = _json(body)
        cut = rng.randrange(1, len(raw) - 1)
        return Mutant(topic, raw[:cut] + b"\xff\xfe\xc3" + raw[cut:], True, "invalid UTF-8")

    def missing_required() -> Mutant:
        topic, body = base()
        del body[rng.choice(REQUIRED)]
        return Mutant(topic, _json(body), True, "missing required field")

    def wrong_type() -> Mutant:
        topic, body = base()
        key = rng.choice(list(body))
        body[key] = _wrong_type(rng)
        return Mutant(topic, _json(body), False, f"wrong type of {key}")

    def unknown_field() -> Mutant:
        topic, body = base()
        body[f"x_{rng.randrange(10**6)}"] = _wrong_type(rng)
        return Mutant(topic, _json(body), False, "unknown field")

    def non_finite() -> Mutant:
        topic, body = base()
        raw = _json(body).replace(b'"seq": ' + str(body["seq"]).encode(), b'"seq": ' + rng.choice(
            [b"NaN", b"Infinity", b"-Infinity", b"1e400"]))
        return Mutant(topic, raw, True, "non-finite seq")

    def deep() -> Mutant:
        topic, body = base()
        depth = rng.randint(200, 3000)
        raw = _json(body)[:-1] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
        return Mutant(topic, raw, True, "deep nesting")

    def long_text() -> Mutant:
        topic, body = base()
        key = rng.choice([k for k in body if isinstance(body[k], str)] or ["ts"])
        body[key] = "å" * rng.randint(5_000, 60_000)
        return Mutant(topic, _json(body), True, f"long {key}")

    def spoofed() -> Mutant:
        topic, body = base()
        body["agent_id"] = victim
        return Mutant(topic, _json(body), True, "another agent's id in the payload")

    def bad_seq() -> Mutant:
        topic, body = base()
        body["seq"] = rng.choice([-5, -1, 2**63, 2**64, "12", 1.5, None, True])
        return Mutant(topic, _json(body), True, "bad seq")

    def bad_time() -> Mutant:
        topic, body = base()
        body["ts"] = rng.choice(["yesterday", "2026-13-45T25:61:00Z", "", "0000-00-00T00:00:00Z", 1234567890])
        return Mutant(topic, _json(body), True, "bad timestamp")

    def not_an_object() -> Mutant:
        topic, _ = base()
        return Mutant(topic, _json(rng.choice([[], [1, 2, 3], "state", 42, None, True])), True, "not an object")

    def wrong_topic() -> Mutant:
        _, body = base()
        suffix = rng.choice(["dev/pj1/nonsense", "dev//state", "dev/pj1/state/extra", "cmd", "dev/p j/state",
                             "dev/" + "d" * 200 + "/state", "unknown"])
        return Mutant(f"avfleet/v1/agent/{agent_id}/{suffix}", _json(body), True, f"topic {suffix[:20]}")

    kinds: list[Callable[[], Mutant]] = [random_bytes, truncated, flipped, bad_utf8, missing_required, wrong_type,
                                         unknown_field, non_finite, deep, long_text, spoofed, bad_seq, bad_time,
                                         not_an_object, wrong_topic]
    for _ in range(count):
        yield rng.choice(kinds)()
