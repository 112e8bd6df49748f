"""What a person reads: e-mail (plain text and HTML) and the TOPdesk request text, in Swedish or English."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from avfleet.i18n import local_time, text


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("avfleet.controller.notifications", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.globals["t"] = text
    env.filters["local"] = lambda value: local_time(datetime.fromisoformat(value)) if value else ""
    return env


def context_rows(ticket: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The ticket's facts as (label, value) lines, in the order a technician looks for them."""
    c = ticket.get("context") or {}
    none = text("value.none", lang)

    def v(value: Any) -> str:
        return none if value in (None, "") else str(value)

    place = ", ".join(x for x in (c.get("municipality"), c.get("school"), c.get("room")) if x) or none
    model = " ".join(x for x in (c.get("manufacturer"), c.get("model")) if x) or none
    rows = [
        (text("field.state", lang), text(f"state.{ticket['state']}", lang)),
        (text("field.severity", lang), text(f"severity.{ticket['severity']}", lang)),
        (text("field.place", lang), place),
        (text("field.device", lang), v(ticket.get("device_id") or ticket.get("agent_id"))),
        (text("field.model", lang), model),
        (text("field.serial", lang), v(c.get("serial"))),
        (text("field.firmware", lang), v(c.get("firmware"))),
        (text("field.address", lang), v(c.get("address"))),
    ]
    if c.get("lamp_hours") is not None:
        rated = f" / {c['lamp_life_h']}" if c.get("lamp_life_h") else ""
        rows.append((text("field.lamp_hours", lang), f"{c['lamp_hours']}{rated} h"))
    if c.get("filter_hours") is not None:
        rated = f" / {c['filter_life_h']}" if c.get("filter_life_h") else ""
        rows.append((text("field.filter_hours", lang), f"{c['filter_hours']}{rated} h"))
    if c.get("forecast_date"):
        rows.append((text("field.forecast", lang), c["forecast_date"]))
    rows.append((text("field.warranty", lang), v(c.get("warranty_end"))))
    rows.append((text("field.opened", lang), local_time(_dt(ticket.get("opened_at")))))
    rows.append((text("field.updated", lang), local_time(_dt(ticket.get("updated_at")))))
    rows.append((text("field.occurrences", lang), str(ticket.get("occurrences", 1))))
    if ticket.get("children"):
        devices = [ch["device_id"] or ch["agent_id"] for ch in ticket["children"]]
        rows.append((text("field.children", lang), ", ".join(devices)))
    if c.get("link"):
        rows.append((text("field.link", lang), c["link"]))
    return rows


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def ticket_mail(event: str, ticket: dict[str, Any], lang: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of one ticket event."""
    env = _environment()
    subject = text("mail.subject", lang, event=text(f"event.{event}", lang), title=ticket["title"])
    values = {"lang": lang, "event": event, "ticket": ticket, "rows": context_rows(ticket, lang)}
    return subject, env.get_template("ticket.txt").render(values), env.get_template("ticket.html").render(values)


def digest_mail(items: list[dict[str, Any]], day: str, lang: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a daily digest: each ticket's latest event, once."""
    env = _environment()
    latest: dict[Any, dict[str, Any]] = {}
    for item in items:
        latest[item["ticket"].get("id")] = item
    entries = [{"event": i["event"], "ticket": i["ticket"], "rows": context_rows(i["ticket"], lang)}
               for i in latest.values()]
    subject = text("mail.digest.subject", lang, date=day, count=len(entries))
    values = {"lang": lang, "entries": entries, "day": day}
    return subject, env.get_template("digest.txt").render(values), env.get_template("digest.html").render(values)


def topdesk_request(event: str, ticket: dict[str, Any], lang: str) -> str:
    """The `request` text of a TOPdesk incident: plain lines joined by <br> (TOPdesk keeps few tags)."""
    from html import escape

    lines = [escape(text(f"event.{event}", lang)) + ": " + escape(ticket["title"])]
    lines += [f"{escape(label)}: {escape(value)}" for label, value in context_rows(ticket, lang)]
    return "<br>".join(lines)
