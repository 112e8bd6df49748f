"""A report as an XLSX workbook (XlsxWriter): a cover sheet, then a sheet per section.

Each table is a bold header row and typed cells (numbers with number formats, dates as dates,
percents in % format, nothing as an empty cell); a compare column is followed by last year's
column and the change. A section's tables stand side by side (an empty column between), titles on
row 1 and headers on row 2, so one frozen pane keeps every header in view; the longest table has
the sheet's filter; notes stand under their table. Column widths fit the longest value shown
(capped). Charts are native Excel charts to the right of the tables; their figures are on one
"Chart data" sheet at the end."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from avfleet.controller.reports.document import Chart, ReportDocument, Section, Value
from avfleet.controller.reports.render_values import (
    DECIMALS,
    NUMERIC_KINDS,
    OutColumn,
    assumption_texts,
    cover_lines,
    label,
    note_text,
    out_columns,
    place,
    report_title,
    show,
)
from avfleet.i18n import STOCKHOLM, text

_MAX_WIDTH = 60
_MIN_WIDTH = 6
_WIDTH_SAMPLE = 2000  # rows measured for a column's width; enough to see the longest kind of value
_HEADER_ROW = 1  # row 0 holds the tables' titles
_ROW_PX = 20  # the default row height in pixels, to stack charts without overlap
_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def render_xlsx(doc: ReportDocument, lang: str) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    # The document's moment, not the clock's: the same document gives the same bytes.
    created = doc.generated_at.astimezone(UTC).replace(tzinfo=None)
    workbook.set_properties({"title": f"{report_title(doc, lang)} – {place(doc, lang)} – {doc.year}",
                             "created": created})
    formats = _Formats(workbook)
    names = _SheetNames()
    _cover(workbook.add_worksheet(names.take(text("layout.sheet.cover", lang))), doc, lang, formats)
    charts: list[tuple[Worksheet, int, int, Chart]] = []
    for section in doc.sections:
        sheet = workbook.add_worksheet(names.take(label(section.title, doc, lang)))
        width = _section(sheet, section, doc, lang, formats)
        at_row = 0
        # Excel refuses a chart without a series; with no categories there is nothing to draw either.
        for chart in (c for c in section.charts if c.series and c.categories):
            charts.append((sheet, at_row, width, chart))
            at_row += _chart_height(chart) // _ROW_PX + 2
    if charts:
        data = workbook.add_worksheet(names.take(text("layout.sheet.chart_data", lang)))
        _charts(workbook, data, charts, doc, lang, formats)
    workbook.close()
    return buffer.getvalue()


class _Formats:
    """The workbook's cell formats, made once (XlsxWriter keeps one record per distinct format)."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.title = workbook.add_format({"bold": True, "font_size": 16})
        self.table_title = workbook.add_format({"bold": True, "font_size": 12})
        self.header = workbook.add_format({"bold": True, "bottom": 1, "bg_color": "#E8EEF5", "text_wrap": True,
                                           "valign": "top"})
        self.bold = workbook.add_format({"bold": True})
        self.note = workbook.add_format({"italic": True, "font_color": "#555555"})
        self.text = workbook.add_format({"valign": "top"})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.date = workbook.add_format({"num_format": "yyyy-mm-dd", "align": "left"})
        self.datetime = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm", "align": "left"})
        self._numbers: dict[tuple[str, bool], Any] = {}

    def number(self, kind: str, signed: bool = False) -> Any:
        key = (kind, signed)
        if key not in self._numbers:
            decimals = DECIMALS.get(kind, 2)
            body = "#,##0" + ("." + "0" * decimals if decimals else "")
            if kind == "float":
                body = "#,##0.0#"  # ratios and mixed values: one or two decimals
            if kind == "percent":
                body = "0" + ("." + "0" * decimals if decimals else "") + "%"
            fmt = f"+{body};-{body};{body}" if signed else body
            self._numbers[key] = self.workbook.add_format({"num_format": fmt})
        return self._numbers[key]


class _SheetNames:
    """Sheet names as Excel takes them: at most 31 characters, none of []:*?/\\, unique regardless of case."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        base = re.sub(r"\s+", " ", _FORBIDDEN.sub(" ", wanted)).strip().strip("'") or "Sheet"
        if len(base) > 31:
            # Cut at a word and say so: "Reparationer, återbruk och…", not "… och åter".
            cut = base[:30] if base[30] == " " else base[:30].rsplit(" ", 1)[0]
            cut = cut.rstrip(",;–- ")
            base = (cut if len(cut) >= 15 else base[:30]) + "…"
        name, number = base, 2
        while name.lower() in self.used:
            suffix = f" ({number})"
            name, number = base[: 31 - len(suffix)] + suffix, number + 1
        self.used.add(name.lower())
        return name


def _cover(sheet: Worksheet, doc: ReportDocument, lang: str, formats: _Formats) -> None:
    sheet.write_string(0, 0, report_title(doc, lang), formats.title)
    lines = cover_lines(doc, lang)
    row = 2
    for name, value in lines:
        sheet.write_string(row, 0, name, formats.bold)
        if isinstance(value, int):
            sheet.write_number(row, 1, value, formats.text)
        else:
            sheet.write_string(row, 1, str(value), formats.text)
        row += 1
    assumptions = assumption_texts(doc, lang)
    if assumptions:
        row += 1
        sheet.write_string(row, 0, text("layout.cover.assumptions", lang), formats.bold)
        for sentence in assumptions:
            row += 1
            sheet.write_string(row, 1, sentence, formats.wrap)
    row += 2
    sheet.write_string(row, 0, text("layout.cover.contents", lang), formats.bold)
    for section in doc.sections:
        row += 1
        sheet.write_string(row, 1, label(section.title, doc, lang))
    widest = max([len(name) for name, _ in lines] + [len(text("layout.cover.assumptions", lang))])
    sheet.set_column(0, 0, min(_MAX_WIDTH, widest + 2))
    sheet.set_column(1, 1, 90, formats.wrap)


def _section(sheet: Worksheet, section: Section, doc: ReportDocument, lang: str, formats: _Formats) -> int:
    """Write the section's tables side by side; answer the first column right of them all.

    Side by side, every table's title is on row 1 and its header on row 2, so one frozen pane keeps
    every header in view (stacked tables could freeze only the first one's).
    """
    widths: dict[int, float] = {}
    headers: list[tuple[int, list[OutColumn]]] = []
    longest: tuple[int, int, int] | None = None  # (rows, first column, last column) for the filter
    left = 0
    for table in section.tables:
        columns = out_columns(table, doc, lang)
        sheet.write_string(0, left, label(table.title, doc, lang), formats.table_title)
        for index, column in enumerate(columns, start=left):
            sheet.write_string(_HEADER_ROW, index, column.header, formats.header)
            # Headers wrap: measure their longest word, not the whole sentence.
            _widen(widths, index, max((len(w) for w in column.header.split()), default=0) + 2)
        headers.append((left, columns))
        row = _HEADER_ROW + 1
        if not table.rows:
            sheet.write_string(row, left, text("layout.empty_table", lang), formats.note)
            row += 1
        for record_index, record in enumerate(table.rows):
            for index, column in enumerate(columns, start=left):
                value = column.get(record)
                _write(sheet, row, index, value, column, formats)
                if record_index < _WIDTH_SAMPLE:
                    _widen(widths, index, _shown_width(value, column, lang))
            row += 1
        note = note_text(table, doc, lang)
        if note:
            sheet.write_string(row, left, note, formats.note)
        if columns and table.rows and (longest is None or len(table.rows) > longest[0]):
            longest = (len(table.rows), left, left + len(columns) - 1)
        left += max(1, len(columns)) + 1  # one empty column between tables
        _widen(widths, left - 1, 3)
    if section.tables:
        sheet.freeze_panes(_HEADER_ROW + 1, 0)
    if longest:
        sheet.autofilter(_HEADER_ROW, longest[1], _HEADER_ROW + longest[0], longest[2])
    final = {index: min(_MAX_WIDTH, max(_MIN_WIDTH if index not in _gaps(headers) else 3, width))
             for index, width in widths.items()}
    for index, width in final.items():
        sheet.set_column(index, index, width)
    # Not every spreadsheet grows a row for wrapped text on opening: give the header its lines.
    lines = max((math.ceil(len(c.header) / max(1.0, final.get(i, _MIN_WIDTH) - 1))
                 for start, columns in headers for i, c in enumerate(columns, start=start)), default=1)
    if lines > 1:
        sheet.set_row(_HEADER_ROW, 15 * min(lines, 6))
    return left


def _gaps(headers: list[tuple[int, list[OutColumn]]]) -> set[int]:
    return {start + max(1, len(columns)) for start, columns in headers}


def _write(sheet: Worksheet, row: int, col: int, value: Value, column: OutColumn, formats: _Formats) -> None:
    if value is None:
        return  # an empty cell: nothing known
    if isinstance(value, datetime):
        sheet.write_datetime(row, col, value.astimezone(STOCKHOLM).replace(tzinfo=None), formats.datetime)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), formats.date)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        kind = column.kind if column.kind in NUMERIC_KINDS else "float"
        sheet.write_number(row, col, value, formats.number(kind, signed=column.role == "change"))
    else:
        value = str(value)
        sheet.write_string(row, col, value, formats.wrap if len(value) > _MAX_WIDTH else formats.text)


def _shown_width(value: Value, column: OutColumn, lang: str) -> float:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value) + 1
    # Excel shows its own format; the reader's text is as long, give or take a separator.
    return len(show(value, column.kind, lang, signed=column.role == "change")) + 2


def _widen(widths: dict[int, float], index: int, width: float) -> None:
    if width > widths.get(index, 0):
        widths[index] = width


def _charts(workbook: Workbook, data: Worksheet, charts: list[tuple[Worksheet, int, int, Chart]],
            doc: ReportDocument, lang: str, formats: _Formats) -> None:
    """Each chart's figures as a small table on the data sheet, and a native chart over them."""
    row = 0
    widest = 0
    for sheet, at_row, at_col, chart in charts:
        title = label(chart.title, doc, lang)
        data.write_string(row, 0, title, formats.table_title)
        head = row + 1
        names = [s.label if s.literal else label(s.label, doc, lang) for s in chart.series]
        reference = label(chart.reference_label, doc, lang) if chart.reference_label else None
        if chart.reference is not None:
            names.append(reference or "—")
        data.write_row(head, 1, names, formats.header)
        for index, category in enumerate(chart.categories):
            data.write_string(head + 1 + index, 0, category)
            for s_index, series in enumerate(chart.series):
                value = series.values[index] if index < len(series.values) else None
                if value is not None:
                    data.write_number(head + 1 + index, 1 + s_index, value)
            if chart.reference is not None:
                data.write_number(head + 1 + index, 1 + len(chart.series), chart.reference)
        last = head + max(1, len(chart.categories))
        widest = max(widest, max((len(c) for c in chart.categories), default=0))
        kind = {"bar": "column", "barh": "bar", "line": "line"}[chart.kind]
        excel = workbook.add_chart({"type": kind})
        data_name = data.get_name()
        for s_index in range(len(chart.series)):
            excel.add_series({
                "name": [data_name, head, 1 + s_index],
                "categories": [data_name, head + 1, 0, last, 0],
                "values": [data_name, head + 1, 1 + s_index, last, 1 + s_index],
                "gap": 60,
            })
        if chart.reference is not None and kind != "bar":
            # Excel cannot lay a line over horizontal bars; for columns and lines the median is a dashed line.
            reference_series = {
                "name": [data_name, head, 1 + len(chart.series)],
                "categories": [data_name, head + 1, 0, last, 0],
                "values": [data_name, head + 1, 1 + len(chart.series), last, 1 + len(chart.series)],
                "line": {"dash_type": "dash", "color": "#333333", "width": 1.25},
                "marker": {"type": "none"},
            }
            if kind == "line":
                excel.add_series(reference_series)
            else:
                line = workbook.add_chart({"type": "line"})
                line.add_series(reference_series)
                excel.combine(line)
        elif chart.reference is not None:
            title = f"{title} ({reference or '—'}: {show(chart.reference, 'float', lang, trim=True)})"
        excel.set_title({"name": title, "name_font": {"size": 12, "bold": True}})
        unit = text(chart.unit, lang) if chart.unit else None
        value_axis = {"name": unit, "major_gridlines": {"visible": True, "line": {"color": "#DDDDDD"}}}
        category_axis: dict[str, Any] = {"reverse": True} if kind == "bar" else {}
        if kind == "bar":
            excel.set_x_axis(value_axis)
            excel.set_y_axis(category_axis)
        else:
            excel.set_y_axis(value_axis)
            excel.set_x_axis(category_axis)
        excel.set_legend({"position": "bottom"} if len(chart.series) > 1 or chart.reference is not None
                         else {"none": True})
        excel.set_size({"width": 640, "height": _chart_height(chart)})
        sheet.insert_chart(xl_rowcol_to_cell(at_row, at_col), excel, {"x_offset": 10, "y_offset": 10})
        row = last + 2
    data.set_column(0, 0, min(_MAX_WIDTH, widest + 2))
    data.set_column(1, 8, 14)


def _chart_height(chart: Chart) -> int:
    """Pixels: horizontal bars grow with their categories (13 municipalities), the rest are fixed."""
    if chart.kind == "barh":
        return min(700, max(300, 22 * len(chart.categories) + 120))
    return 340
