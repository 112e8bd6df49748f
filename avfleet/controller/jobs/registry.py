"""Every domain's periodic jobs, collected in one place for the controller's JobRunner.

A domain with periodic work has a jobs.py with `jobs(settings) -> list[Job]`; add it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avfleet.controller.jobs.runner import Job
from avfleet.controller.settings import ControllerSettings

if TYPE_CHECKING:
    from avfleet.controller.commands.service import Publisher


def all_jobs(settings: ControllerSettings, publisher: Publisher | None = None) -> list[Job]:
    """`publisher` is this process's broker link, for jobs that send commands (schedules)."""
    from avfleet.controller.commands import jobs as command_jobs
    from avfleet.controller.energy import jobs as energy_jobs
    from avfleet.controller.fleet import jobs as fleet_jobs
    from avfleet.controller.notifications import jobs as notification_jobs
    from avfleet.controller.reports import jobs as report_jobs
    from avfleet.controller.schedules import jobs as schedule_jobs
    from avfleet.controller.tickets import jobs as ticket_jobs

    found: list[Job] = []
    for module in (command_jobs, fleet_jobs, ticket_jobs, notification_jobs, energy_jobs, report_jobs):
        found.extend(module.jobs(settings))
    found.extend(schedule_jobs.jobs(settings, publisher))
    return found
