"""Agents, devices and constructed histories written straight into the tables (no broker needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.energy.school_days import LOCAL
from avfleet.controller.fleet.models import Agent, Device, DeviceTransition

BENQ = {"identity": {"manufacturer": "BenQ", "model": "MW560", "pjlink_class": "1"}, "protocol": "pjlink"}
# firmware_configs/profiles/benq-mw560.yaml: on 270 W, networked standby 2.0 W.
BENQ_ON_W, BENQ_STANDBY_W = 270.0, 2.0
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL).astimezone(UTC)


def add_agent(conn: sa.Connection, agent_id: str, municipality: str, school: str, room: str,
              state: str = "online") -> None:
    conn.execute(Agent.__table__.insert().values(agent_id=agent_id, municipality=municipality, school=school,
                                                 room=room, state=state, first_seen=T0, changed_at=T0,
                                                 last_seen=T0))


def add_device(conn: sa.Connection, agent_id: str, device_id: str, status: dict | None = None,
               kind: str = "projector") -> int:
    status = status if status is not None else BENQ
    return conn.execute(Device.__table__.insert().values(
        agent_id=agent_id, device_id=device_id, kind=kind, protocol=status.get("protocol"), changed_at=T0,
        status=status, model=(status.get("identity") or {}).get("model")).returning(Device.__table__.c.id)).scalar_one()


def add_history(conn: sa.Connection, pk: int, agent_id: str, device_id: str,
                rows: list[tuple[datetime, str, str, float | None]]) -> None:
    conn.execute(DeviceTransition.__table__.insert(), [
        {"device_pk": pk, "agent_id": agent_id, "device_id": device_id, "seq": i + 1, "replayed": False,
         "observed_at": at, "received_at": at, "availability": availability, "power": power, "power_w": watts,
         "active_faults": ""} for i, (at, availability, power, watts) in enumerate(rows)])


def build_county(engine: Engine, days: list[date]) -> dict[str, int]:
    """Two municipalities, three schools, four projectors; each on 08:00-10:00 local every listed day,
    one of them also left on overnight from 16:00 (to 07:00 the next day)."""
    pks = {}
    with engine.begin() as conn:
        for agent_id, municipality, school, room in (
                ("jkpg-ek-a1", "Jönköping", "Ekhagens skola", "A1"),
                ("jkpg-ek-b1", "Jönköping", "Ekhagens skola", "B1"),
                ("jkpg-torpa-a1", "Jönköping", "Torpaskolan", "A1"),
                ("habo-furu-a1", "Habo", "Furuskolan", "A1")):
            add_agent(conn, agent_id, municipality, school, room)
            device_id = f"{agent_id}-pj1"
            pk = add_device(conn, agent_id, device_id)
            pks[device_id] = pk
            rows: list[tuple[datetime, str, str, float | None]] = [(local(days[0], 0), "online", "standby", None)]
            for day in days:
                rows += [(local(day, 8), "online", "on", None), (local(day, 10), "online", "standby", None)]
                if agent_id == "jkpg-ek-a1":
                    rows += [(local(day, 16), "online", "on", None)]
                    rows += [(local(day, 23, 59), "online", "on", None)]  # a repeat state: changes nothing
            if agent_id == "jkpg-ek-a1":
                rows = sorted(rows + [(local(day, 7), "online", "standby", None) for day in days[1:]])
            add_history(conn, pk, agent_id, device_id, sorted(rows))
    return pks
