"""Live stream clients with the same scope share one database poll; clients of another scope never do."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy.engine import Engine

from avfleet.controller.api import stream
from avfleet.controller.auth.principal import Scope
from avfleet.controller.fleet.service import FleetService
from avfleet.protocols.mqtt.payloads import parse_agent_message
from avfleet.protocols.mqtt.topics import parse_topic
from tests.controller import support


class _Client:
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds

    async def is_disconnected(self) -> bool:
        self.rounds -= 1
        return self.rounds < 0


def test_clients_of_one_scope_share_a_feed_and_each_gets_every_change(engine: Engine) -> None:
    ctx = SimpleNamespace(engine=engine)
    county, jkpg = Scope(), Scope(frozenset({"Jönköping"}))
    seen: dict[int, str] = {}

    async def client(n: int, scope: Scope, rounds: int) -> None:
        chunks = []
        async for chunk in stream.change_events(_Client(rounds), ctx, 0.05, scope):
            chunks.append(chunk)
        seen[n] = "".join(chunks)

    async def main() -> tuple[int, int]:
        tasks = [asyncio.create_task(client(n, county if n < 5 else jkpg, 40)) for n in range(7)]
        await asyncio.sleep(0.2)
        feeds, subscribers = len(stream._FEEDS), sorted(len(f.subscribers) for f in stream._FEEDS.values())
        msgs = [support.birth("vmo-1", 1, municipality="Värnamo", school="Gröndalsskolan", room="B7",
                              devices=["pj1"]), support.state("vmo-1", "pj1", 2, at=10, power="on")]
        with engine.begin() as conn:
            FleetService().apply(conn, [parse_agent_message(parse_topic(t), p) for t, p in msgs])
        await asyncio.gather(*tasks)
        assert subscribers == [2, 5]
        return feeds, len(stream._FEEDS)

    during, after = asyncio.run(main())
    assert during == 2 and after == 0  # one feed per scope, none left once the clients are gone
    for n in range(5):
        assert "event: device" in seen[n] and "vmo-1" in seen[n]  # every county client got the change
    for n in (5, 6):
        assert "vmo-1" not in seen[n] and "Värnamo" not in seen[n]  # the Jönköping clients did not
