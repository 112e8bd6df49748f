"""The report files' own words: cover, headers, footers, units (controller/reports/render_*).

Part of the one catalogue (catalogue.py).
"""

from __future__ import annotations

REPORT_LAYOUT: dict[str, dict[str, str]] = {
}
