"""The demo step that imports the county's register: every unit an agent reports is matched, and more."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.inventory.models import InventoryUnit, RepairCase
from avfleet.demo.county import plan_rooms
from avfleet.demo.fleet import model_of
from avfleet.demo.identities import projector_models, serial_number
from avfleet.demo.inventory import seed_inventory
from avfleet.demo.steps import demo_steps

UNITS = InventoryUnit.__table__
REPAIRS = RepairCase.__table__


def test_demo_register_holds_every_projector_and_a_life_cycle(engine: Engine) -> None:
    assert seed_inventory in demo_steps()
    rooms = plan_rooms(60)
    ctx = SimpleNamespace(rooms=rooms, controller=SimpleNamespace(engine=engine))
    seed_inventory(ctx)
    seed_inventory(ctx)  # a data directory used again: nothing doubles
    with engine.connect() as conn:
        units = conn.execute(sa.select(UNITS)).mappings().all()
        cases = conn.execute(sa.select(REPAIRS)).mappings().all()
    serials = {u["serial"]: u for u in units}
    models = projector_models()
    for room in rooms:
        for index in room.projectors:
            unit = serials[serial_number(model_of(room, models), index)]
            assert (unit["municipality"], unit["school"], unit["room"]) == (room.municipality, room.school, room.room)
    lifecycles = Counter(u["lifecycle"] for u in units)
    assert lifecycles["in_use"] >= 60 and lifecycles["spare"] > 0
    assert lifecycles["recycled"] > 0 and lifecycles["reused"] > 0  # the retired units' later lives
    assert {u["municipality"] for u in units} == {r.municipality for r in rooms}
    assert all(u["purchase_date"] <= u["install_date"] and u["warranty_end"] > u["purchase_date"] for u in units)
    assert cases and all(c["closed_at"] > c["opened_at"] and c["outcome"] == "returned" for c in cases)
    assert len(cases) == len({c["unit_id"] for c in cases})
