"""The senders: webhook (signed JSON), e-mail (SMTP) and TOPdesk (incidents API). Each raises
`DeliveryFailed` with a reason that names the receiver but never a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx

from avfleet.controller.notifications import render
from avfleet.controller.settings import ControllerSettings, SmtpSettings, TopdeskSettings, read_secret


class DeliveryFailed(Exception):
    """The receiver did not take it; `permanent` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(settings: ControllerSettings, row: Any) -> None:
    hook = next((h for h in settings.webhooks if h.url == row.target), None)
    if hook is None:
        raise DeliveryFailed("this webhook is no longer configured", permanent=True)
    body = json.dumps(row.payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "avfleet",
               "X-Avfleet-Signature": signature(hook.secret.get_secret_value(), body),
               "X-Avfleet-Delivery": row.delivery_id, "X-Avfleet-Event": row.event}
    try:
        answer = httpx.post(hook.url, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}") from None
    if not answer.is_success:
        raise DeliveryFailed(f"webhook answered HTTP {answer.status_code}")


def send_email(settings: ControllerSettings, row: Any) -> None:
    smtp = settings.smtp
    if smtp is None:
        raise DeliveryFailed("no smtp settings", permanent=True)
    payload = row.payload
    if "mail" in payload:  # written whole when enqueued (the monthly report): subject, text, attachments
        _send_prepared(smtp, row, payload["mail"])
        return
    if row.event == "digest":
        subject, plain, html = render.digest_mail(payload["items"], payload["day"], row.language)
    else:
        subject, plain, html = render.ticket_mail(row.event, payload["ticket"], row.language)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = row.target
    # A fixed Message-ID per delivery: a mail system that sees a retry of the same message can drop it.
    message["Message-ID"] = make_msgid(idstring=row.delivery_id, domain="avfleet")
    message["X-Avfleet-Delivery"] = row.delivery_id
    message.set_content(plain)
    message.add_alternative(html, subtype="html")
    _smtp_send(smtp, message, row.target.split(","))


def _send_prepared(smtp: SmtpSettings, row: Any, mail: dict[str, Any]) -> None:
    import base64

    message = EmailMessage()
    message["Subject"] = mail["subject"]
    message["From"] = smtp.sender
    message["To"] = row.target
    message["Message-ID"] = make_msgid(idstring=row.delivery_id, domain="avfleet")
    message["X-Avfleet-Delivery"] = row.delivery_id
    message.set_content(mail["text"])
    for attachment in mail.get("attachments", []):
        maintype, subtype = attachment["media_type"].split(";")[0].split("/", 1)
        message.add_attachment(base64.b64decode(attachment["base64"]), maintype=maintype, subtype=subtype,
                               filename=attachment["filename"])
    _smtp_send(smtp, message, row.target.split(","))


def _smtp_send(smtp: SmtpSettings, message: EmailMessage, to: list[str]) -> None:
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls()
            password = read_secret(smtp.password, smtp.password_file, "smtp.password_file")
            if smtp.username and password:
                client.login(smtp.username, password)
            refused = client.send_message(message, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"SMTP refused every recipient: {', '.join(exc.recipients)}", permanent=True) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"[:300]) from None
    if refused:
        raise DeliveryFailed(f"SMTP refused {', '.join(refused)}", permanent=True)


class TopdeskClient:
    """The few calls of TOPdesk's incident API that tickets need (docs/tickets.md)."""

    def __init__(self, config: TopdeskSettings) -> None:
        password = read_secret(config.application_password, config.application_password_file,
                               "topdesk.application_password_file")
        if not password:
            raise DeliveryFailed("topdesk: no application password configured", permanent=True)
        self.config = config
        self.http = httpx.Client(base_url=config.url.rstrip("/"), auth=(config.username, password),
                                 timeout=config.timeout_s, headers={"Accept": "application/json"})

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"topdesk unreachable: {type(exc).__name__}") from None
        if answer.status_code in (401, 403):
            raise DeliveryFailed(f"topdesk refused the login (HTTP {answer.status_code})")
        if not answer.is_success:
            raise DeliveryFailed(f"topdesk {method} {path} answered HTTP {answer.status_code}")
        return answer

    def find_by_external_number(self, external: str) -> dict[str, Any] | None:
        answer = self._call("GET", "/tas/api/incidents", params={"query": f'externalNumber=="{external}"'})
        if answer.status_code == 204 or not answer.content:
            return None
        found = answer.json()
        return found[0] if found else None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/tas/api/incidents", json=body).json()

    def update(self, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/tas/api/incidents/id/{incident_id}", json=body).json()


def external_number(ticket_id: Any) -> str:
    return f"avfleet-{ticket_id}"


def topdesk_body(config: TopdeskSettings, event: str, ticket: dict[str, Any], lang: str, *,
                 create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"request": render.topdesk_request(event, ticket, lang)}
    if create:
        body["briefDescription"] = ticket["title"][:80]
        body["externalNumber"] = external_number(ticket["id"])
        if config.caller_email:
            body["callerLookup"] = {"email": config.caller_email}
        else:
            body["caller"] = {"dynamicName": config.caller_name}
        if config.category:
            body["category"] = {"name": config.category}
        if config.subcategory:
            body["subcategory"] = {"name": config.subcategory}
        priority = config.priority_by_severity.get(ticket["severity"])
        if priority:
            body["priority"] = {"name": priority}
    if event in ("ticket.resolved", "ticket.closed"):
        body["closed"] = True
        if config.closed_processing_status:
            body["processingStatus"] = {"name": config.closed_processing_status}
    elif event == "ticket.reopened":
        body["closed"] = False
    return body
