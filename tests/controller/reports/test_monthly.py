"""The monthly report by e-mail: enqueued once per month and list, sent once through the outbox to aiosmtpd
with the PDF attached, across a restart of the job runner (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.jobs.runner import JobRunner
from avfleet.controller.notifications import jobs as notification_jobs
from avfleet.controller.notifications.models import Notification
from avfleet.controller.reports import jobs as report_jobs
from avfleet.controller.settings import load_settings
from tests.controller.reports.support import JKPG, build_fleet
from tests.support.receivers import SmtpInbox

FIRST_OF_FEBRUARY = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)  # 07:00 in Stockholm


def test_the_monthly_report_arrives_once_with_its_pdf_across_a_restart(db_url: str, engine: Engine) -> None:
    build_fleet(engine)
    smtp = SmtpInbox().start()
    try:
        settings = load_settings(demo=True, database_url=db_url, smtp={"host": "127.0.0.1", "port": smtp.port},
                                 report_recipients={JKPG: ["it@jonkoping.example", "rektor@jonkoping.example"]})
        reports = report_jobs.jobs(settings, clock=lambda: FIRST_OF_FEBRUARY)
        # The first runner enqueues the report, then stops before the outbox sent it (a restart).
        first = JobRunner(engine, reports, holder="controller-1")
        assert first.run_due() == ["reports.monthly", "reports.savings"]
        first.stop()
        o = Notification.__table__.c
        with engine.connect() as conn:
            (row,) = conn.execute(sa.select(o.state, o.event, o.target)).all()
        assert (row.state, row.event) == ("pending", "report.monthly") and smtp.messages == []
        # The next runner (another process) runs the month's job again and the outbox: one mail, not two.
        second = JobRunner(engine, [*report_jobs.jobs(settings, clock=lambda: FIRST_OF_FEBRUARY),
                                    *notification_jobs.jobs(settings)], holder="controller-2")
        second.run_due()
        ((rcpt, message),) = smtp.wait_for(1)
        second.run_due(now_mono=10_000.0)  # a later tick: nothing new is enqueued or sent
        second.stop()
        assert len(smtp.messages) == 1
        assert sorted(rcpt) == ["it@jonkoping.example", "rektor@jonkoping.example"]
        assert message["Subject"] == "Inventarierapport Jönköping 2026 (till och med 2026-01)"
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == "inventarierapport-jonkoping-2026.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content().startswith(b"%PDF")
        assert "Bifogat finns inventarierapporten för Jönköping" in message.get_body(("plain",)).get_content()
        with engine.connect() as conn:
            assert conn.execute(sa.select(o.state)).scalars().all() == ["sent"]
        # Not the 1st (nor within report_monthly_days): nothing.
        assert report_jobs.monthly_delivery(engine, settings, datetime(2026, 2, 10, tzinfo=UTC)) == 0
    finally:
        smtp.stop()
