"""The one string catalogue of avfleet: Swedish first, English on request.

Every user-facing string (ticket titles, e-mails, reports, the dashboard) is a key here with its
Swedish and English text; `text(key, lang, **values)` formats it. Dates and times shown to people
go through `local_time()` (Europe/Stockholm, 24-hour, ISO dates).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from avfleet.i18n.catalogue import CATALOGUE

Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def text(key: str, lang: str = "sv", /, **values: object) -> str:
    """The catalogue's text for `key` in `lang` (Swedish when the language is unknown), formatted."""
    entry = CATALOGUE[key]
    template = entry.get(lang) or entry["sv"]
    return template.format(**values) if values else template


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """`2026-12-01 14:05` in Europe/Stockholm; empty for None."""
    if moment is None:
        return ""
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
