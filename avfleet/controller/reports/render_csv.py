"""A report as one CSV file: a block per table, each row naming its section and table.

UTF-8 with a BOM (so Excel opens å, ä and ö right), comma separated, numbers unformatted with a
dot decimal, percents as fractions, dates ISO, times ISO with the Stockholm offset, nothing as an
empty cell; a text that starts like a formula (= + - @) gets a leading apostrophe so a
spreadsheet shows it rather than runs it. The first block is the report itself (title, place,
year, generated at); then, per table, a header row `section, table, <columns>` and its rows, and
an empty line between blocks. Charts are left out: their figures are in the tables.
"""

from __future__ import annotations

import csv
import io

from avfleet.controller.reports.document import ReportDocument, Value
from avfleet.controller.reports.render_values import iso, label, out_columns, place, report_title
from avfleet.i18n import text

_FORMULA_STARTS = frozenset("=+-@\t\r")


def render_csv(doc: ReportDocument, lang: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([text("layout.csv.report", lang), text("layout.cover.place", lang), text("layout.cover.year", lang),
                     text("layout.cover.compared", lang), text("layout.cover.generated", lang)])
    writer.writerow([report_title(doc, lang), place(doc, lang), doc.year, doc.previous_year, iso(doc.generated_at)])
    for section in doc.sections:
        section_title = label(section.title, doc, lang)
        for table in section.tables:
            columns = out_columns(table, doc, lang)
            table_title = label(table.title, doc, lang)
            writer.writerow([])
            writer.writerow([text("layout.csv.section", lang), text("layout.csv.table", lang),
                             *(c.header for c in columns)])
            for row in table.rows:
                writer.writerow([section_title, table_title, *(_cell(c.get(row)) for c in columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Value) -> str:
    # Texts come from devices and people (names, notes): one starting like a formula would run as one
    # when the file is opened in a spreadsheet, so it gets a leading apostrophe. Numbers are left alone.
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return iso(value)
