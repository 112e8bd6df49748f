"""Report sections, tables, columns and notes (controller/reports/indicators and friends).

Part of the one catalogue (catalogue.py).
"""

from __future__ import annotations

REPORTS: dict[str, dict[str, str]] = {
}
