"""A report as an A4 PDF (fpdf2): a title block, then per section a heading, its tables and charts.

The font is matplotlib's bundled DejaVu Sans, embedded (subset), so å, ä, ö, "–" and "…" print
with nothing but Python wheels. Tables never run off the page: columns get widths from their
content and share the page, long text wraps (and is cut after `_MAX_TEXT` characters), the font
shrinks for wide tables and a section whose table has many columns is set in landscape; the
header row repeats after a page break; a table longer than `PDF_ROWS` shows its first rows and a
line saying how many more the XLSX holds. Every page's footer has the generated time and
"Sida x av y".
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

from avfleet.controller.reports.charts import chart_image
from avfleet.controller.reports.document import ReportDocument, Section, Table
from avfleet.controller.reports.render_values import (
    NUMERIC_KINDS,
    OutColumn,
    assumption_texts,
    cover_lines,
    generated_line,
    label,
    note_text,
    out_columns,
    place,
    report_title,
    show,
)
from avfleet.i18n import text

PDF_ROWS = 40  # rows of one table in the PDF; the XLSX has them all
_MAX_TEXT = 160  # characters of one text cell in the PDF
_LANDSCAPE_COLUMNS = 8  # a section with a table wider than this is set in landscape
_FONT = "DejaVu"
_BODY_PT = 8.5
_SMALLEST_PT = 6.0
_MARGIN = 15.0
_HEADER_FILL = (232, 238, 245)
_MUTED = (90, 90, 90)
_SPACES = re.compile(r"[ \t\n]+")


def render_pdf(doc: ReportDocument, lang: str) -> bytes:
    pdf = _Pdf(generated_line(doc, lang), lang)
    pdf.set_title(f"{report_title(doc, lang)} – {place(doc, lang)} – {doc.year}")
    pdf.set_lang("sv-SE" if lang == "sv" else "en-GB")
    # The document's moment, not the clock's: the same document gives the same bytes.
    pdf.set_creation_date(doc.generated_at)
    pdf.add_page()
    _cover(pdf, doc, lang)
    for section in doc.sections:
        _section(pdf, section, doc, lang)
    return bytes(pdf.output())


class _Pdf(FPDF):
    def __init__(self, footer_text: str, lang: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        self.add_font(_FONT, "", fonts / "DejaVuSans.ttf")
        self.add_font(_FONT, "B", fonts / "DejaVuSans-Bold.ttf")
        self.add_font(_FONT, "I", fonts / "DejaVuSans-Oblique.ttf")
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=18)
        self.footer_text = footer_text
        self.report_lang = lang  # not `lang`: FPDF keeps the PDF's language tag (sv-SE) there
        self.set_font(_FONT, "", _BODY_PT)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, "", 7.5)
        self.set_text_color(*_MUTED)
        half = self.epw / 2
        self.cell(half, 5, self.footer_text, align="L")
        # "{nb}" is fpdf2's alias for the page count, filled in when the document is closed.
        self.cell(half, 5, text("layout.footer.page", self.report_lang, page=self.page_no(), pages="{nb}"), align="R")
        self.set_text_color(0, 0, 0)


def _cover(pdf: _Pdf, doc: ReportDocument, lang: str) -> None:
    pdf.set_font(_FONT, "B", 20)
    pdf.multi_cell(0, 9, report_title(doc, lang), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 14)
    pdf.multi_cell(0, 7, f"{place(doc, lang)} – {doc.year}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    lines = [(name, str(value)) for name, value in cover_lines(doc, lang)]
    pdf.set_font(_FONT, "B", 9)
    key_width = max(pdf.get_string_width(name) for name, _ in lines) + 4
    for name, value in lines:
        pdf.set_font(_FONT, "B", 9)
        pdf.cell(key_width, 5.5, name)
        pdf.set_font(_FONT, "", 9)
        pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
    assumptions = assumption_texts(doc, lang)
    if assumptions:
        pdf.ln(3)
        _heading(pdf, text("layout.cover.assumptions", lang), 11)
        pdf.set_font(_FONT, "", 9)
        for sentence in assumptions:
            pdf.multi_cell(0, 5, f"•  {sentence}", new_x="LMARGIN", new_y="NEXT")
    if doc.sections:
        pdf.ln(3)
        _heading(pdf, text("layout.cover.contents", lang), 11)
        pdf.set_font(_FONT, "", 9)
        for section in doc.sections:
            pdf.multi_cell(0, 5, f"•  {label(section.title, doc, lang)}", new_x="LMARGIN", new_y="NEXT")


def _section(pdf: _Pdf, section: Section, doc: ReportDocument, lang: str) -> None:
    tables = [(table, out_columns(table, doc, lang)) for table in section.tables]
    wide = any(len(columns) > _LANDSCAPE_COLUMNS for _, columns in tables)
    pdf.add_page(orientation="L" if wide else "P")
    _heading(pdf, label(section.title, doc, lang), 15)
    for table, columns in tables:
        _table(pdf, table, columns, doc, lang)
    for chart in section.charts:
        image = chart_image(chart, doc, lang, title=False)
        width = min(pdf.epw, 180.0)
        height = width * image.height / image.width
        if pdf.get_y() + height + 8 > pdf.page_break_trigger:
            pdf.add_page(orientation="L" if wide else "P")
        _heading(pdf, label(chart.title, doc, lang), 11)
        pdf.image(image, x=pdf.l_margin, w=width, h=height)
        pdf.ln(4)


def _heading(pdf: _Pdf, words: str, size: float) -> None:
    pdf.set_font(_FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, words, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _table(pdf: _Pdf, table: Table, columns: list[OutColumn], doc: ReportDocument, lang: str) -> None:
    # A table's title should not be the last line of a page.
    if pdf.get_y() + 25 > pdf.page_break_trigger:
        pdf.add_page(orientation=pdf.cur_orientation)
    _heading(pdf, label(table.title, doc, lang), 11)
    shown_rows = table.rows[:PDF_ROWS]
    cells = [[_cell_text(column, row, lang) for column in columns] for row in shown_rows]
    headers = [column.header for column in columns]
    numeric = [column.kind in NUMERIC_KINDS for column in columns]
    size, widths = _fit(pdf, headers, cells, [c.kind in NUMERIC_KINDS or c.kind == "date" for c in columns])
    aligns = tuple("RIGHT" if is_number else "LEFT" for is_number in numeric)
    pdf.set_font(_FONT, "", size)
    if not columns:
        return
    with pdf.table(
        width=sum(widths), col_widths=widths, align="LEFT", text_align=aligns, line_height=size * 0.48,
        headings_style=FontFace(emphasis="BOLD", fill_color=_HEADER_FILL), borders_layout="HORIZONTAL_LINES",
        padding=(0.9, 1.2), first_row_as_headings=True, repeat_headings=1, v_align="TOP",
    ) as grid:
        heading = grid.row()
        for header, align in zip(headers, aligns, strict=True):
            heading.cell(header, align=align)
        for values in cells:
            line = grid.row()
            for value in values:
                line.cell(value)
    after: list[str] = []
    if not table.rows:
        after.append(text("layout.empty_table", lang))
    if len(table.rows) > PDF_ROWS:
        after.append(text("layout.more_rows", lang, count=show(len(table.rows) - PDF_ROWS, "int", lang)))
    note = note_text(table, doc, lang)
    if note:
        after.append(note)
    pdf.ln(1)
    pdf.set_font(_FONT, "I", 7.5)
    pdf.set_text_color(*_MUTED)
    for sentence in after:
        pdf.multi_cell(0, 4, sentence, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)


def _cell_text(column: OutColumn, row: dict, lang: str) -> str:
    value = column.get(row)
    shown = show(value, column.kind, lang, signed=column.role == "change" and value is not None)
    return shown if len(shown) <= _MAX_TEXT else shown[: _MAX_TEXT - 1].rstrip() + "…"


def _fit(pdf: _Pdf, headers: list[str], cells: list[list[str]], fixed: list[bool]) -> tuple[float, list[float]]:
    """A font size and column widths (mm) that put every column on the page.

    Each column wants its longest value on one line (at most a third of the page); it needs at least
    its longest word. The font shrinks until the needs fit; what is left is shared by the wants. When
    even the smallest font does not fit, `fixed` columns (numbers, dates) keep their width and text
    columns share the rest (text wraps, by character if it must); only a table of numbers too wide
    for the page breaks them.
    """
    room = pdf.epw - 0.1  # fpdf2 refuses a table a hair wider than the page (rounding)
    # String widths scale with the font size: measure once at the body size.
    pdf.set_font(_FONT, "B", _BODY_PT)
    word = [_longest_word(pdf, header) for header in headers]
    line = [pdf.get_string_width(header) for header in headers]
    pdf.set_font(_FONT, "", _BODY_PT)
    for values in cells:
        for index, value in enumerate(values):
            line[index] = max(line[index], pdf.get_string_width(value))
            word[index] = max(word[index], _longest_word(pdf, value))
    pad = 2.8  # the cell's padding on both sides and a little air
    size = _BODY_PT
    while True:
        scale = size / _BODY_PT
        need = [min(w * scale, room / 4) + pad for w in word]
        want = [min(max(w * scale + pad, n), room / 3) for w, n in zip(line, need, strict=True)]
        if sum(need) <= room or size <= _SMALLEST_PT:
            break
        size -= 0.5
    if sum(want) <= room:
        return size, want
    if sum(need) > room:
        texts = [i for i, keep in enumerate(fixed) if not keep]
        left_for_text = room - sum(n for n, keep in zip(need, fixed, strict=True) if keep)
        if texts and left_for_text >= 12.0 * len(texts):
            text_need = sum(need[i] for i in texts)
            return size, [n if fixed[i] else left_for_text * n / text_need for i, n in enumerate(need)]
        return size, [room * n / sum(need) for n in need]
    spare = room - sum(need)
    extra = [w - n for w, n in zip(want, need, strict=True)]
    total = sum(extra) or 1.0
    return size, [n + spare * e / total for n, e in zip(need, extra, strict=True)]


def _longest_word(pdf: _Pdf, words: str) -> float:
    # Split at plain spaces only: "12 345,7" holds no-break spaces and must stay on one line.
    return max((pdf.get_string_width(word) for word in _SPACES.split(words)), default=0.0)
