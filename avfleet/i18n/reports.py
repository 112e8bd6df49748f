"""Report sections, tables, columns and notes (controller/reports/indicators and friends).

Part of the one catalogue (catalogue.py). Notes may use {year} and {previous_year} (the renderers
fill them) besides their own placeholders.
"""

from __future__ import annotations

REPORTS: dict[str, dict[str, str]] = {
    # Sections.
    "report.section.inventory": {"sv": "Inventarier", "en": "Inventory"},
    "report.section.health": {"sv": "Driftstatus", "en": "Health"},
    "report.section.service_life": {"sv": "Lampor och filter att byta", "en": "Lamps and filters due"},
    "report.section.warranty": {"sv": "Garantier", "en": "Warranties"},
    "report.section.repairs": {"sv": "Reparationer, återbruk och återvinning", "en": "Repairs, reuse and recycling"},
    "report.section.energy": {"sv": "Energi", "en": "Energy"},
    "report.section.equity": {"sv": "Likvärdighet mellan kommunerna", "en": "Equity across the municipalities"},
    "report.section.procurement": {"sv": "Underlag för upphandling", "en": "Evidence for procurement"},
    # Tables.
    "report.inventory.by_kind": {"sv": "Enheter per typ", "en": "Units by kind"},
    "report.inventory.by_model": {"sv": "Enheter per modell", "en": "Units by model"},
    "report.inventory.by_age": {"sv": "Enheter per ålder", "en": "Units by age"},
    "report.inventory.by_firmware": {"sv": "Enheter per firmware", "en": "Units by firmware"},
    "report.health.title": {"sv": "Ärenden, reparationstid och tillgänglighet",
                            "en": "Tickets, time to repair and availability"},
    "report.service_life.due": {"sv": "Prognos för byte, närmast först", "en": "Forecast replacement, soonest first"},
    "report.warranty.windows": {"sv": "Garantier som löper ut", "en": "Warranties ending"},
    "report.warranty.ending": {"sv": "Enheter vars garanti löper ut inom 180 dagar",
                               "en": "Units whose warranty ends within 180 days"},
    "report.repairs.title": {"sv": "Reparationsärenden och livscykel", "en": "Repair cases and life cycle"},
    "report.energy.title": {"sv": "Energi, utsläpp och besparing", "en": "Energy, emissions and savings"},
    "report.energy.per_month": {"sv": "kWh per månad", "en": "kWh per month"},
    "report.equity.title": {"sv": "Kommunerna sida vid sida, med länets median",
                            "en": "The municipalities side by side, with the county median"},
    "report.procurement.title": {"sv": "Per enhetsmodell i hela länet", "en": "Per device model across the county"},
    # Columns.
    "report.column.units": {"sv": "Enheter", "en": "Units"},
    "report.column.kind": {"sv": "Typ", "en": "Kind"},
    "report.column.model": {"sv": "Modell", "en": "Model"},
    "report.column.age_band": {"sv": "Ålder", "en": "Age"},
    "report.column.firmware": {"sv": "Firmware", "en": "Firmware"},
    "report.column.window": {"sv": "Garantin löper ut", "en": "Warranty ends"},
    "report.column.warranty_end": {"sv": "Garantins slut", "en": "Warranty end"},
    "report.column.school": {"sv": "Skola", "en": "School"},
    "report.column.serial": {"sv": "Serienummer", "en": "Serial"},
    "report.column.indicator": {"sv": "Nyckeltal", "en": "Indicator"},
    "report.column.value": {"sv": "Värde", "en": "Value"},
    "report.column.unit": {"sv": "Enhet", "en": "Unit"},
    "report.column.forecast": {"sv": "Prognos", "en": "Forecast"},
    "report.column.part": {"sv": "Del", "en": "Part"},
    "report.column.hours_used": {"sv": "Timmar", "en": "Hours"},
    "report.column.rated_life": {"sv": "Livslängd (h)", "en": "Rated life (h)"},
    "report.column.daily_hours": {"sv": "Timmar per dag", "en": "Hours a day"},
    "report.column.month": {"sv": "Månad", "en": "Month"},
    "report.column.kwh": {"sv": "Energi", "en": "Energy"},
    "report.column.municipality": {"sv": "Kommun", "en": "Municipality"},
    # Categories and values.
    "report.value.unknown": {"sv": "okänd", "en": "unknown"},
    "report.value.total": {"sv": "Totalt", "en": "Total"},
    "report.value.median": {"sv": "Länets median", "en": "County median"},
    "report.kind.projector": {"sv": "Projektor", "en": "Projector"},
    "report.kind.display": {"sv": "Skärm", "en": "Display"},
    "report.kind.pdu": {"sv": "Elstyrning (PDU)", "en": "Power unit (PDU)"},
    "report.kind.other": {"sv": "Övrigt", "en": "Other"},
    "report.kind.document_camera": {"sv": "Dokumentkamera", "en": "Document camera"},
    "report.kind.audio": {"sv": "Ljud", "en": "Audio"},
    "report.kind.screen": {"sv": "Projektionsduk", "en": "Projection screen"},
    "report.kind.computer": {"sv": "Dator", "en": "Computer"},
    "report.age.0_1": {"sv": "under 1 år", "en": "under 1 year"},
    "report.age.1_3": {"sv": "1–3 år", "en": "1–3 years"},
    "report.age.3_5": {"sv": "3–5 år", "en": "3–5 years"},
    "report.age.5_8": {"sv": "5–8 år", "en": "5–8 years"},
    "report.age.8_plus": {"sv": "8 år eller äldre", "en": "8 years or older"},
    "report.part.lamp": {"sv": "Lampa", "en": "Lamp"},
    "report.part.filter": {"sv": "Filter", "en": "Filter"},
    "report.warranty.within_30": {"sv": "inom 30 dagar", "en": "within 30 days"},
    "report.warranty.within_60": {"sv": "inom 60 dagar", "en": "within 60 days"},
    "report.warranty.within_90": {"sv": "inom 90 dagar", "en": "within 90 days"},
    "report.warranty.within_180": {"sv": "inom 180 dagar", "en": "within 180 days"},
    "report.warranty.expired": {"sv": "redan utgången", "en": "already ended"},
    "report.warranty.unknown": {"sv": "okänt slutdatum", "en": "end date unknown"},
    "report.health.open_at_end": {"sv": "Öppna ärenden vid periodens slut", "en": "Open tickets at the period's end"},
    "report.health.opened": {"sv": "Ärenden öppnade", "en": "Tickets opened"},
    "report.health.faults": {"sv": "varav maskinfel (lampa, fläkt, temperatur, lucka, filter, annat)",
                             "en": "of which hardware faults (lamp, fan, temperature, cover, filter, other)"},
    "report.health.repaired": {"sv": "Ärenden åtgärdade", "en": "Tickets resolved"},
    "report.health.mttr_h": {"sv": "Medeltid till åtgärd", "en": "Mean time to repair"},
    "report.health.availability": {"sv": "Tillgänglighet", "en": "Availability"},
    "report.repairs.cases": {"sv": "Reparationsärenden öppnade", "en": "Repair cases opened"},
    "report.repairs.under_warranty_pct": {"sv": "Andel inom garantin", "en": "Share under warranty"},
    "report.repairs.turnaround_days": {"sv": "Genomsnittlig handläggningstid", "en": "Mean turnaround"},
    "report.repairs.retired": {"sv": "Enheter tagna ur bruk (till återbruk)",
                               "en": "Units retired (to the reuse pool)"},
    "report.repairs.reused": {"sv": "Enheter återbrukade", "en": "Units reused"},
    "report.repairs.recycled": {"sv": "Enheter återvunna", "en": "Units recycled"},
    "report.energy.kwh": {"sv": "Energiförbrukning", "en": "Energy used"},
    "report.energy.co2e_kg": {"sv": "Utsläpp (CO2e)", "en": "Emissions (CO2e)"},
    "report.energy.hours_left_on": {"sv": "Timmar påslagen utanför skoltid",
                                    "en": "Hours left on outside school hours"},
    "report.energy.kwh_saved": {"sv": "Sparat genom scheman", "en": "Saved by schedules"},
    "report.energy.devices": {"sv": "Uppkopplade enheter med energidata", "en": "Networked devices with energy data"},
    "report.equity.devices_per_school": {"sv": "Enheter per skola", "en": "Devices per school"},
    "report.equity.mean_age_years": {"sv": "Medelålder (år)", "en": "Mean age (years)"},
    "report.equity.past_warranty_pct": {"sv": "Utan garanti (%)", "en": "Past warranty (%)"},
    "report.equity.availability_pct": {"sv": "Tillgänglighet (%)", "en": "Availability (%)"},
    "report.equity.faults_per_device": {"sv": "Fel per enhet", "en": "Faults per device"},
    "report.equity.kwh_per_device": {"sv": "Energi per enhet", "en": "Energy per device"},
    "report.equity.left_on_hours_per_device": {"sv": "Påslagen utanför skoltid per enhet",
                                               "en": "Left on outside school hours per device"},
    "report.procurement.unit_years": {"sv": "Enhetsår", "en": "Unit-years"},
    "report.procurement.faults_per_unit_year": {"sv": "Fel per enhetsår", "en": "Faults per unit-year"},
    "report.procurement.repairs_per_unit_year": {"sv": "Reparationer per enhetsår", "en": "Repairs per unit-year"},
    "report.procurement.repaired_under_warranty_pct": {"sv": "Reparerade inom garantin (%)",
                                                       "en": "Repaired under warranty (%)"},
    "report.procurement.kwh_per_unit_year": {"sv": "Energi per enhetsår", "en": "Energy per unit-year"},
    "report.procurement.basis": {"sv": "Underlag", "en": "Basis"},
    "report.basis.measured": {"sv": "uppmätt", "en": "measured"},
    "report.basis.rated": {"sv": "märkeffekt", "en": "rated watts"},
    "report.basis.mixed": {"sv": "uppmätt och märkeffekt", "en": "measured and rated"},
    # Units of values and axes.
    "report.unit.units": {"sv": "enheter", "en": "units"},
    "report.unit.int": {"sv": "st", "en": "count"},
    "report.unit.hours": {"sv": "timmar", "en": "hours"},
    "report.unit.days": {"sv": "dagar", "en": "days"},
    "report.unit.kwh": {"sv": "kWh", "en": "kWh"},
    "report.unit.kg": {"sv": "kg CO2e", "en": "kg CO2e"},
    "report.unit.percent": {"sv": "procent", "en": "per cent"},
    # Charts.
    "report.chart.inventory_by_kind": {"sv": "Enheter per typ, i år och i fjol",
                                       "en": "Units by kind, this year and last"},
    "report.chart.kwh_per_month": {"sv": "kWh per månad, i år och i fjol", "en": "kWh per month, this year and last"},
    "report.chart.equity_availability": {"sv": "Tillgänglighet per kommun", "en": "Availability per municipality"},
    "report.chart.equity_devices_per_school": {"sv": "Enheter per skola, per kommun",
                                               "en": "Devices per school, per municipality"},
    # Notes: what each figure rests on.
    "report.note.period": {
        "sv": "Perioden är {start}–{end}; varje nyckeltal jämförs med samma period året innan (till {previous_end}).",
        "en": "The period is {start} to {end}; each indicator is compared with the same period a year earlier "
              "(to {previous_end})."},
    "report.note.in_service": {
        "sv": "Enheter i drift den {date} (föregående år den {previous}): från installation (annars inköp) tills de "
              "togs ur bruk eller återvanns; återbrukade räknas igen från återbruksdagen.",
        "en": "Units in service on {date} (previous year on {previous}): from installation (else purchase) until "
              "retired or recycled; reused units count again from the day of reuse."},
    "report.note.age": {"sv": "Ålder från inköpsdatum (annars installationsdatum) till periodens slut.",
                        "en": "Age from the purchase date (else the install date) to the end of the period."},
    "report.note.current_fields": {
        "sv": "Typ, modell och firmware är registrets nuvarande värden för båda åren.",
        "en": "Kind, model and firmware are the register's current values for both years."},
    "report.note.warranty": {
        "sv": "Räknat från {date}; fönstren är kumulativa (inom 60 dagar innefattar inom 30).",
        "en": "Counted from {date}; the windows are cumulative (within 60 days includes within 30)."},
    "report.note.health": {
        "sv": "Ärenden per kommun där enheten stod när ärendet öppnades. Medeltid till åtgärd: öppnat till "
              "åtgärdat, för ärenden åtgärdade under perioden. Tillgänglighet: medelvärdet över enheterna av "
              "andelen av tiden de svarade med känt strömläge (energidomänens täckning), till {date}.",
        "en": "Tickets by the municipality where the device stood when the ticket opened. Mean time to repair: "
              "opened to resolved, for tickets resolved in the period. Availability: the mean over devices of the "
              "share of time each answered with a known power state (the energy domain's coverage), to {date}."},
    "report.note.service_life": {
        "sv": "Lamp- och filtertimmar mot modellens livslängd, med enhetens timmar per dag de senaste 30 dagarna "
              "(samma prognos som i ärendena); bara delar som kan nå sin livslängd inom {days} dagar. Dagens "
              "avläsningar, utan jämförelse med föregående år.",
        "en": "Lamp and filter hours against the model's rated life, at the device's hours a day over the last 30 "
              "days (the same forecast as in tickets); only parts that can reach their rated life within {days} "
              "days. Today's readings, not compared with the previous year."},
    "report.note.repairs": {
        "sv": "Ärenden räknas det år de öppnades, handläggningstid (öppnat till stängt) det år de stängdes.",
        "en": "Cases count in the year they opened, turnaround (opened to closed) in the year they closed."},
    "report.note.energy": {
        "sv": "CO2e med {factor} g/kWh (källa: {source}). Besparing: schemakörningarnas beräknade kWh, "
              "fördelade per kommun efter de enheter de stängde av.",
        "en": "CO2e at {factor} g/kWh (source: {source}). Savings: the schedule runs' estimated kWh, split per "
              "municipality by the devices they switched off."},
    "report.note.equity": {
        "sv": "Enheter i drift vid periodens slut. Fel per enhet: maskinfel öppnade under perioden. Energi och "
              "timmar per uppkopplad enhet med energidata. Medianen är över de kommuner som visas.",
        "en": "Units in service at the end of the period. Faults per device: hardware faults opened in the "
              "period. Energy and hours per networked device with energy data. The median is over the "
              "municipalities shown."},
    "report.note.procurement": {
        "sv": "Ett enhetsår är en enhet i drift ett helt år. Energi per enhetsår för enheter med energidata; "
              "underlaget anger om den är uppmätt eller beräknad från märkeffekt.",
        "en": "A unit-year is one unit in service for a whole year. Energy per unit-year for units with energy "
              "data; the basis says whether it was measured or computed from rated watts."},
    # The monthly e-mail with the report attached.
    "report.mail.subject": {"sv": "Inventarierapport {place} {year} (till och med {month})",
                            "en": "Inventory report {place} {year} (up to {month})"},
    "report.mail.body": {
        "sv": "Hej!\n\nBifogat finns inventarierapporten för {place}, {year} till och med {month}, med "
              "föregående år som jämförelse.\n\nMedia- och kommunikationscentrum (avfleet)",
        "en": "Hello,\n\nAttached is the inventory report for {place}, {year} up to {month}, compared with the "
              "previous year.\n\nMedia centre (avfleet)"},
    "report.mail.county": {"sv": "hela länet", "en": "the whole county"},
}
