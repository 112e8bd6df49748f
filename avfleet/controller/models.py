"""Every table of the controller, imported in one place for Alembic and create_all."""

from __future__ import annotations

import sqlalchemy
from sqlmodel import SQLModel


def metadata() -> sqlalchemy.MetaData:
    """The metadata with every controller table registered."""
    from avfleet.controller.auth import models as _auth  # noqa: F401
    from avfleet.controller.calendars import models as _calendars  # noqa: F401
    from avfleet.controller.commands import models as _commands  # noqa: F401
    from avfleet.controller.energy import models as _energy  # noqa: F401
    from avfleet.controller.fleet import models as _fleet  # noqa: F401
    from avfleet.controller.inventory import models as _inventory  # noqa: F401
    from avfleet.controller.jobs import models as _jobs  # noqa: F401
    from avfleet.controller.notifications import models as _notifications  # noqa: F401
    from avfleet.controller.reports import models as _reports  # noqa: F401
    from avfleet.controller.schedules import models as _schedules  # noqa: F401
    from avfleet.controller.tickets import models as _tickets  # noqa: F401

    return SQLModel.metadata
