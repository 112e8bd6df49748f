"""Measured watts from PDU outlets for the devices they feed.

The agent names the fed device on each outlet it reports (`outlets[].feeds`, from its config's
`feeds`). The ingest keeps a PDU's outlets only in its current status (device_history stores a row
when availability, power, faults or input change, not when watts do), so the energy.outlets job notes
each fed outlet's watts from that status into energy_outlet_readings when they change by more than
a dead band. The figures then take a fed device's own state (on, standby, gap) from its history and
its watts from the outlet readings in force: measured where an outlet reading holds, the profile's
rated watts where none does (before the first one, after a `None` one), so a day is `mixed` when
only part of it was measured. A gap of the device stays a gap whatever the outlet says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from avfleet.controller.energy.compute import Reading
from avfleet.controller.energy.models import OutletReading
from avfleet.controller.fleet.models import Device

READINGS = OutletReading.__table__
DEVICES = Device.__table__
# A reading is noted when the watts move by more than this much (a lamp's draw wobbles by a watt or two
# from poll to poll; a row per poll would be 5,760 a day per outlet for nothing).
DEAD_BAND_W = 1.0
DEAD_BAND_SHARE = 0.05

Timeline = list[tuple[datetime, float | None]]


def note_outlet_readings(conn: Connection) -> int:
    """Note the watts of every PDU outlet that feeds a device, from the PDU's current status; how many
    rows were written. A PDU that is not online gives `None` (nothing measured from then on)."""
    r_ = READINGS.c
    newest = (sa.select(sa.func.max(r_.id)).group_by(r_.agent_id, r_.device_id).scalar_subquery())
    last = {(r.agent_id, r.device_id): r for r in conn.execute(
        sa.select(r_.agent_id, r_.device_id, r_.observed_at, r_.power_w).where(r_.id.in_(newest)))}
    d = DEVICES.c
    rows = []
    fed_now: set[tuple[str, str]] = set()
    newest_pdu: dict[str, tuple[datetime, str]] = {}
    for pdu in conn.execute(sa.select(d.agent_id, d.device_id, d.availability, d.observed_at, d.status)
                            .where(d.kind == "pdu", d.observed_at.is_not(None))):
        if pdu.agent_id not in newest_pdu or newest_pdu[pdu.agent_id][0] < pdu.observed_at:
            newest_pdu[pdu.agent_id] = (pdu.observed_at, pdu.device_id)
        for outlet in (pdu.status or {}).get("outlets") or []:
            fed = outlet.get("feeds")
            if not fed:
                continue
            fed_now.add((pdu.agent_id, fed))
            watts = outlet.get("power_w") if pdu.availability == "online" else None
            before = last.get((pdu.agent_id, fed))
            if before is None and watts is None:
                continue  # nothing measured, nothing to end
            if before is not None and (before.observed_at >= pdu.observed_at or not _moved(before.power_w, watts)):
                continue
            rows.append({"agent_id": pdu.agent_id, "device_id": fed, "pdu_id": pdu.device_id,
                         "outlet": int(outlet.get("index") or 0), "observed_at": pdu.observed_at,
                         "power_w": None if watts is None else float(watts)})
    # A device no PDU names any more (its `feeds` changed): its last watts must not hold for ever.
    for (agent_id, fed), before in last.items():
        pdu_seen = newest_pdu.get(agent_id)
        if (agent_id, fed) not in fed_now and before.power_w is not None and pdu_seen is not None \
                and pdu_seen[0] > before.observed_at:
            rows.append({"agent_id": agent_id, "device_id": fed, "pdu_id": pdu_seen[1], "outlet": 0,
                         "observed_at": pdu_seen[0], "power_w": None})
    if rows:
        conn.execute(READINGS.insert(), rows)
    return len(rows)


def _moved(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    return abs(new - old) > max(DEAD_BAND_W, DEAD_BAND_SHARE * abs(old))


def load_outlet_watts(conn: Connection, pks: Iterable[int], start: datetime, end: datetime) -> dict[int, Timeline]:
    """Per fed device (by pk, of `pks`): its outlet readings in [start, end), after the last one before
    `start`. Three queries whatever the number of fed devices (a county may have hundreds)."""
    wanted = set(pks)
    r_, d = READINGS.c, DEVICES.c
    fed = sa.and_(r_.agent_id == d.agent_id, r_.device_id == d.device_id)
    before = (sa.select(r_.id).where(fed, r_.observed_at < start)
              .order_by(r_.observed_at.desc(), r_.id.desc()).limit(1).scalar_subquery())
    keys = sa.tuple_(d.agent_id, d.device_id).in_(sa.select(r_.agent_id, r_.device_id).distinct())
    previous = [r.prev for r in conn.execute(sa.select(d.id, before.label("prev")).where(keys))
                if r.prev is not None and r.id in wanted]
    select = sa.select(d.id, r_.observed_at, r_.power_w).select_from(READINGS).join(DEVICES, fed)
    out: dict[int, Timeline] = defaultdict(list)
    for i in range(0, len(previous), 5000):
        for r in conn.execute(select.where(r_.id.in_(previous[i:i + 5000]))):
            out[r.id].append((r.observed_at, r.power_w))
    for r in conn.execute(select.where(r_.observed_at >= start, r_.observed_at < end).order_by(r_.observed_at, r_.id)):
        if r.id in wanted:
            out[r.id].append((r.observed_at, r.power_w))
    return out


def with_outlet_watts(readings: Sequence[Reading], watts: Timeline) -> list[Reading]:
    """The device's readings with the outlet's watts as `power_w` wherever the device reports none,
    cut at every outlet reading (sorted input, sorted output). The device's own state decides gaps."""
    events = sorted([(r.observed_at, 0, r) for r in readings] + [(at, 1, w) for at, w in watts],
                    key=lambda e: (e[0], e[1]))
    out: list[Reading] = []
    state: Reading | None = None
    outlet: float | None = None
    for at, what, value in events:
        if what == 0:
            state = value  # type: ignore[assignment]
        else:
            outlet = value  # type: ignore[assignment]
        if state is None:
            continue  # nothing known of the device yet: its watts alone say nothing of its state
        own = state.power_w
        out.append(Reading(at, state.availability, state.power, own if own is not None else outlet))
    return out
