"""The PDF report: text extracted with pypdf (both languages, å/ä/ö intact), pages rendered with pdftoppm."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pypdf
import pytest

from avfleet.controller.reports.document import Column, ReportDocument, Section, Table
from avfleet.controller.reports.render import render
from avfleet.controller.reports.render_pdf import PDF_ROWS
from tests.controller.reports.test_render import GENERATED, LONG_TEXT, MUNICIPALITIES, sample_doc
from tests.controller.reports.test_render import test_labels as test_labels  # the module's labels
from tests.support.components import require_binary


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    return {lang: render(sample_doc(), "pdf", lang) for lang in ("sv", "en")}


def pages_text(data: bytes) -> list[str]:
    # pypdf gives the no-break spaces of Swedish numbers back as they are; a reader sees spaces.
    return [page.extract_text().replace("\u00a0", " ") for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_swedish_pdf_has_cover_sections_numbers_and_footer(pdfs: dict[str, bytes]) -> None:
    pages = pages_text(pdfs["sv"])
    assert 4 <= len(pages) <= 12
    cover = pages[0]
    for words in ("Inventarierapport", "Värnamo – 2026", "Jämförs med", "2026-12-01 14:05", "42 g CO2e/kWh",
                  "Energimyndigheten 2025", "Elpriset antas vara 1,5 kr/kWh.", "Likvärdighet i länet"):
        assert words in cover, words
    everything = "\n".join(pages)
    for words in ("Inventarier och åldrar", "Enheter per slag", "föregående", "1 234", "1 200",
                  "+34", "4,25", "95,0 %", "+5,0 %", "procentenheter", "12 345,7", "−654,3", "18 518",
                  "Utsläpp med 42 g CO2e/kWh för 2026.", "Inga rader", "Fel per enhet och kommun"):
        assert words in everything, words
    for name in MUNICIPALITIES:
        assert name in everything, name
    assert f"och {200 - PDF_ROWS} rader till – se XLSX-filen" in everything
    assert "SN-00039" in everything and "SN-00040" not in everything
    for number, page in enumerate(pages, start=1):
        assert f"Sida {number} av {len(pages)}" in page
        assert "Skapad 2026-12-01 14:05" in page


def test_the_pdf_says_what_it_is_and_is_the_same_for_the_same_document(pdfs: dict[str, bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdfs["sv"]))
    assert reader.metadata.title == "Inventarierapport – Värnamo – 2026"
    assert reader.trailer["/Root"]["/Lang"] == "sv-SE"
    doc = ReportDocument("inventory", "Vaggeryd", 2026, GENERATED, [])
    assert render(doc, "pdf", "en") == render(doc, "pdf", "en")


def test_english_pdf(pdfs: dict[str, bytes]) -> None:
    pages = pages_text(pdfs["en"])
    everything = "\n".join(pages)
    for words in ("Inventory report", "Värnamo – 2026", "Compared with", "previous year", "1,234",
                  "95.0%", "percentage points", "12,345.7", "-654.3", "and 160 more rows — see the XLSX file",
                  "Emissions at 42 g CO2e/kWh for 2026.", "Jönköping", "Nässjö"):
        assert words in everything, words
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "Sida" not in everything


def test_the_header_row_repeats_when_a_table_runs_over_a_page() -> None:
    # Fifteen rows of long notes cannot fit one page: the continuation page starts with the header again.
    table = Table("units", "test.table.units", (Column("serial", "test.col.serial"), Column("notes", "test.col.notes")),
                  [{"serial": f"SN-{i:05d}", "notes": LONG_TEXT} for i in range(15)])
    doc = ReportDocument("inventory", "Gnosjö", 2026, GENERATED, [Section("s", "test.section.inventory", [table])])
    pages = pages_text(render(doc, "pdf", "sv"))
    with_rows = [p for p in pages if "SN-000" in p]
    assert len(with_rows) >= 2
    assert all("Serienummer" in p and "Anteckningar" in p for p in with_rows)


def test_a_wide_table_is_set_in_landscape_and_stays_on_the_page(pdfs: dict[str, bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdfs["sv"]))
    equity = next(p for p in reader.pages if "Kommunerna sida vid sida" in p.extract_text())
    assert equity.mediabox.width > equity.mediabox.height  # landscape A4
    words: list[float] = []
    equity.extract_text(visitor_text=lambda text, cm, tm, font, size: words.append(tm[4]) if text.strip() else None)
    assert words and max(words) < float(equity.mediabox.width) - 30  # nothing starts in the right margin


def test_pages_render_to_png(pdfs: dict[str, bytes], tmp_path: Path) -> None:
    pdftoppm = require_binary("pdftoppm")  # poppler-utils (tools/debian-packages.sh)
    for lang, data in pdfs.items():
        source = tmp_path / f"report-{lang}.pdf"
        source.write_bytes(data)
        subprocess.run([pdftoppm, "-r", "60", "-png", str(source),
                        str(tmp_path / lang)], check=True, timeout=120)
        images = sorted(tmp_path.glob(f"{lang}-*.png"))
        assert len(images) == len(pypdf.PdfReader(io.BytesIO(data)).pages)
        for image in images:
            header = image.read_bytes()[:24]
            assert header.startswith(b"\x89PNG")
            width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
            short, long = sorted((width, height))
            assert abs(short - 496) <= 2 and abs(long - 702) <= 2, (width, height)  # A4 at 60 dpi, either way up
        assert re.fullmatch(r"(sv|en)-\d+\.png", images[0].name)


def test_a_very_wide_table_keeps_its_numbers_whole() -> None:
    # 18 columns do not fit even at the smallest font: the text columns give up width, numbers never break.
    columns = (Column("school", "test.col.school"),
               *(Column(f"e{i}", "test.col.energy", "kwh", compare=i % 2 == 0) for i in range(5)),
               Column("notes", "test.col.notes"), Column("installed", "test.col.installed", "date"))
    rows = [{"school": "Tranås gymnasieskola, aulan", **{f"e{i}": 1604938.1 for i in range(5)},
             **{f"e{i}__previous": 1000.0 for i in range(5)}, "notes": "https://example.org/" + "x" * 120,
             "installed": None} for _ in range(3)]
    doc = ReportDocument("inventory", "Tranås", 2026, GENERATED,
                         [Section("s", "test.section.energy", [Table("w", "test.table.energy", columns, rows)])])
    text = "\n".join(pages_text(render(doc, "pdf", "en")))
    assert text.count("1,604,938.1") == 3 * 5 and text.count("+1,603,938.1") == 3 * 3
