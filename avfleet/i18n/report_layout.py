"""The report files' own words: cover, headers, footers, units (controller/reports/render_*).

Part of the one catalogue (catalogue.py). Chart series may use `layout.series.current` and
`layout.series.previous` as labels: the renderers format every label with `year` and
`previous_year`, so they read "2026" and "2025".
"""

from __future__ import annotations

REPORT_LAYOUT: dict[str, dict[str, str]] = {
    "layout.title.inventory": {"sv": "Inventarierapport", "en": "Inventory report"},
    "layout.place.county": {"sv": "Hela länet", "en": "The whole county"},
    "layout.cover.place": {"sv": "Kommun", "en": "Municipality"},
    "layout.cover.year": {"sv": "År", "en": "Year"},
    "layout.cover.compared": {"sv": "Jämförs med", "en": "Compared with"},
    "layout.cover.generated": {"sv": "Skapad", "en": "Generated"},
    "layout.cover.generated_line": {"sv": "Skapad {time}", "en": "Generated {time}"},
    "layout.cover.co2e": {"sv": "Emissionsfaktor", "en": "Emission factor"},
    "layout.cover.co2e_value": {"sv": "{factor} g CO2e/kWh", "en": "{factor} g CO2e/kWh"},
    "layout.cover.co2e_source": {"sv": "Källa för emissionsfaktorn", "en": "Source of the emission factor"},
    "layout.cover.assumptions": {"sv": "Antaganden", "en": "Assumptions"},
    "layout.cover.contents": {"sv": "Innehåll", "en": "Contents"},
    "layout.sheet.cover": {"sv": "Översikt", "en": "Overview"},
    "layout.sheet.chart_data": {"sv": "Diagramdata", "en": "Chart data"},
    "layout.column.with_unit": {"sv": "{label} ({unit})", "en": "{label} ({unit})"},
    "layout.column.previous": {"sv": "{label}, föregående år ({year})", "en": "{label}, previous year ({year})"},
    "layout.column.change": {"sv": "{label}, förändring", "en": "{label}, change"},
    "layout.column.change_points": {"sv": "{label}, förändring (procentenheter)",
                                    "en": "{label}, change (percentage points)"},
    "layout.unit.kwh": {"sv": "kWh", "en": "kWh"},
    "layout.unit.kg": {"sv": "kg CO2e", "en": "kg CO2e"},
    "layout.unit.sek": {"sv": "kr", "en": "SEK"},
    "layout.unit.hours": {"sv": "h", "en": "h"},
    "layout.unit.days": {"sv": "dagar", "en": "days"},
    "layout.unit.percent": {"sv": "%", "en": "%"},
    "layout.footer.page": {"sv": "Sida {page} av {pages}", "en": "Page {page} of {pages}"},
    "layout.more_rows": {"sv": "… och {count} rader till – se XLSX-filen",
                         "en": "… and {count} more rows — see the XLSX file"},
    "layout.empty_table": {"sv": "Inga rader", "en": "No rows"},
    "layout.series.current": {"sv": "{year}", "en": "{year}"},
    "layout.series.previous": {"sv": "{previous_year}", "en": "{previous_year}"},
    "layout.csv.report": {"sv": "Rapport", "en": "Report"},
    "layout.csv.section": {"sv": "Avsnitt", "en": "Section"},
    "layout.csv.table": {"sv": "Tabell", "en": "Table"},
}
