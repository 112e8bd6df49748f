"""Every user-facing string, by key: {"sv": ..., "en": ...}. Swedish is the default and the fallback."""

from __future__ import annotations

from avfleet.i18n.dashboard import DASHBOARD
from avfleet.i18n.report_layout import REPORT_LAYOUT
from avfleet.i18n.reports import REPORTS

_CORE: dict[str, dict[str, str]] = {
    # Ticket kinds, as a technician reads them.
    "kind.lamp": {"sv": "Lampfel", "en": "Lamp fault"},
    "kind.fan": {"sv": "Fläktfel", "en": "Fan fault"},
    "kind.temperature": {"sv": "Temperaturfel", "en": "Temperature fault"},
    "kind.cover": {"sv": "Lucka öppen", "en": "Cover open"},
    "kind.filter": {"sv": "Filterfel", "en": "Filter fault"},
    "kind.other": {"sv": "Annat fel", "en": "Other fault"},
    "kind.lamp_life": {"sv": "Lampan närmar sig sin livslängd", "en": "Lamp near end of life"},
    "kind.filter_life": {"sv": "Filtret närmar sig sin livslängd", "en": "Filter near end of life"},
    "kind.unreachable": {"sv": "Svarar inte", "en": "Not answering"},
    "kind.auth_failed": {"sv": "Fel lösenord", "en": "Wrong password"},
    "kind.agent_lost": {"sv": "Agenten har tappat kontakten", "en": "Agent lost"},
    "kind.command_failed": {"sv": "Kommando misslyckades", "en": "Command failed"},
    "kind.unit_swapped": {"sv": "Enheten har bytts ut", "en": "Unit swapped"},
    "severity.warning": {"sv": "varning", "en": "warning"},
    "severity.error": {"sv": "fel", "en": "error"},
    "state.open": {"sv": "öppet", "en": "open"},
    "state.acknowledged": {"sv": "kvitterat", "en": "acknowledged"},
    "state.resolved": {"sv": "åtgärdat", "en": "resolved"},
    "state.closed": {"sv": "stängt", "en": "closed"},
    # Ticket titles: "<kind>: <device> i <room>, <school>".
    "ticket.title.device": {"sv": "{kind}: {device} i {room}, {school}", "en": "{kind}: {device} in {room}, {school}"},
    "ticket.title.agent": {"sv": "{kind}: {agent} ({school}, {room})", "en": "{kind}: {agent} ({school}, {room})"},
    "ticket.title.school": {"sv": "Alla {count} agenter på {school} har tappat kontakten",
                            "en": "All {count} agents at {school} lost"},
    "ticket.note.opened": {"sv": "Öppnat automatiskt", "en": "Opened automatically"},
    "ticket.note.recurred": {"sv": "Felet återkom", "en": "The condition recurred"},
    "ticket.note.reopened": {"sv": "Återöppnat: felet återkom inom {hours} h",
                             "en": "Reopened: the condition recurred within {hours} h"},
    "ticket.note.auto_resolved": {"sv": "Löst automatiskt: felet har varit borta i {minutes} min",
                                  "en": "Resolved automatically: the condition has been clear for {minutes} min"},
    "ticket.note.escalated": {"sv": "Allvarlighetsgraden höjdes till {severity}",
                              "en": "Severity raised to {severity}"},
    # Notifications.
    "mail.subject": {"sv": "[avfleet] {event}: {title}", "en": "[avfleet] {event}: {title}"},
    "mail.digest.subject": {"sv": "[avfleet] Daglig sammanfattning {date}: {count} ärenden",
                            "en": "[avfleet] Daily digest {date}: {count} tickets"},
    "event.ticket.opened": {"sv": "Nytt ärende", "en": "New ticket"},
    "event.ticket.updated": {"sv": "Ärendet uppdaterat", "en": "Ticket updated"},
    "event.ticket.resolved": {"sv": "Ärendet åtgärdat", "en": "Ticket resolved"},
    "event.ticket.reopened": {"sv": "Ärendet återöppnat", "en": "Ticket reopened"},
    "event.ticket.closed": {"sv": "Ärendet stängt", "en": "Ticket closed"},
    "field.ticket": {"sv": "Ärende", "en": "Ticket"},
    "field.state": {"sv": "Status", "en": "State"},
    "field.severity": {"sv": "Allvarlighet", "en": "Severity"},
    "field.place": {"sv": "Plats", "en": "Place"},
    "field.device": {"sv": "Enhet", "en": "Device"},
    "field.model": {"sv": "Modell", "en": "Model"},
    "field.serial": {"sv": "Serienummer", "en": "Serial number"},
    "field.firmware": {"sv": "Firmware", "en": "Firmware"},
    "field.address": {"sv": "Adress", "en": "Address"},
    "field.lamp_hours": {"sv": "Lamptimmar", "en": "Lamp hours"},
    "field.filter_hours": {"sv": "Filtertimmar", "en": "Filter hours"},
    "field.forecast": {"sv": "Beräknat byte", "en": "Forecast replacement"},
    "field.warranty": {"sv": "Garanti t.o.m.", "en": "Warranty until"},
    "field.opened": {"sv": "Öppnat", "en": "Opened"},
    "field.updated": {"sv": "Uppdaterat", "en": "Updated"},
    "field.occurrences": {"sv": "Förekomster", "en": "Occurrences"},
    "field.link": {"sv": "Länk", "en": "Link"},
    "field.children": {"sv": "Berörda enheter", "en": "Affected devices"},
    "value.none": {"sv": "–", "en": "–"},
}


def _merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    # The catalogue is kept in a few files by area so that they can grow apart; a key may live in one only.
    merged: dict[str, dict[str, str]] = {}
    for part in parts:
        clash = merged.keys() & part.keys()
        if clash:
            raise RuntimeError(f"catalogue keys defined twice: {sorted(clash)}")
        merged.update(part)
    return merged


CATALOGUE: dict[str, dict[str, str]] = _merge(_CORE, REPORTS, REPORT_LAYOUT, DASHBOARD)
