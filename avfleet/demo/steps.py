"""Extra demo steps: the one place where the demo does more once its controller and fleet are up.

A step is a function `step(ctx: DemoContext) -> None`. Steps run in list order after the controller
listens and every agent is connected, and before the ready lines are printed, so a script that
waits for `dashboard: ...` sees what the steps made (tickets, energy history, schedules ...). A step
that raises DemoError stops the demo with its message. To add one, write it in its own module of
this package and list it below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avfleet.demo.run import DemoContext

DemoStep = Callable[["DemoContext"], None]


def demo_steps() -> list[DemoStep]:
    """The steps of a default `avfleet demo`, in order."""
    from avfleet.demo.calendars import seed_calendars_and_schedules
    from avfleet.demo.energy import energy_history_step
    from avfleet.demo.inventory import seed_inventory

    return [seed_calendars_and_schedules, seed_inventory, energy_history_step]
