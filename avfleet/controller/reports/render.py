"""One report document to CSV, XLSX or PDF bytes: the one entry point (the API and `avfleet report` call it).

The renderers are imported on demand so that a CSV never loads matplotlib or fpdf2; what they
share (columns, how values read, titles) is in render_values.py.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from avfleet.controller.reports.document import ReportDocument
from avfleet.controller.reports.render_values import place, report_title

Format = Literal["csv", "xlsx", "pdf"]

_MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def render(doc: ReportDocument, fmt: Format, lang: str) -> bytes:
    """The report as the bytes of one file in `fmt`, its words in `lang` (sv or en)."""
    if fmt == "csv":
        from avfleet.controller.reports.render_csv import render_csv

        return render_csv(doc, lang)
    if fmt == "xlsx":
        from avfleet.controller.reports.render_xlsx import render_xlsx

        return render_xlsx(doc, lang)
    if fmt == "pdf":
        from avfleet.controller.reports.render_pdf import render_pdf

        return render_pdf(doc, lang)
    raise ValueError(f"unknown report format {fmt!r} (csv, xlsx or pdf)")


def media_type(fmt: Format) -> str:
    """The Content-Type of a rendered report."""
    return _MEDIA_TYPES[fmt]


def filename(doc: ReportDocument, fmt: Format, lang: str) -> str:
    """`inventarierapport-varnamo-2026.pdf`: ASCII only, so every mail client and browser keeps it."""
    return f"{_slug(report_title(doc, lang))}-{_slug(place(doc, lang))}-{doc.year}.{fmt}"


def _slug(words: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "report"
