"""Schedules and their runs: the rules, no HTTP (DESIGN.md "Schedules and calendars").

A run picks the devices of its scope, sends each one that is on, warming or cooling a power command
with an expiry through the commands domain (never to a standby one, never to one that is
unreachable: it is counted), and stores its report. `advance_runs` (the `schedules.advance` job)
follows the commands' results, sends one more command after a busy answer (ERR3, warm-up or
cool-down) and closes the report once every result is in, with its kwh_saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from avfleet.controller.calendars.service import SchoolDays
from avfleet.controller.commands.models import OPEN_STATES, CommandRecord
from avfleet.controller.commands.service import store_many
from avfleet.controller.errors import InvalidInput, NotFound
from avfleet.controller.fleet.models import Agent, Device
from avfleet.controller.schedules import timing
from avfleet.controller.schedules.models import Schedule, ScheduleBase, ScheduleRun, ScheduleRunBase
from avfleet.controller.schedules.watts import RatedWattsLookup
from avfleet.controller.settings import ControllerSettings
from avfleet.protocols.mqtt.payloads import Action, Command

# Commands stored in a transaction, to publish once it committed (jobs.publish: commands.service.send_stored).
Outbox = list[tuple[str, Command]]

SCHEDULES = Schedule.__table__
RUNS = ScheduleRun.__table__
DEVICES = Device.__table__
AGENTS = Agent.__table__
COMMANDS = CommandRecord.__table__
SCHEDULE_COLUMNS = tuple(ScheduleBase.model_fields)
RUN_COLUMNS = tuple(ScheduleRunBase.model_fields)
# The agent retries a busy device itself until the command expires, then answers expired with
# "device stayed busy ..." (agent/commands.py); a PJLink ERR3 names itself in the detail.
BUSY = re.compile(r"ERR3|busy", re.IGNORECASE)
MAX_ATTEMPTS = 2
DEFAULTS_LOCK = 0x6176_5363  # "avSc": the advisory lock of ensure_defaults on PostgreSQL
DEFAULT_SCHEDULES = (
    {"name": "Kvällsavstängning 17:30", "action": "power_off", "times": ["17:30"], "days": "every_day"},
    {"name": "Varje timme 08–16 på lovdagar och helger", "action": "power_off",
     "times": [f"{h:02d}:00" for h in range(8, 17)], "days": "non_school_days"},
)


def _now() -> datetime:
    return datetime.now(UTC)


# -- schedules ------------------------------------------------------------------------------------

def _schedule_item(row: Any) -> dict[str, Any]:
    item = {name: row._mapping[name] for name in SCHEDULE_COLUMNS}
    item["id"] = row.id
    return item


def get_schedule(conn: Connection, schedule_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(SCHEDULES).where(SCHEDULES.c.id == schedule_id)).first()
    if row is None:
        raise NotFound(f"no schedule {schedule_id}")
    return _schedule_item(row)


def list_schedules(conn: Connection, *, municipality: str | None, limit: int,
                   offset: int) -> tuple[list[dict[str, Any]], int]:
    rows = [_schedule_item(r) for r in conn.execute(sa.select(SCHEDULES).order_by(SCHEDULES.c.id))]
    if municipality is not None:
        rows = [r for r in rows if (r["scope"] or {}).get("municipality") in (None, municipality)]
    return rows[offset:offset + limit], len(rows)


def create_schedule(conn: Connection, body: dict[str, Any], by: str = "api") -> dict[str, Any]:
    now = _now()
    values = {k: body[k] for k in SCHEDULE_COLUMNS if k in body}
    # The scheduler starts from now: a new schedule never runs the past.
    new_id = conn.execute(SCHEDULES.insert().values(**values, created_at=now, updated_at=now, created_by=by,
                                                    handled_until=now)).inserted_primary_key[0]
    return get_schedule(conn, new_id)


def update_schedule(conn: Connection, schedule_id: int, body: dict[str, Any]) -> dict[str, Any]:
    get_schedule(conn, schedule_id)
    values = {k: body[k] for k in SCHEDULE_COLUMNS if k in body}
    now = _now()
    # Changed times apply from now on; occurrences before the change are not run afterwards.
    conn.execute(SCHEDULES.update().where(SCHEDULES.c.id == schedule_id)
                 .values(**values, updated_at=now, handled_until=now))
    return get_schedule(conn, schedule_id)


def delete_schedule(conn: Connection, schedule_id: int) -> None:
    get_schedule(conn, schedule_id)
    conn.execute(RUNS.update().where(RUNS.c.schedule_id == schedule_id).values(schedule_id=None,
                                                                                detail="its schedule was deleted"))
    conn.execute(SCHEDULES.delete().where(SCHEDULES.c.id == schedule_id))


def ensure_defaults(conn: Connection) -> int:
    """A new installation's schedules (docs/schedules.md); nothing when any schedule exists. How many."""
    if conn.dialect.name == "postgresql":
        # Two controllers starting on one empty database: the second waits here and then sees the
        # first's rows (SQLite's write transaction already holds the database's write lock).
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEFAULTS_LOCK})
    if conn.execute(sa.select(sa.func.count()).select_from(SCHEDULES)).scalar_one():
        return 0
    for default in DEFAULT_SCHEDULES:
        create_schedule(conn, {**default, "scope": {}, "enabled": True, "exceptions": []}, by="avfleet")
    return len(DEFAULT_SCHEDULES)


def schedule_occurrences(conn: Connection, schedule_id: int, first: date, last: date) -> list[dict[str, Any]]:
    if last < first:
        raise InvalidInput(f"to ({last}) is before from ({first})")
    if (last - first).days > 400:
        raise InvalidInput("at most 400 days at a time")
    schedule = get_schedule(conn, schedule_id)
    return [o.item() for o in timing.occurrences(schedule, SchoolDays(conn), first, last)]


# -- runs -----------------------------------------------------------------------------------------

def _scope_devices(conn: Connection, scope: dict[str, Any]) -> list[Any]:
    d, a = DEVICES.c, AGENTS.c
    query = (sa.select(d.agent_id, d.device_id, d.availability, d.power, d.status, d.power_w,
                       a.state.label("agent_state"), a.municipality, a.school, a.room)
             .select_from(DEVICES.join(AGENTS, AGENTS.c.agent_id == DEVICES.c.agent_id)))
    for key in ("municipality", "school", "room"):
        if scope.get(key):
            query = query.where(getattr(a, key) == scope[key])
    rows = conn.execute(query.order_by(d.agent_id, d.device_id)).all()
    wanted = scope.get("devices")
    if wanted:
        pairs = {(x["agent_id"], x["device_id"]) for x in wanted}
        rows = [r for r in rows if (r.agent_id, r.device_id) in pairs]
    return rows


def _excluded_by(exceptions: list[dict[str, Any]], day: date, row: Any) -> dict[str, Any] | None:
    for ex in exceptions:
        places = [k for k in ("municipality", "school", "room") if ex.get(k)]
        if str(ex.get("date")) == day.isoformat() and places and all(getattr(row, k) == ex[k] for k in places):
            return ex
    return None


def _initial_result(action: str, row: Any) -> tuple[str, str | None]:
    """What a device gets before any command: 'target' or its final result."""
    if row.agent_state != "online":
        return "unreachable", f"agent {row.agent_state}"
    if row.availability != "online":
        return "unreachable", row.availability
    if action == "power_off":
        if row.power in ("on", "warming", "cooling"):
            return "target", None
        if row.power == "standby":
            return "already_off", None
    else:
        if row.power in ("standby", "cooling"):
            return "target", None
        if row.power in ("on", "warming"):
            return "already_on", None
    return "unknown", f"power {row.power}: not sent"


def start_run(conn: Connection, outbox: Outbox, settings: ControllerSettings, *, action: str,
              scope: dict[str, Any], schedule: dict[str, Any] | None = None, occurrence_at: datetime | None = None,
              by: str = "avfleet", by_hand: bool = False) -> dict[str, Any] | None:
    """Store a run and its commands (added to `outbox`, to publish after the commit); None when this
    occurrence already has a run (another process started it).

    `by_hand`: a schedule run now on request; its day rule and exceptions do not apply.
    """
    now = _now()
    try:
        with conn.begin_nested():
            run_id = conn.execute(RUNS.insert().values(
                schedule_id=schedule["id"] if schedule else None, action=action, occurrence_at=occurrence_at,
                state="running", started_at=now, requested_by=by, results=[])).inserted_primary_key[0]
    except IntegrityError:
        return None
    day = (occurrence_at or now).astimezone(timing.local_zone()).date()
    school_days = SchoolDays(conn)
    rules = schedule is not None and not by_hand
    exceptions = (schedule or {}).get("exceptions") or [] if rules else []
    results = []
    targets: list[dict[str, Any]] = []
    for row in _scope_devices(conn, scope):
        entry: dict[str, Any] = {"agent_id": row.agent_id, "device_id": row.device_id}
        ex = _excluded_by(exceptions, day, row)
        runs, why = (True, None) if not rules else timing.day_matches(
            schedule["days"], school_days, row.municipality, row.school, day)
        if ex is not None:
            entry.update(result="not_today", detail=f"exception: {ex.get('reason') or 'skipped on this date'}")
        elif not runs:
            entry.update(result="not_today", detail=why)
        else:
            result, detail = _initial_result(action, row)
            entry.update(result=result, detail=detail)
            if result == "target":
                targets.append(entry)
        results.append(entry)
    _send(conn, outbox, settings, action, targets, attempts=1)
    conn.execute(RUNS.update().where(RUNS.c.id == run_id).values(results=results))
    _close_if_complete(conn, settings, run_id, results, now, school_days)
    return get_run(conn, run_id)


def _send(conn: Connection, outbox: Outbox, settings: ControllerSettings, action: str,
          entries: list[dict[str, Any]], attempts: int) -> None:
    """One stored command per entry (one INSERT for all); each entry waits for its result."""
    stored = store_many(conn, action=Action(action), targets=[(e["agent_id"], e["device_id"]) for e in entries],
                        args={}, ttl_s=settings.schedule_command_ttl_s)
    for entry, (_agent_id, command) in zip(entries, stored, strict=True):
        entry.update(result="pending", detail=None, command_id=command.command_id, attempts=attempts)
    outbox.extend(stored)


def record_missed(conn: Connection, schedule: dict[str, Any], occurrence_at: datetime, detail: str) -> None:
    try:
        with conn.begin_nested():
            conn.execute(RUNS.insert().values(
                schedule_id=schedule["id"], action=schedule["action"], occurrence_at=occurrence_at, state="missed",
                started_at=_now(), finished_at=_now(), requested_by="avfleet", results=[], detail=detail[:500]))
    except IntegrityError:
        pass


def _command_states(conn: Connection, ids: list[str]) -> dict[str, Any]:
    """The commands of `ids` that have a final state (still open ones are left out: nothing to file)."""
    found: dict[str, Any] = {}
    c = COMMANDS.c
    for at in range(0, len(ids), 500):
        for r in conn.execute(sa.select(c.command_id, c.status, c.detail, c.result_at)
                              .where(c.command_id.in_(ids[at:at + 500]), c.status.not_in(OPEN_STATES))):
            found[r.command_id] = r
    return found


def runs_to_advance(conn: Connection) -> bool:
    """Whether `advance_runs` has anything to do: a running run with a command result to file, or
    none pending (to close). Only reads, so the job asks this before it takes a write lock."""
    for run in conn.execute(sa.select(RUNS.c.results).where(RUNS.c.state == "running")).all():
        pending = [r["command_id"] for r in run.results or [] if r.get("result") == "pending"]
        if not pending or _command_states(conn, pending):
            return True
    return False


def advance_runs(conn: Connection, outbox: Outbox, settings: ControllerSettings,
                 now: datetime | None = None) -> int:
    """File command results on running runs, retry busy devices once, close complete runs. How many closed."""
    now = now or _now()
    closed = 0
    school_days = SchoolDays(conn)
    for run in conn.execute(sa.select(RUNS.c.id, RUNS.c.action, RUNS.c.results).where(RUNS.c.state == "running")).all():
        results = [dict(r) for r in run.results or []]
        pending = [r["command_id"] for r in results if r.get("result") == "pending"]
        states = _command_states(conn, pending)
        changed = False
        retries: list[dict[str, Any]] = []
        for entry in results:
            if entry.get("result") != "pending":
                continue
            state = states.get(entry["command_id"])
            if state is None or state.status in ("pending", "sent"):
                continue
            changed = True
            entry["detail"], entry["result_at"] = state.detail, state.result_at.isoformat() if state.result_at else None
            if state.status == "done":
                entry["result"] = "powered_off" if run.action == "power_off" else "powered_on"
            elif (state.status in ("failed", "expired") and BUSY.search(state.detail or "")
                  and entry.get("attempts", 1) < MAX_ATTEMPTS):
                entry["attempts"] = entry.get("attempts", 1) + 1
                retries.append(entry)
            elif state.status == "expired":
                entry["result"] = "expired"
            else:
                entry["result"] = "failed"
        if retries:
            for n in {e["attempts"] for e in retries}:
                _send(conn, outbox, settings, run.action, [e for e in retries if e["attempts"] == n], attempts=n)
        if changed:
            conn.execute(RUNS.update().where(RUNS.c.id == run.id).values(results=results))
        closed += _close_if_complete(conn, settings, run.id, results, now, school_days)
    return closed


def _close_if_complete(conn: Connection, settings: ControllerSettings, run_id: int, results: list[dict[str, Any]],
                       now: datetime, school_days: SchoolDays) -> bool:
    if any(r.get("result") == "pending" for r in results):
        return False
    run = conn.execute(sa.select(RUNS).where(RUNS.c.id == run_id)).first()
    counts = {k: sum(1 for r in results if r.get("result") == k)
              for k in ("already_off", "already_on", "powered_off", "powered_on", "failed", "unreachable",
                        "expired", "not_today")}
    targeted = sum(1 for r in results if "command_id" in r)
    ends = [datetime.fromisoformat(r["result_at"]) for r in results if r.get("result_at")]
    finished = max(ends) if ends else now
    kwh = kwh_saved(conn, settings, school_days, results, run.occurrence_at or run.started_at)
    conn.execute(RUNS.update().where(RUNS.c.id == run_id).values(
        state="finished", finished_at=max(finished, run.started_at), targeted=targeted, kwh_saved=kwh, **counts))
    return True


def kwh_saved(conn: Connection, settings: ControllerSettings, school_days: SchoolDays,
              results: Iterable[dict[str, Any]], at: datetime) -> float:
    """Σ over devices switched off: (on W − standby W) × hours from `at` to the next school-day start.

    The assumption (docs/schedules.md): a device left on would have stayed on until someone came
    back at `kwh_saved_resume_at` on the next school day of its own calendar; capped by
    `kwh_saved_max_h` when set. Devices without rated watts in their profile count 0.
    """
    off = [(r["agent_id"], r["device_id"]) for r in results if r.get("result") == "powered_off"]
    if not off:
        return 0.0
    watts = RatedWattsLookup()
    d, a = DEVICES.c, AGENTS.c
    rows = {(r.agent_id, r.device_id): r for r in conn.execute(
        sa.select(d.agent_id, d.device_id, d.status, a.municipality, a.school)
        .select_from(DEVICES.join(AGENTS, AGENTS.c.agent_id == DEVICES.c.agent_id))
        .where(d.agent_id.in_({x for x, _ in off})))}
    hours_of: dict[tuple[str | None, str | None], float] = {}
    total_wh = 0.0
    for key in off:
        row = rows.get(key)
        if row is None:
            continue
        on_w, standby_w = watts.of(row.status)
        if on_w is None:
            continue
        place = (row.municipality, row.school)
        if place not in hours_of:
            resume = timing.next_school_day_start(school_days, *place, at, settings.kwh_saved_resume_at)
            hours = 0.0 if resume is None else (resume - at).total_seconds() / 3600
            if settings.kwh_saved_max_h is not None:
                hours = min(hours, settings.kwh_saved_max_h)
            hours_of[place] = hours
        total_wh += (on_w - (standby_w or 0.0)) * hours_of[place]
    return round(total_wh / 1000, 3)


def _run_item(row: Any) -> dict[str, Any]:
    item = {name: row._mapping[name] for name in RUN_COLUMNS}
    item["id"] = row.id
    item["results"] = [{k: r.get(k) for k in ("agent_id", "device_id", "result", "detail")}
                       for r in row.results or []]
    return item


def get_run(conn: Connection, run_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(RUNS).where(RUNS.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"no run {run_id}")
    return _run_item(row)


def list_runs(conn: Connection, schedule_id: int | None, *, limit: int, offset: int) -> tuple[list[dict], int]:
    where = RUNS.c.schedule_id.is_(None) if schedule_id is None else RUNS.c.schedule_id == schedule_id
    if schedule_id is not None:
        get_schedule(conn, schedule_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(RUNS).where(where)).scalar_one()
    rows = conn.execute(sa.select(RUNS).where(where).order_by(RUNS.c.id.desc()).limit(limit).offset(offset))
    return [_run_item(r) for r in rows], total


def run_due(conn: Connection, outbox: Outbox, settings: ControllerSettings, now: datetime) -> int:
    """Run every schedule's occurrences that came due since it was last handled (the `schedules.due` job).

    An occurrence older than the grace period (the controller was down) is recorded as missed; of
    several still within it only the newest runs, the older ones are recorded as superseded.
    """
    grace = timedelta(seconds=settings.schedule_grace_s)
    started = 0
    school_days = SchoolDays(conn)
    for row in conn.execute(sa.select(SCHEDULES).where(SCHEDULES.c.enabled.is_(True))).all():
        schedule = _schedule_item(row)
        after = row.handled_until or row.created_at
        due = [o for o in timing.due_between(schedule, school_days, after, now) if not o.skipped]
        for n, occ in enumerate(due):
            at = occ.at.astimezone(UTC)
            if at < now - grace:
                record_missed(conn, schedule, at, "the controller was not running; past the grace period")
            elif n < len(due) - 1:
                record_missed(conn, schedule, at, "superseded by a later occurrence run on start")
            else:
                started += start_run(conn, outbox, settings, action=schedule["action"], scope=schedule["scope"],
                                     schedule=schedule, occurrence_at=at) is not None
        if now > after:  # never backwards: a clock stepped back does not run occurrences again
            conn.execute(SCHEDULES.update().where(SCHEDULES.c.id == row.id).values(handled_until=now))
    return started
