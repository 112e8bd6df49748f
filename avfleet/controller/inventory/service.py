"""Inventory rules: which physical unit stands behind a device id, and when it was swapped.

Called by the fleet ingest inside its batch transaction (no HTTP here). A device keeps one open
record per unit; a new serial under the same device id closes it with `closed_reason="swapped"`
and opens another, so a replaced projector shows in the device's detail and as a ticket. Each
record is matched to the register's unit by serial, then MAC (register.py): a matched unit takes
the agent's device id and firmware, with the agent as the author in its history; an unmatched one
waits in the "to be placed" list. This runs only when an identity changed, so a steady fleet costs
nothing here, and a change costs one or two indexed look-ups more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.inventory import register
from avfleet.controller.inventory.models import InventoryRecord
from avfleet.controller.inventory.schemas import InventoryItem
from avfleet.protocols.status import Identity

INVENTORY = InventoryRecord.__table__
_ITEM_FIELDS = tuple(InventoryItem.model_fields)


def observe_identity(conn: Connection, *, device_pk: int, agent_id: str, device_id: str, identity: Identity,
                     observed_at: datetime) -> bool:
    """File `identity` in the device's open record (opening one when none is); True when it was a swap.

    The caller calls this only when the identity differs from what it last filed, so a steady fleet
    costs nothing here.
    """
    i = INVENTORY.c
    open_record = conn.execute(
        sa.select(i.id, i.serial, i.unit_id).where(i.device_pk == device_pk, i.closed_at.is_(None))
        .order_by(i.id.desc())
    ).first()
    unit = register.match(conn, identity.serial, identity.mac) if identity.serial or identity.mac else None
    fields = {"manufacturer": identity.manufacturer, "model": identity.model, "serial": identity.serial,
              "firmware": identity.firmware, "mac": identity.mac, "last_seen": observed_at,
              "unit_id": unit["id"] if unit else None}
    swapped = False
    if open_record is not None and open_record.serial and identity.serial and open_record.serial != identity.serial:
        conn.execute(INVENTORY.update().where(i.id == open_record.id)
                     .values(closed_at=observed_at, closed_reason="swapped"))
        if open_record.unit_id is not None and (unit is None or unit["id"] != open_record.unit_id):
            register.unit_left(conn, open_record.unit_id, agent_id=agent_id, device_id=device_id, now=observed_at)
        open_record, swapped = None, True
    if open_record is None:
        conn.execute(INVENTORY.insert().values(
            device_pk=device_pk, agent_id=agent_id, device_id=device_id, first_seen=observed_at, **fields))
    else:
        conn.execute(INVENTORY.update().where(i.id == open_record.id).values(**fields))
    if unit is not None:
        register.follow_observation(conn, unit, agent_id=agent_id, device_id=device_id, firmware=identity.firmware,
                                    manufacturer=identity.manufacturer, model=identity.model,
                                    serial=identity.serial, mac=identity.mac,
                                    now=observed_at)
    return swapped


def records_of_device(conn: Connection, device_pk: int) -> list[dict[str, Any]]:
    """Every unit seen under the device, oldest first, shaped as `InventoryItem`."""
    i = INVENTORY.c
    rows = conn.execute(sa.select(*(i[name] for name in _ITEM_FIELDS)).where(i.device_pk == device_pk)
                        .order_by(i.id))
    return [dict(r._mapping) for r in rows]
