"""Agents' units matched to the register through the real ingest writer, on SQLite and PostgreSQL.

Serial first, then MAC; an unknown unit waits in the "to be placed" list until the register knows
it; a unit an agent reports from another room is flagged as moved; what agents see (firmware, a
swap) goes into the unit's history with the agent as its author.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.ingest.writer import BatchWriter
from avfleet.controller.inventory import importer, register
from avfleet.controller.inventory.models import InventoryRecord, InventoryUnit
from avfleet.controller.settings import load_settings
from avfleet.controller.tickets.context import _warranty
from avfleet.inventory import csvfile
from tests.controller.inventory.support import good_row
from tests.controller.support import EPOCH, birth, state, status

UNITS = InventoryUnit.__table__
RECORDS = InventoryRecord.__table__
A = "jkpg-ekhagen-a12"


class Fleet:
    """Contract messages through a BatchWriter with increasing seq numbers (as the tickets tests do)."""

    def __init__(self, db_url: str, engine: Engine) -> None:
        self.writer = BatchWriter(load_settings(demo=True, database_url=db_url), engine)
        self.seq = 0
        self.t = (datetime.now(UTC) - EPOCH).total_seconds() - 60

    def _next(self) -> int:
        self.seq += 1
        self.t += 1
        return self.seq

    def birth(self, room: str, devices: tuple[str, ...]) -> None:
        self.writer.write([birth(A, self._next(), municipality="Jönköping", school="Ekhagens skola", room=room,
                                 devices=devices, at=self.t), status(A, self._next(), "online", at=self.t)])

    def state(self, device: str, *, serial: str | None, mac: str | None = None, firmware: str = "1.0") -> None:
        topic, payload = state(A, device, self._next(), at=self.t, serial=serial, firmware=firmware)
        body = json.loads(payload)
        body["identity"]["mac"] = mac
        self.writer.write([(topic, json.dumps(body).encode())])


def unit(engine: Engine, serial: str | None = None, mac: str | None = None) -> dict:
    with engine.connect() as conn:
        found = register.match(conn, serial, mac)
        assert found is not None
        return register.detail(conn, found["id"])


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    rows = [{**good_row(1), "municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12", "serial": "SN-A",
             "mac": ""},
            {**good_row(2), "municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12", "serial": "",
             "mac": "00:11:22:33:44:55"},
            {**good_row(3), "municipality": "Jönköping", "school": "Ekhagens skola", "room": "C1", "serial": "SN-C",
             "mac": "", "warranty_end": "2030-01-31"}]
    with write_transaction(engine) as conn:
        report = importer.import_csv(conn, csvfile.write(rows), by="test", now=datetime.now(UTC))
    assert report["counts"]["created"] == 3
    return engine


def test_units_are_matched_by_serial_then_mac_and_the_rest_waits_to_be_placed(db_url: str, seeded: Engine) -> None:
    fleet = Fleet(db_url, seeded)
    fleet.birth("A12", ("pj-1", "pj-2", "pj-3", "pj-4"))
    fleet.state("pj-1", serial="SN-A", mac="00:11:22:33:44:55")  # serial wins over the MAC of another unit
    fleet.state("pj-2", serial="SN-B", mac="00-11-22-33-44-55")  # no unit has SN-B: the MAC matches
    fleet.state("pj-3", serial="SN-C")
    fleet.state("pj-4", serial="SN-X")

    a, b, c = unit(seeded, "SN-A"), unit(seeded, mac="00:11:22:33:44:55"), unit(seeded, "SN-C")
    assert (a["agent_id"], a["device_id"]) == (A, "pj-1")
    assert (b["agent_id"], b["device_id"]) == (A, "pj-2")
    assert b["serial"] == "SN-B", "the serial the agent saw fills the register's gap"
    assert a["mac"] is None, "a MAC another unit has is not copied"
    assert [(h["field"], h["new"], h["by"]) for h in a["history"][1:]] == [
        ("agent_id", A, f"agent:{A}"), ("device_id", "pj-1", f"agent:{A}"), ("firmware", "1.0", f"agent:{A}")]
    assert not a["moved"] and not b["moved"]
    assert c["moved"] and c["seen_at"] == {"municipality": "Jönköping", "school": "Ekhagens skola", "room": "A12"}

    with seeded.connect() as conn:
        moved, total = register.list_units(conn, filters={}, moved=True, limit=10, offset=0)
        assert total == 1 and moved[0]["serial"] == "SN-C"
        waiting, total = register.unplaced(conn, limit=10, offset=0)
    assert total == 1 and (waiting[0]["device_id"], waiting[0]["serial"], waiting[0]["room"]) == ("pj-4", "SN-X", "A12")

    # The register learns SN-X (an import): the waiting unit is placed and takes the agent's device id.
    with write_transaction(seeded) as conn:
        importer.import_csv(conn, csvfile.write([{**good_row(4), "municipality": "Jönköping",
                                                  "school": "Ekhagens skola", "room": "A12", "serial": "SN-X"}]),
                            by="test", now=datetime.now(UTC))
        assert register.unplaced(conn, limit=10, offset=0)[1] == 0
    assert unit(seeded, "SN-X")["device_id"] == "pj-4"

    # The moved unit is put in its new room: no longer flagged.
    with write_transaction(seeded) as conn:
        register.edit(conn, c["id"], {"room": "A12"}, "test", datetime.now(UTC))
    assert not unit(seeded, "SN-C")["moved"]

    # Tickets read the warranty from the register.
    with seeded.connect() as conn:
        assert _warranty(conn, A, "pj-3", datetime.now(UTC).date()) == {"warranty_end": "2030-01-31",
                                                                         "warranty": "active"}


def test_firmware_and_swaps_go_into_the_history(db_url: str, seeded: Engine) -> None:
    fleet = Fleet(db_url, seeded)
    fleet.birth("A12", ("pj-1",))
    fleet.state("pj-1", serial="SN-A", firmware="1.0")
    fleet.state("pj-1", serial="SN-A", firmware="1.1")
    a = unit(seeded, "SN-A")
    assert a["firmware"] == "1.1"
    assert ("firmware", "1.0", "1.1", f"agent:{A}") in [(h["field"], h["old"], h["new"], h["by"]) for h in a["history"]]

    fleet.state("pj-1", serial="SN-C")  # a technician swapped in the unit from C1
    a, c = unit(seeded, "SN-A"), unit(seeded, "SN-C")
    assert (a["agent_id"], a["device_id"]) == (None, None), "the swapped-out unit no longer stands behind pj-1"
    assert (c["agent_id"], c["device_id"]) == (A, "pj-1") and c["moved"]
    with seeded.connect() as conn:
        records = conn.execute(sa.select(RECORDS.c.serial, RECORDS.c.closed_reason, RECORDS.c.unit_id)
                               .order_by(RECORDS.c.id)).all()
    assert [(r.serial, r.closed_reason, r.unit_id) for r in records] == [("SN-A", "swapped", a["id"]),
                                                                         ("SN-C", None, c["id"])]
