"""Logins (users table and the settings' admin), rate limit, lockout, session cookie and CSRF, tokens
stored hashed and shown once, and the audit trail of it all; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from avfleet.controller.auth import hashing, service
from tests.controller.auth.support import ADMIN_PASSWORD, PASSWORD, World, make_world
from tests.controller.conftest import API_TOKEN


@pytest.fixture
def world(db_url, engine) -> Iterator[World]:
    w, _settings = make_world(db_url, engine)
    with w.client:
        yield w


def login(w: World, user: str, password: str):
    w.client.cookies.clear()
    return w.client.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_the_settings_admin_login_still_answers_the_bootstrap_token(world: World) -> None:
    res = login(world, "admin", ADMIN_PASSWORD)
    assert res.status_code == 200 and res.json()["token"] == API_TOKEN and res.json()["role"] == "admin"
    assert login(world, "admin", "guess").status_code == 401


def test_a_user_login_sets_a_strict_http_only_cookie_and_answers_a_usable_token(world: World) -> None:
    res = login(world, "viewhabo", PASSWORD)
    assert res.status_code == 200, res.text
    cookies = res.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("avfleet_session="))
    csrf = next(c for c in cookies if c.startswith("avfleet_csrf="))
    assert "HttpOnly" in session and "samesite=strict" in session.lower()
    assert "HttpOnly" not in csrf  # the page's script reads it
    assert "Secure" not in session  # plain http here; https requests or an https public_url add it
    token = res.json()["token"]
    me = world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["name"] == "viewhabo" and me["municipalities"] == ["Habo"]
    world.client.cookies.clear()
    https = world.client.post("https://testserver/api/v1/auth/login", json={"username": "tech", "password": PASSWORD})
    assert all("Secure" in c for c in https.headers.get_list("set-cookie"))


def test_a_state_change_with_the_cookie_needs_the_csrf_header(world: World) -> None:
    res = login(world, "tech", PASSWORD)
    csrf = res.json()["csrf"]
    assert world.client.cookies.get("avfleet_csrf") == csrf
    # Reads need no CSRF token.
    assert world.client.get("/api/v1/auth/me").json()["via"] == "session"
    body = {"action": "power_off", "device_id": "nope"}
    refused = world.client.post("/api/v1/commands", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = world.client.post("/api/v1/commands", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    ok = world.client.post("/api/v1/commands", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 404  # past the CSRF check: no such device
    # A bearer token needs no CSRF token.
    world.client.cookies.clear()
    assert world.client.post("/api/v1/commands", json=body, headers=world.auth("tech")).status_code == 404
    # Logout ends the session.
    login(world, "tech", PASSWORD)
    cookie = world.client.cookies.get("avfleet_session")
    assert world.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login_csrf(world)}).status_code == 204
    world.client.cookies.set("avfleet_session", cookie)
    assert world.client.get("/api/v1/auth/me").status_code == 401


def login_csrf(w: World) -> str:
    return w.client.cookies.get("avfleet_csrf")


def test_five_wrong_passwords_lock_a_user_until_an_admin_unlocks_it(world: World) -> None:
    for _ in range(service.LOCK_AFTER):
        assert login(world, "viewhabo", "wrong-password-1").status_code == 401
    locked = login(world, "viewhabo", PASSWORD)
    assert locked.status_code == 423 and "admin" in locked.json()["detail"]
    users = world.client.get("/api/v1/users", headers=world.auth("boss")).json()["items"]
    assert next(u for u in users if u["name"] == "viewhabo")["locked"] is True
    assert world.client.post("/api/v1/users/viewhabo/unlock", headers=world.auth("tech")).status_code == 403
    assert world.client.post("/api/v1/users/viewhabo/unlock", headers=world.auth("boss")).status_code == 200
    assert login(world, "viewhabo", PASSWORD).status_code == 200


def test_failed_logins_from_one_address_are_rate_limited(world: World) -> None:
    for i in range(service.RATE_LIMIT):
        assert login(world, f"nobody{i}", "whatever-password").status_code == 401
    # Even the right password waits now: the limit is per address, before any check.
    assert login(world, "tech", PASSWORD).status_code == 429
    assert login(world, "admin", ADMIN_PASSWORD).status_code == 429


def test_a_disabled_user_cannot_log_in_and_its_token_stops(world: World) -> None:
    assert world.client.get("/api/v1/auth/me", headers=world.auth("techhabo")).status_code == 200
    assert world.client.post("/api/v1/users/techhabo/disable", headers=world.auth("boss")).status_code == 200
    assert world.client.get("/api/v1/auth/me", headers=world.auth("techhabo")).status_code == 401
    assert login(world, "techhabo", PASSWORD).status_code == 401


def _database_text(engine, db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return Path(db_url.removeprefix("sqlite:///")).read_bytes().decode("latin-1") + "".join(
            p.read_bytes().decode("latin-1") for p in Path(db_url.removeprefix("sqlite:///")).parent.glob("*-wal"))
    with engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names()]
        return "\n".join(str(r[0]) for t in tables for r in conn.execute(sa.text(f'SELECT t::text FROM "{t}" t')))


def test_a_token_is_shown_once_and_stored_as_its_hash(world: World, db_url: str) -> None:
    res = world.client.post("/api/v1/tokens", json={"user": "viewhabo", "label": "wallboard"},
                            headers=world.auth("boss"))
    assert res.status_code == 201, res.text
    created = res.json()
    secret = created["token"]
    assert len(secret) >= 43 and created["label"] == "wallboard" and created["last_used_at"] is None
    listed = world.client.get("/api/v1/tokens", headers=world.auth("boss"))
    assert secret not in listed.text and created["prefix"] in listed.text
    assert world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    used = next(t for t in world.client.get("/api/v1/tokens", headers=world.auth("boss")).json()["items"]
                if t["id"] == created["id"])
    assert used["last_used_at"] is not None
    text = _database_text(world.engine, db_url)
    assert secret not in text and hashing.digest(secret) in text
    assert PASSWORD not in text  # passwords too: Argon2 hashes only
    assert "$argon2id$" in text
    assert world.client.delete(f"/api/v1/tokens/{created['id']}", headers=world.auth("boss")).status_code == 200
    assert world.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert world.client.delete(f"/api/v1/tokens/{created['id']}", headers=world.auth("boss")).status_code == 409


def test_the_audit_trail_records_who_what_where_and_the_result(world: World) -> None:
    login(world, "tech", "wrong-password-1")
    login(world, "tech", PASSWORD)
    world.client.cookies.clear()
    world.client.post("/api/v1/commands", json={"action": "power_off", "device_id": "nope"}, headers=world.auth("tech"))
    world.client.post("/api/v1/users", json={"name": "newbie", "role": "viewer", "municipalities": ["Habo"]},
                      headers=world.auth("boss"))
    world.client.post("/api/v1/tokens", json={"user": "newbie"}, headers=world.auth("boss"))
    assert world.client.get("/api/v1/audit", headers=world.auth("tech")).status_code == 403
    page = world.client.get("/api/v1/audit", headers=world.auth("boss")).json()
    got = [(e["actor"], e["action"], e["result"]) for e in reversed(page["items"])]
    assert got == [("tech", "login", "failed"), ("tech", "login", "ok"), ("tech", "command.issue", "failed"),
                   ("boss", "user.add", "ok"), ("boss", "token.create", "ok"), ("tech", "request", "refused")]
    assert page["items"][0]["target"] == "GET /api/v1/audit"  # the technician's look at the trail
    assert page["total"] == 6 and all(e["client_ip"] == "testclient" for e in page["items"])
    command = next(e for e in page["items"] if e["action"] == "command.issue")
    assert command["target"] == "/nope" and "no device" in command["detail"]["error"]
    logins = world.client.get("/api/v1/audit", params={"action": "login", "result": "failed"},
                              headers=world.auth("boss")).json()
    assert logins["total"] == 1
    exported = world.client.get("/api/v1/audit.csv", params={"actor": "boss"}, headers=world.auth("boss"))
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["action"] for r in rows] == ["token.create", "user.add"]
