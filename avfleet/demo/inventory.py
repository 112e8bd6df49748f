"""Demo step: an inventory register for the demo county, so inventory pages and reports have content.

The register is imported the way a media centre would: one inventory CSV through the controller's
importer (the same path as `avfleet inventory import`), built from the demo plan, so every projector
and display the agents report matches its register unit by serial or MAC. Beside them a school holds
units no agent reports (document cameras, a spare projector) and units from earlier years that were
retired, reused or recycled. A few units went through repair, some under warranty. Dates are
deterministic per unit, spread over the last eight years.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from avfleet.controller.db import write_transaction
from avfleet.controller.inventory import importer, repairs
from avfleet.demo.county import Room
from avfleet.demo.errors import DemoError
from avfleet.demo.fleet import model_of
from avfleet.demo.identities import mac_address, projector_models, serial_number
from avfleet.inventory import csvfile
from avfleet.profiles.library import load_library

if TYPE_CHECKING:
    from avfleet.demo.run import DemoContext

log = logging.getLogger("avfleet.demo")

SUPPLIERS = ("Atea Sverige AB", "Dustin Sverige AB", "Advania Sverige AB")
BY = "demo"
SEED = 2026


def _bought(rng: random.Random, today: date) -> tuple[date, date, date]:
    """Purchase date, installation a week or two later, and warranty end (3 or 5 years)."""
    purchase = today - timedelta(days=rng.randint(60, 8 * 365))
    install = purchase + timedelta(days=rng.randint(5, 20))
    years = rng.choice((3, 3, 5))
    warranty = date(purchase.year + years, purchase.month, min(purchase.day, 28))
    return purchase, min(install, today), warranty


def _unit(room: Room, kind: str, manufacturer: str, model: str, *, serial: str | None, mac: str | None,
          firmware: str | None, rng: random.Random, today: date, lifecycle: str = "in_use",
          notes: str = "") -> dict[str, Any]:
    purchase, install, warranty = _bought(rng, today)
    return {"municipality": room.municipality, "school": room.school, "room": room.room, "kind": kind,
            "manufacturer": manufacturer, "model": model, "serial": serial, "mac": mac, "firmware": firmware,
            "install_date": install, "purchase_date": purchase, "supplier": rng.choice(SUPPLIERS),
            "warranty_end": warranty, "lifecycle": lifecycle, "notes": notes}


def register_rows(rooms: list[Room], today: date) -> list[dict[str, Any]]:
    """The demo county's register: what the agents report plus what they cannot."""
    library = load_library()
    models = projector_models()
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for n, room in enumerate(rooms):
        model = model_of(room, models)
        profile = library.get(model.profile)
        for index in room.projectors:
            rows.append(_unit(room, "projector", model.inf1, profile.model, serial=serial_number(model, index),
                              mac=mac_address(index), firmware=model.firmware, rng=rng, today=today))
        if room.display:
            display = library.get("generic-display")
            rows.append(_unit(room, "display", display.vendor, display.model,
                              serial=None, mac=mac_address(n, kind=0x20), firmware=None, rng=rng, today=today))
        if n % 3 == 0:
            rows.append(_unit(room, "document_camera", "IPEVO", "V4K", serial=f"IPV4K{100000 + n}", mac=None,
                              firmware=None, rng=rng, today=today))
    # Per school: one spare projector in store, and one older unit that left service.
    schools = {(r.municipality, r.school): r for r in rooms}
    for k, room in enumerate(schools.values()):
        model = model_of(room, models)
        profile = library.get(model.profile)
        store = Room(room.municipality, room.school, "Förråd", room.agent_id, room.school_index)
        rows.append(_unit(store, "projector", model.inf1, profile.model, serial=serial_number(model, 90_000 + k),
                          mac=None, firmware=model.firmware, rng=rng, today=today, lifecycle="spare"))
        old = models[(room.school_index + 1) % len(models)]
        old_profile = library.get(old.profile)
        rows.append(_unit(store, "projector", old.inf1, old_profile.model, serial=serial_number(old, 80_000 + k),
                          mac=None, firmware=old.firmware, rng=rng, today=today, lifecycle="retired",
                          notes="Ersatt vid byte av klassrumsutrustning"))
    return rows


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def _history(engine: Any, today: date) -> tuple[int, int]:
    """Repair cases over the last two years, and the retired units' later lives (reused or recycled)."""
    import sqlalchemy as sa

    from avfleet.controller.inventory.models import InventoryUnit

    units = InventoryUnit.__table__
    rng = random.Random(SEED + 1)
    cases = steps = 0
    with write_transaction(engine) as conn:
        rows = conn.execute(sa.select(units.c.id, units.c.lifecycle, units.c.kind, units.c.municipality)
                            .order_by(units.c.id)).all()
        in_use = [r for r in rows if r.lifecycle == "in_use" and r.kind == "projector"]
        for row in rng.sample(in_use, k=max(1, len(in_use) // 20)):
            opened = today - timedelta(days=rng.randint(20, 700))
            case = repairs.open_case(conn, unit_id=row.id, ticket_id=None, by=BY, now=_at(opened),
                                     details={"supplier_case": f"RMA-{rng.randint(10000, 99999)}",
                                              "cost_estimate_sek": rng.choice((0, 1200, 2400, 3900))})
            closed = min(opened + timedelta(days=rng.randint(4, 30)), today)
            repairs.close_case(conn, case["id"], "returned", BY, _at(closed))
            cases += 1
        retired = [r for r in rows if r.lifecycle == "retired"]
        for i, row in enumerate(retired):
            if i % 3 == 0:
                repairs.recycle(conn, row.id, today - timedelta(days=rng.randint(10, 300)), BY,
                                _at(today - timedelta(days=1)))
                steps += 1
            elif i % 3 == 1:
                target = rows[rng.randrange(len(rows))]
                repairs.reuse(conn, row.id, {"municipality": target.municipality, "school": "Resurscentrum",
                                             "room": "Utlåning"}, today - timedelta(days=rng.randint(10, 300)),
                              BY, _at(today - timedelta(days=1)))
                steps += 1
    return cases, steps


def seed_inventory(ctx: DemoContext) -> None:
    """Demo step: import the register through the importer, then add repairs and life-cycle steps."""
    import sqlalchemy as sa

    from avfleet.controller.inventory.models import InventoryUnit

    with ctx.controller.engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(InventoryUnit.__table__)).scalar_one():
            # A demo data directory used again: importing the file anew would undo the units' later lives.
            return
    today = datetime.now(UTC).date()
    text = csvfile.write(register_rows(ctx.rooms, today))
    with write_transaction(ctx.controller.engine) as conn:
        report = importer.import_csv(conn, text, by=BY, now=datetime.now(UTC))
    if not report["written"]:
        errors = [importer.public_fate(f) for f in report["rows"] if f.fate == "error"][:3]
        raise DemoError(f"the demo inventory did not import: {errors}")
    cases, steps = _history(ctx.controller.engine, today)
    log.info("demo: inventory of %d units imported (%s); %d repair cases, %d reuse/recycling steps",
             len(report["rows"]), report["counts"], cases, steps)
