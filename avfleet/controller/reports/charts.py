"""A report chart as PNG bytes: matplotlib's Agg canvas on a `Figure` of its own, no pyplot state.

Grouped bars (`bar`, `barh`) or lines, one colour per series (this year dark, last year light when
there are two), the value axis named with its unit and its numbers written the reader's way, the
reference (the county median) as a dashed line in the legend. Text is matplotlib's bundled DejaVu
Sans, so å, ä and ö need no system font.
"""

from __future__ import annotations

import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image

from avfleet.controller.reports.document import Chart, ReportDocument
from avfleet.controller.reports.render_values import label, show
from avfleet.i18n import text

DPI = 110
WIDTH_IN = 7.5
# This year first: a strong blue; last year a light grey-blue beside it; then distinct hues.
_COLOURS = ("#1f5fa8", "#9db7d5", "#d9822b", "#3a9a5b", "#8e5ea2", "#c0392b")
_REFERENCE = "#333333"


def chart_png(chart: Chart, doc: ReportDocument, lang: str) -> bytes:
    """The chart as a PNG (about 825 px wide), its words in `lang`."""
    buffer = io.BytesIO()
    chart_image(chart, doc, lang, title=True).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def chart_image(chart: Chart, doc: ReportDocument, lang: str, *, title: bool) -> Image.Image:
    """The chart's pixels (RGB): the PDF embeds these directly, a PNG round trip cost a fifth of the time.

    The PDF sets the title as text above the picture (so it can be searched and copied): `title=False`.
    """
    figure = _figure(chart, doc, lang, title)
    canvas = figure.canvas
    canvas.draw()
    width, height = canvas.get_width_height()
    return Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba()).convert("RGB")


def _figure(chart: Chart, doc: ReportDocument, lang: str, title: bool) -> Figure:
    horizontal = chart.kind == "barh"
    count = max(1, len(chart.categories))
    height = max(2.8, min(7.0, 0.2 * count * max(1, len(chart.series)) ** 0.5 + 1.2)) if horizontal else 3.4
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(figure)
    # Fixed margins, not constrained layout: that lays the figure out twice and doubled the time.
    longest = max((len(c) for c in chart.categories), default=0)
    rotate = not horizontal and longest * count > 70
    left = (min(longest, 28) * 0.075 + 0.25) if horizontal else 0.75
    bottom = 0.5 + (0.4 + min(longest, 28) * 0.045 if rotate else 0.1)
    # The legend stands above the plot, right-aligned, where it never hides a bar; the title above it.
    legend = len(chart.series) > 1 or chart.reference is not None
    top = 0.15 + (0.3 if legend else 0) + (0.3 if title else 0)
    figure.subplots_adjust(left=left / WIDTH_IN, right=1 - 0.15 / WIDTH_IN, top=1 - top / height,
                           bottom=bottom / height)
    axes = figure.add_subplot()
    if title:
        axes.set_title(label(chart.title, doc, lang), fontsize=11, loc="left", fontweight="bold",
                       pad=22 if legend else 6)
    names = [s.label if s.literal else label(s.label, doc, lang) for s in chart.series]
    positions = list(range(len(chart.categories)))

    if chart.kind == "line":
        for index, series in enumerate(chart.series):
            values = [math.nan if v is None else v for v in series.values]
            axes.plot(positions, values, marker="o", markersize=3, linewidth=1.8,
                      color=_COLOURS[index % len(_COLOURS)], label=names[index])
    else:
        # One PolyCollection per series: bar() makes a Rectangle artist (and its properties) per bar.
        groups = max(1, len(chart.series))
        thickness = 0.8 / groups
        low = high = 0.0
        for index, series in enumerate(chart.series):
            offset = (index - (groups - 1) / 2) * thickness
            boxes = []
            for position, value in zip(positions, series.values, strict=False):
                if value is None:
                    continue
                a, b = position + offset - thickness * 0.475, position + offset + thickness * 0.475
                corners = [(0, a), (value, a), (value, b), (0, b)] if horizontal else \
                    [(a, 0), (a, value), (b, value), (b, 0)]
                boxes.append(corners)
                low, high = min(low, value), max(high, value)
            axes.add_collection(PolyCollection(boxes, facecolors=_COLOURS[index % len(_COLOURS)],
                                               edgecolors="none", label=names[index]))
        if chart.reference is not None:
            low, high = min(low, chart.reference), max(high, chart.reference)
        span = (high - low) or 1.0
        values_from, values_to = low - (0.05 * span if low < 0 else 0), high + 0.05 * span
        categories_from, categories_to = -0.5, max(0.5, len(positions) - 0.5)
        if horizontal:
            axes.set_xlim(values_from, values_to)
            axes.set_ylim(categories_from, categories_to)
        else:
            axes.set_ylim(values_from, values_to)
            axes.set_xlim(categories_from, categories_to)

    if chart.reference is not None:
        ref_label = label(chart.reference_label, doc, lang) if chart.reference_label else None
        if ref_label:
            ref_label = f"{ref_label}: {show(chart.reference, 'float', lang, trim=True)}"
        line = axes.axvline if horizontal else axes.axhline
        line(chart.reference, color=_REFERENCE, linestyle="--", linewidth=1.2, label=ref_label)

    value_axis, category_axis = (axes.xaxis, axes.yaxis) if horizontal else (axes.yaxis, axes.xaxis)
    value_axis.set_major_formatter(FuncFormatter(lambda v, _pos: show(v, "float", lang, trim=True)))
    value_axis.set_major_locator(MaxNLocator(nbins=6))
    if chart.unit:
        (axes.set_xlabel if horizontal else axes.set_ylabel)(text(chart.unit, lang), fontsize=9)
    category_axis.set_ticks(positions)
    if horizontal:
        category_axis.set_ticklabels(chart.categories, fontsize=8)
        axes.invert_yaxis()  # the first category on top, as in the table
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    else:
        category_axis.set_ticklabels(chart.categories, fontsize=8, rotation=35 if rotate else 0,
                                     ha="right" if rotate else "center")
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.tick_params(axis="both", labelsize=8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if legend:
        handles = len(chart.series) + (chart.reference is not None)
        axes.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=min(4, handles),
                    borderaxespad=0.3)

    return figure

