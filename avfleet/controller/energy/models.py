"""Energy tables: the daily roll-up per device and local day, and which days are rolled up."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from avfleet.controller.db import UTCDateTime


class EnergyFiguresBase(SQLModel):
    """Figures the API answers under their own names (schemas.EnergyItem); they add up across devices."""

    kwh: float = 0.0
    kwh_school_hours: float = 0.0
    kwh_left_on: float = 0.0
    kwh_standby: float = 0.0
    hours_on: float = 0.0
    hours_left_on: float = 0.0


class EnergyPlaceBase(SQLModel):
    """Where the device stood when its day was rolled up (a moved device counts where it was)."""

    municipality: str | None = Field(default=None, max_length=128)
    school: str | None = Field(default=None, max_length=128)
    room: str | None = Field(default=None, max_length=128)
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)


class EnergyDay(EnergyFiguresBase, EnergyPlaceBase, table=True):
    """One device's figures of one local (Europe/Stockholm) day; written by the energy.rollup job."""

    __tablename__ = "energy_daily"
    __table_args__ = (sa.Index("ix_energy_daily_day", "day"),)

    device_pk: int = Field(foreign_key="devices.id", primary_key=True)
    day: date = Field(primary_key=True)
    year: int  # of `day`, stored so a roll-up groups by plain columns on every backend
    month: int
    period_s: float  # 82800, 86400 or 90000: the local day's length
    measured_s: float = 0.0  # seconds with measured watts
    rated_s: float = 0.0  # seconds with rated watts; the rest of period_s is gaps
    computed_at: datetime = Field(sa_type=UTCDateTime)


class EnergyRolledDay(SQLModel, table=True):
    """A local day whose every device has its energy_daily row (else the query computes it on the fly)."""

    __tablename__ = "energy_rolled_days"

    day: date = Field(primary_key=True)
    devices: int = 0
    computed_at: datetime = Field(sa_type=UTCDateTime)


class EnergyMonth(EnergyFiguresBase, EnergyPlaceBase, table=True):
    """The sum of a device's energy_daily rows of one month, rewritten with every roll-up of a day of it:
    a county-year query sums 12 rows per device instead of 365."""

    __tablename__ = "energy_monthly"

    device_pk: int = Field(foreign_key="devices.id", primary_key=True)
    year: int = Field(primary_key=True)
    month: int = Field(primary_key=True)
    days: int = 0  # energy_daily rows summed
    period_s: float = 0.0
    measured_s: float = 0.0
    rated_s: float = 0.0


class AgentOutage(SQLModel, table=True):
    """A stretch while an agent was lost (silent past agent_lost_after_s, or its Will) or stopped
    (its "offline" status): its devices' states are not known then, so the energy figures count a gap
    instead of extending the last state. Written by the energy.outages job (jobs.py)."""

    __tablename__ = "agent_outages"
    __table_args__ = (sa.Index("ix_agent_outages_agent_since", "agent_id", "since"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(max_length=64)
    since: datetime = Field(sa_type=UTCDateTime)  # the agent's last_seen when it was found lost
    until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)  # None: still out
    reason: str = Field(max_length=16)  # lost | offline


class OutletReading(SQLModel, table=True):
    """A PDU outlet's watts for the device it feeds (`feeds` on the outlet in the PDU's state), noted by
    the energy.outlets job from the PDU's current status whenever they change by more than a dead band;
    `power_w` None: nothing measured from then on (PDU not answering). device_history cannot hold
    them: it stores a PDU's row only when its availability, power, faults or input change."""

    __tablename__ = "energy_outlet_readings"
    __table_args__ = (sa.Index("ix_energy_outlet_readings_fed", "agent_id", "device_id", "observed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)  # the fed device
    pdu_id: str = Field(max_length=64)
    outlet: int
    observed_at: datetime = Field(sa_type=UTCDateTime)  # the PDU state's observed_at
    power_w: float | None = None
