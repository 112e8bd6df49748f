"""The dashboard's pages, menus, buttons and messages (controller/dashboard).

Part of the one catalogue (catalogue.py).
"""

from __future__ import annotations

DASHBOARD: dict[str, dict[str, str]] = {
}
