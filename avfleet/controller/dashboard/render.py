"""Rendering a dashboard page: the Jinja2 environment, the reader's language, the page frame.

Templates live in templates/ and see `t(key, **values)` (the catalogue in the page's language),
`when(datetime)` (Europe/Stockholm, 24-hour) and `who` (the principal). Autoescape is on: every
value from the database is text, never markup.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from avfleet.controller.auth.principal import Principal
from avfleet.i18n import LANGS, local_time, text
from avfleet.protocols.status import FAULT_COMPONENTS

LANG_COOKIE = "avfleet_lang"
# Values the page script shows by itself (live updates, command results, login refusals).
SCRIPT_LABELS = {
    "state": ("on", "standby", "warming", "cooling", "unknown", "online", "unreachable", "auth_failed", "error",
              "offline", "lost"),
    "command": ("pending", "sent", "done", "failed", "expired", "rejected"),
    "login": ("401", "423", "429"),
    "ticket": ("open", "acknowledged", "resolved", "closed"),
}
# PJLink input codes people know by name (the control's choices); others are shown as their code.
INPUTS = {"31": "dash.input.hdmi1", "32": "dash.input.hdmi2", "11": "dash.input.rgb1", "21": "dash.input.video",
          "51": "dash.input.network"}
LANG_MAX_AGE = 365 * 24 * 3600


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("avfleet.controller.dashboard", "templates"),
                      autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    return env


def language(request: Request) -> str:
    """`?lang=` first (the switch), then the cookie it set, then Swedish."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGS else "sv"


def _when(moment: Any, seconds: bool = False) -> str:
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if isinstance(moment, datetime):
        return local_time(moment, seconds=seconds)
    if isinstance(moment, date):
        return moment.isoformat()
    return str(moment)


def page_url(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters replaced (None drops one): pagination, filters, lang."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def render(request: Request, template: str, principal: Principal | None, status_code: int = 200,
           **values: Any) -> HTMLResponse:
    lang = language(request)

    def t(key: str, **fields: object) -> str:
        return text(key, lang, **fields)

    prefixes = {"ticket": "dash.ticket.state"}
    labels = {group: {value: text(f"{prefixes.get(group, 'dash.' + group)}.{value}", lang) for value in values}
              for group, values in SCRIPT_LABELS.items()}
    labels["input"] = {code: f"{text(key, lang)} ({code})" for code, key in INPUTS.items()}
    labels["fault"] = {name: text(f"dash.fault.{name}", lang) for name in FAULT_COMPONENTS}

    def num(value: float | None, digits: int = 1) -> str:
        """A number as the language writes it: 1,5 in Swedish, 1.5 in English."""
        if value is None:
            return "–"
        shown = f"{value:.{digits}f}"
        return shown.replace(".", ",") if lang == "sv" else shown

    def input_name(code: str | None) -> str:
        return "" if not code else labels["input"].get(code, code)
    page = environment().get_template(template).render(
        t=t, lang=lang, when=_when, who=principal, request=request, path=request.url.path,
        url=lambda **changes: page_url(request, **changes), input_name=input_name, inputs=labels["input"], num=num,
        labels_json=json.dumps(labels, ensure_ascii=False), **values)
    response = HTMLResponse(page, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_MAX_AGE, samesite="lax", path="/")
    # Pages show live data for one principal: never cached by a proxy or the browser's back button.
    response.headers["Cache-Control"] = "no-store"
    return response
