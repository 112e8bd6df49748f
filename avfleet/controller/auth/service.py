"""Users, API tokens, sessions and logins: the rules, no HTTP (errors from avfleet.controller.errors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avfleet.controller.auth import hashing
from avfleet.controller.auth.models import ApiToken, LoginFailure, User, WebSession
from avfleet.controller.auth.principal import ROLES, Principal
from avfleet.controller.errors import Conflict, DomainError, InvalidInput, NotFound
from avfleet.protocols.status import utc_now

USERS = User.__table__
TOKENS = ApiToken.__table__
SESSIONS = WebSession.__table__
FAILURES = LoginFailure.__table__

LOCK_AFTER = 5  # consecutive wrong passwords lock a user until an admin unlocks it
RATE_WINDOW = timedelta(minutes=5)
RATE_LIMIT = 10  # failed logins per client address in the window; more answer 429
SESSION_TTL = timedelta(hours=12)  # the default of setting session_ttl_s
LAST_USED_EVERY = timedelta(seconds=60)  # a token's last-used time is written at most this often
USER_COLUMNS = ("name", "role", "municipalities", "disabled", "locked", "created_at")
TOKEN_COLUMNS = ("id", "label", "prefix", "created_at", "last_used_at", "revoked_at")


class RateLimited(DomainError):
    """Too many failed logins from this address; retry after the window."""

    status_code = 429


class LoginFailed(DomainError):
    """Wrong user or password (one message for both, so names cannot be probed)."""

    status_code = 401


class Locked(DomainError):
    """The user is locked after repeated failures; an admin can lift it."""

    status_code = 423


def _user_principal(row: Any, via: str, client_ip: str | None) -> Principal:
    municipalities = frozenset(row.municipalities or ()) or None
    return Principal(name=row.name, role=row.role, municipalities=municipalities, via=via,
                     client_ip=client_ip, user_id=row.id)


# --- users ---------------------------------------------------------------------------------------

def create_user(conn: Connection, name: str, role: str, municipalities: list[str], password: str | None) -> dict:
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("name: 1 to 64 characters")
    if role not in ROLES:
        raise InvalidInput(f"role: one of {', '.join(ROLES)}; not {role!r}")
    municipalities = sorted({m.strip() for m in municipalities if m.strip()})
    if role == "admin" and municipalities:
        raise InvalidInput("municipality: an admin is county-wide; give a technician municipalities instead")
    if role == "viewer" and not municipalities:
        raise InvalidInput("municipality: a viewer sees named municipalities; give at least one")
    if password is not None and len(password) < 12:
        raise InvalidInput("password: at least 12 characters")
    if conn.execute(sa.select(USERS.c.id).where(USERS.c.name == name)).first() is not None:
        raise Conflict(f"user {name!r} exists")
    conn.execute(USERS.insert().values(
        name=name, role=role, municipalities=municipalities, disabled=False, locked=False, failed_logins=0,
        created_at=utc_now(), password_hash=None if password is None else hashing.hash_password(password)))
    return get_user(conn, name)


def get_user(conn: Connection, name: str) -> dict:
    row = conn.execute(sa.select(USERS).where(USERS.c.name == name)).first()
    if row is None:
        raise NotFound(f"no user {name!r}")
    return {k: row._mapping[k] for k in USER_COLUMNS}


def list_users(conn: Connection) -> list[dict]:
    rows = conn.execute(sa.select(USERS).order_by(USERS.c.name))
    return [{k: r._mapping[k] for k in USER_COLUMNS} for r in rows]


def set_user_flags(conn: Connection, name: str, **flags: Any) -> dict:
    """disable (disabled=True) or unlock (locked=False, failures reset) a user."""
    if "locked" in flags and not flags["locked"]:
        flags["failed_logins"] = 0
    if conn.execute(USERS.update().where(USERS.c.name == name).values(**flags)).rowcount == 0:
        raise NotFound(f"no user {name!r}")
    if flags.get("disabled"):
        # A disabled user's open sessions end now (its tokens stop working by the join in authenticate).
        user_id = sa.select(USERS.c.id).where(USERS.c.name == name).scalar_subquery()
        conn.execute(SESSIONS.delete().where(SESSIONS.c.user_id == user_id))
    return get_user(conn, name)


# --- tokens --------------------------------------------------------------------------------------

def create_token(conn: Connection, user: str, label: str) -> tuple[str, dict]:
    """A new token for the user: (the secret, shown this once; its public record)."""
    row = conn.execute(sa.select(USERS.c.id).where(USERS.c.name == user)).first()
    if row is None:
        raise NotFound(f"no user {user!r}")
    secret = "avf_" + hashing.new_secret()
    result = conn.execute(TOKENS.insert().values(
        user_id=row.id, label=label[:128], prefix=secret[:12], token_hash=hashing.digest(secret),
        created_at=utc_now()))
    return secret, get_token(conn, result.inserted_primary_key[0])


def _token_select() -> sa.Select:
    return sa.select(*(TOKENS.c[k] for k in TOKEN_COLUMNS), USERS.c.name.label("user")).select_from(
        TOKENS.join(USERS, USERS.c.id == TOKENS.c.user_id))


def get_token(conn: Connection, token_id: int) -> dict:
    row = conn.execute(_token_select().where(TOKENS.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"no token {token_id}")
    return dict(row._mapping)


def list_tokens(conn: Connection, user: str | None = None) -> list[dict]:
    query = _token_select().order_by(TOKENS.c.id)
    if user is not None:
        query = query.where(USERS.c.name == user)
    return [dict(r._mapping) for r in conn.execute(query)]


def revoke_token(conn: Connection, token_id: int) -> dict:
    if conn.execute(TOKENS.update().where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
                    .values(revoked_at=utc_now())).rowcount == 0:
        get_token(conn, token_id)  # NotFound, or it was revoked already
        raise Conflict(f"token {token_id} is revoked already")
    return get_token(conn, token_id)


# --- authentication ------------------------------------------------------------------------------

def principal_of_token(conn: Connection, secret: str, client_ip: str | None,
                       session_idle: timedelta | None = None) -> tuple[Principal | None, int | None]:
    """The user of a live API token, or of a live session secret sent as a bearer token (else None),
    and the token's id when its last-used time is due to be written (touch_token)."""
    row = conn.execute(sa.select(USERS, TOKENS.c.id.label("token_id"), TOKENS.c.last_used_at)
                       .select_from(TOKENS.join(USERS, USERS.c.id == TOKENS.c.user_id))
                       .where(TOKENS.c.token_hash == hashing.digest(secret), TOKENS.c.revoked_at.is_(None),
                              USERS.c.disabled.is_(False))).first()
    if row is not None:
        due = row.last_used_at is None or utc_now() - row.last_used_at >= LAST_USED_EVERY
        return _user_principal(row, "token", client_ip), row.token_id if due else None
    session = session_of(conn, secret, client_ip, bootstrap=None, idle=session_idle)
    return (session[0] if session else None), None


def touch_token(conn: Connection, token_id: int) -> None:
    conn.execute(TOKENS.update().where(TOKENS.c.id == token_id).values(last_used_at=utc_now()))


def session_of(conn: Connection, secret: str, client_ip: str | None, bootstrap: Principal | None,
               idle: timedelta | None = None) -> tuple[Principal, str, bool] | None:
    """(principal, csrf hash, touch due) of a live session: neither past its expiry nor idle longer than
    `idle` (setting session_idle_s). "Touch due": its last-seen time is a minute old or more (touch_session).
    user_id NULL sessions are the bootstrap admin's."""
    s = SESSIONS.c
    now = utc_now()
    where = [s.token_hash == hashing.digest(secret), s.expires_at > now]
    if idle is not None:
        where.append(sa.func.coalesce(s.last_seen_at, s.created_at) > now - idle)
    row = conn.execute(sa.select(SESSIONS).where(*where)).first()
    if row is None:
        return None
    due = row.last_seen_at is None or now - row.last_seen_at >= LAST_USED_EVERY
    if row.user_id is None:
        if bootstrap is None:
            return None
        return Principal(bootstrap.name, "admin", None, "session", client_ip), row.csrf_hash, due
    user = conn.execute(sa.select(USERS).where(USERS.c.id == row.user_id, USERS.c.disabled.is_(False))).first()
    if user is None:
        return None
    return _user_principal(user, "session", client_ip), row.csrf_hash, due


def touch_session(conn: Connection, secret: str) -> None:
    """The session was used now: its idle time starts again."""
    conn.execute(SESSIONS.update().where(SESSIONS.c.token_hash == hashing.digest(secret))
                 .values(last_seen_at=utc_now()))


@dataclass(frozen=True)
class Login:
    principal: Principal
    session: str  # the session secret (cookie, or a bearer token for the dashboard)
    csrf: str


def recent_failures(conn: Connection, client_ip: str) -> int:
    f = FAILURES.c
    return conn.execute(sa.select(sa.func.count()).select_from(FAILURES)
                        .where(f.client_ip == client_ip, f.at > utc_now() - RATE_WINDOW)).scalar_one()


def record_failure(conn: Connection, username: str, client_ip: str, user_id: int | None) -> bool:
    """Count a failed login; True when it locked the user."""
    now = utc_now()
    conn.execute(FAILURES.delete().where(FAILURES.c.at < now - RATE_WINDOW))
    conn.execute(FAILURES.insert().values(username=username[:64], client_ip=client_ip[:64], at=now))
    if user_id is None:
        return False
    u = USERS.c
    conn.execute(USERS.update().where(u.id == user_id).values(failed_logins=u.failed_logins + 1))
    locked = conn.execute(USERS.update().where(u.id == user_id, u.failed_logins >= LOCK_AFTER, u.locked.is_(False))
                          .values(locked=True)).rowcount
    return bool(locked)


def find_login_user(conn: Connection, username: str) -> Any:
    return conn.execute(sa.select(USERS).where(USERS.c.name == username)).first()


def open_session(conn: Connection, user_id: int | None, now: datetime | None = None,
                 ttl: timedelta = SESSION_TTL) -> tuple[str, str]:
    """A new session: (session secret, csrf secret); only their digests are stored. It ends after
    `ttl` (setting session_ttl_s), checked on each use (session_of)."""
    now = now or utc_now()
    secret, csrf = hashing.new_secret(), hashing.new_secret()
    conn.execute(SESSIONS.delete().where(SESSIONS.c.expires_at <= now))
    conn.execute(SESSIONS.insert().values(token_hash=hashing.digest(secret), user_id=user_id,
                                          csrf_hash=hashing.digest(csrf), created_at=now,
                                          expires_at=now + ttl, last_seen_at=now))
    if user_id is not None:
        conn.execute(USERS.update().where(USERS.c.id == user_id).values(failed_logins=0))
    return secret, csrf


def close_session(conn: Connection, secret: str) -> None:
    conn.execute(SESSIONS.delete().where(SESSIONS.c.token_hash == hashing.digest(secret)))
