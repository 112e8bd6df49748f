"""API bodies of the inventory domain, derived from the tables' base classes (fields written once)."""

from __future__ import annotations

from avfleet.controller.inventory.models import InventoryRecordBase


class InventoryItem(InventoryRecordBase):
    """One physical unit seen under a device id (in a device's detail); closed = swapped out."""
