"""Monthly delivery: on the 1st, each recipient list's inventory report (PDF) for the year to date, by e-mail.

The job renders the report of the month just ended (on 1 February: January; on 1 January: the whole
previous year) and writes one outbox row per recipient list with the PDF inside it, so the mail
survives a restart and is sent by the outbox's own job (notifications/jobs.py, retries and all).
The row's delivery_id is derived from the list and the month: whichever controller runs the job,
and however often, a month's report is enqueued once. A controller down on the 1st catches up
within `report_monthly_days` days.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.errors import DomainError
from avfleet.controller.jobs.runner import Job
from avfleet.controller.notifications.models import Notification
from avfleet.controller.settings import ControllerSettings
from avfleet.i18n import STOCKHOLM, text

log = logging.getLogger("avfleet.controller.reports")
OUTBOX = Notification.__table__
COUNTY_KEY = "county"
EVENT = "report.monthly"


def delivery_id(key: str, target: str, month: str) -> str:
    return "report-" + hashlib.sha256(f"{key}|{target}|{month}".encode()).hexdigest()[:40]


def report_moment(now: datetime) -> datetime:
    """The last second of the month just ended: the report's moment (its year to date ends there)."""
    local = now.astimezone(STOCKHOLM)
    first = datetime.combine(local.date().replace(day=1), time(0), tzinfo=STOCKHOLM)
    return first - timedelta(seconds=1)


def monthly_delivery(engine: Engine, settings: ControllerSettings, now: datetime, service: Any = None) -> int:
    """Enqueue the month's reports not enqueued yet; how many were written."""
    if not settings.report_recipients or now.astimezone(STOCKHOLM).day > settings.report_monthly_days:
        return 0
    moment = report_moment(now)
    month = moment.strftime("%Y-%m")
    made = 0
    for key, recipients in sorted(settings.report_recipients.items()):
        if not recipients:
            continue
        target = ",".join(recipients)
        wanted = delivery_id(key, target, month)
        with engine.connect() as conn:
            if conn.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.delivery_id == wanted)).first():
                continue
            if service is None:
                from avfleet.controller.reports.service import ReportService

                service = ReportService(settings)
            municipality = None if key == COUNTY_KEY else key
            lang = settings.report_language
            try:
                report = service.report_file(conn, municipality, moment.year, "pdf", lang, moment)
            except DomainError as exc:
                log.warning("monthly report for %s not made: %s", key, exc)
                continue
        place = municipality or text("report.mail.county", lang)
        values = {"place": place, "year": moment.year, "month": month}
        payload = {"report": {"municipality": municipality, "year": moment.year, "month": month},
                   "mail": {"subject": text("report.mail.subject", lang, **values),
                            "text": text("report.mail.body", lang, **values),
                            "attachments": [{"filename": report.filename, "media_type": report.media_type,
                                             "base64": base64.b64encode(report.body).decode()}]}}
        with write_transaction(engine) as conn:
            if conn.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.delivery_id == wanted)).first():
                continue
            conn.execute(OUTBOX.insert().values(
                channel="email", target=target, event=EVENT, ticket_id=None, delivery_id=wanted, state="pending",
                attempts=0, created_at=now, next_attempt_at=now, language=lang, payload=payload))
        made += 1
        log.info("monthly report for %s (%s) enqueued for %d recipient(s)", key, month, len(recipients))
    return made


def jobs(settings: ControllerSettings, clock: Callable[[], datetime] | None = None) -> list[Job]:
    """`clock` replaces the runner's time (tests deliver "on the 1st" whatever the date)."""
    state: dict[str, Any] = {}

    def run(engine: Engine, now: datetime) -> None:
        if "service" not in state and settings.report_recipients:
            from avfleet.controller.reports.service import ReportService

            state["service"] = ReportService(settings)
        monthly_delivery(engine, settings, clock() if clock else now, state.get("service"))

    def savings(engine: Engine, _now: datetime) -> None:
        from avfleet.controller.reports.energy_figures import split_savings

        split_savings(engine)

    return [Job("reports.monthly", 900.0, run), Job("reports.savings", 300.0, savings)]
