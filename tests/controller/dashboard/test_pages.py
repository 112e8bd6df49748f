"""The dashboard's pages on the server (FastAPI TestClient): contents, scope, pagination, roles, language.

One world per module and database (SQLite and the session's PostgreSQL): an agent in Habo with a
faulty projector and 59 more in one room (pagination), one in Jönköping, users of every role.
The browser tests (test_browser.py) drive the same pages in Chromium.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from avfleet.controller.api.app import create_app
from avfleet.controller.auth.principal import COUNTY, Scope
from avfleet.controller.dashboard import counts
from avfleet.controller.db import create_db_engine
from avfleet.controller.ingest.writer import BatchWriter
from avfleet.controller.migrate import upgrade
from avfleet.i18n import STOCKHOLM
from tests.controller.auth.support import (
    HABO_AGENT,
    JKPG_AGENT,
    PASSWORD,
    feed_two_municipalities,
    make_users,
    settings_for,
)
from tests.controller.conftest import _truncate
from tests.controller.support import EPOCH, state

BULK = [f"bulk-{n:02d}" for n in range(59)]  # 59 more projectors in Habo: 60 there, 61 in the county


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'pages.db'}"
        engine = create_db_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("pg_url")
        engine = create_db_engine(url)
        _truncate(engine)
    settings = settings_for(url)
    feed_two_municipalities(settings, engine)
    t = (datetime.now(UTC) - EPOCH).total_seconds() - 30
    BatchWriter(settings, engine).write(
        [state(HABO_AGENT, device, 10 + n, at=t, power="standby" if n % 2 else "on") for n, device in enumerate(BULK)])
    make_users(engine)
    app = create_app(settings, engine)
    try:
        yield {"app": app, "engine": engine, "clients": {}}
    finally:
        engine.dispose()


def client_for(world: dict, user: str | None, fresh: bool = False) -> TestClient:
    """A client logged in as `user` (one login per user and module: Argon2 is slow on purpose)."""
    if user is not None and not fresh and user in world["clients"]:
        return world["clients"][user]
    client = TestClient(world["app"], follow_redirects=False)
    if user is not None:
        answer = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        if not fresh:
            world["clients"][user] = client
    return client


def rows(html: str, testid: str) -> list[str]:
    return re.findall(rf'<tr data-testid="{testid}"[^>]*>', html)


def cell(html: str, row_attr: str, field: str) -> str:
    row = html[html.index(row_attr):]
    return re.search(rf'data-field="{field}">(\d+)<', row).group(1)


PAGES = ["/", "/m/Habo", "/m/Habo/s/Furuskolan", "/devices?state=on", f"/d/{HABO_AGENT}/pj-1", "/tickets",
         "/energy", "/schedules", "/inventory", "/admin/users", "/admin/tokens", "/admin/agents"]


def test_nobody_is_sent_to_the_login_with_the_page_it_wanted(world: dict) -> None:
    client = client_for(world, None)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=/"), path
    assert client.get("/devices?q=x").headers["location"] == "/login?next=/devices%3Fq%3Dx"
    login = client.get("/login?next=/tickets").text
    for needle in ('id="username"', 'id="password"', 'data-testid="login-submit"', 'data-testid="login-error"',
                   'data-next="/tickets"'):
        assert needle in login
    # Only a path of this site is a place to go back to.
    assert 'data-next="/"' in client.get("/login?next=//evil.example/").text


def test_every_page_renders_for_an_admin_without_inline_script_or_style(world: dict) -> None:
    client = client_for(world, "boss")
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
        html = answer.text
        assert 'data-testid="nav"' in html and 'data-testid="lang-switch"' in html and 'data-testid="logout"' in html
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # every script is a file under /static
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200
    assert client.get("/static/vendor/uplot/LICENSE").status_code == 200


def test_overview_and_drill_down_count_per_place(world: dict) -> None:
    client = client_for(world, "tech")
    html = client.get("/").text
    assert len(rows(html, "municipality-row")) == 2
    habo = 'data-municipality="Habo"'
    assert cell(html, habo, "devices") == "60"
    assert cell(html, habo, "on") == str(1 + len(BULK[::2]))
    assert cell(html, habo, "standby") == str(len(BULK[1::2]))
    assert cell(html, habo, "fault") == "1"
    assert cell(html, habo, "unreachable") == "0"
    assert int(cell(html, habo, "open_tickets")) >= 2  # lamp and fan of pj-1 (and its lamp life)
    assert '<a href="/m/Habo">Habo</a>' in html
    school = client.get("/m/Habo").text
    assert rows(school, "school-row") == ['<tr data-testid="school-row" data-school="Furuskolan">']
    assert 'href="/m/Habo/s/Furuskolan"' in school
    room = client.get("/m/Habo/s/Furuskolan").text
    assert len(rows(room, "device-row")) == 60
    assert f'href="/d/{HABO_AGENT}/pj-1"' in room


def test_device_list_filters_searches_and_pages_on_the_server(world: dict) -> None:
    client = client_for(world, "tech")
    first = client.get("/devices").text
    assert re.search(r'data-testid="total">61<', first)
    assert len(rows(first, "device-row")) == 50
    assert 'data-testid="next-page"' in first and 'data-testid="prev-page"' not in first
    second = client.get("/devices?page=2").text
    assert len(rows(second, "device-row")) == 11 and 'data-testid="prev-page"' in second
    assert 'data-testid="next-page"' not in second
    found = client.get("/devices?q=BULK-1").text  # case-insensitive, over ids, school, room, model, serial
    assert re.search(r'data-testid="total">10<', found)
    assert not re.search(r'data-testid="total">0<', client.get("/devices?q=Furusk").text)
    assert re.search(r'data-testid="total">0<', client.get("/devices?q=%25_").text)  # LIKE wildcards are text
    standby = client.get("/devices?state=standby&municipality=Habo").text
    assert len(rows(standby, "device-row")) == len(BULK[1::2])
    assert 'data-field="power" data-value="standby"' in standby
    faulty = client.get("/devices?fault=lamp").text
    assert re.findall(r'data-device="([^"]+)"', faulty)[:2] == [f"{HABO_AGENT}/pj-1", f"{HABO_AGENT}/pj-1"]
    assert re.search(r'data-testid="total">2<', faulty)  # pj-1 in both municipalities


def test_device_page_shows_status_life_history_tickets_energy_and_controls_to_a_technician(world: dict) -> None:
    client = client_for(world, "techhabo")
    html = client.get(f"/d/{HABO_AGENT}/pj-1").text
    assert re.search(r'data-testid="device-power"[^>]*data-value="on"', html)
    assert "4701" in html  # lamp hours from the status
    assert 'data-testid="history"' in html and 'data-testid="device-tickets"' in html
    assert html.count('data-testid="ticket-item"') >= 2
    chart = re.search(r'data-testid="energy-chart" data-series="([^"]+)"', html).group(1)
    series = json.loads(chart.replace("&#34;", '"').replace("&quot;", '"'))
    assert len(series["days"]) == 30 and len(series["kwh"]) == 30
    # Today is the chart's last day, with the figures of this device's history so far.
    assert series["days"][-1] == datetime.now(STOCKHOLM).date().isoformat() and series["kwh"][-1] is not None
    for control in ("control-power-off", "control-power-on", "control-input", "control-mute"):
        assert f'data-testid="{control}"' in html
    assert '<dialog data-testid="confirm"' in html
    assert 'data-testid="confirm-yes"' in html and 'data-testid="confirm-no"' in html
    assert 'data-testid="command-result"' in html


def test_a_viewer_sees_its_municipality_only_and_no_control_anywhere(world: dict) -> None:
    client = client_for(world, "viewhabo")
    pages = {path: client.get(path) for path in PAGES}
    for path in PAGES[:9]:
        assert pages[path].status_code == 200, path
        html = pages[path].text
        assert "Jönköping" not in html and JKPG_AGENT not in html and "Ekhagen" not in html, path
        assert "control-" not in html and "<dialog" not in html and "data-ticket-action" not in html, path
    for path in PAGES[9:]:
        assert pages[path].status_code == 404, path
    assert "/admin/" not in pages["/"].text
    assert rows(pages["/"].text, "municipality-row") == ['<tr data-testid="municipality-row" data-municipality="Habo">']
    assert client.get("/m/Jönköping").status_code == 404
    assert client.get("/m/Jönköping/s/Ekhagens skola").status_code == 404
    assert client.get(f"/d/{JKPG_AGENT}/pj-1").status_code == 404
    assert re.search(r'data-testid="total">0<', client.get("/devices?municipality=Jönköping").text)
    assert len(rows(pages["/tickets"].text, "ticket-row")) >= 2
    # A technician of Habo gets the ticket actions for its own tickets, and still nothing of Jönköping.
    tech = client_for(world, "techhabo").get("/tickets").text
    assert "data-ticket-action" in tech and "Jönköping" not in tech


def test_swedish_by_default_english_by_the_switch_and_it_sticks(world: dict) -> None:
    client = client_for(world, "boss", fresh=True)
    assert "Logga ut" in client.get("/").text
    english = client.get("/?lang=en")
    assert "Log out" in english.text and '<html lang="en">' in english.text
    assert english.cookies.get("avfleet_lang") == "en"
    assert "Log out" in client.get("/devices").text
    # The switch keeps the page the reader is on.
    assert 'data-testid="lang-switch" href="/devices?page=2&amp;lang=sv"' in client.get("/devices?page=2").text
    assert "Logga ut" in client.get("/devices?lang=sv").text


def test_left_on_counts_lit_devices_outside_school_hours_only(world: dict) -> None:
    engine = world["engine"]
    lit = 1 + len(BULK[::2])
    sunday_noon = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)  # 12:00 in Stockholm, a Sunday
    tuesday_ten = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 on a school day
    tuesday_night = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    with engine.connect() as conn:
        def habo(now: datetime, scope: Scope = COUNTY) -> counts.PlaceCounts:
            return next(p for p in counts.place_counts(conn, scope, "municipality", "07:00-17:00", now)
                        if p.name == "Habo")
        assert habo(sunday_noon).left_on == lit
        assert habo(tuesday_ten).left_on == 0
        assert habo(tuesday_night).left_on == lit
        assert [p.name for p in counts.place_counts(conn, Scope(frozenset({"Habo"})), "municipality",
                                                    "07:00-17:00", tuesday_ten)] == ["Habo"]


def test_ticket_actions_are_offered_by_state_and_the_list_filters_by_state(world: dict) -> None:
    client = client_for(world, "techhabo")
    html = client.get("/tickets").text
    first = re.search(r'data-testid="ticket-acknowledge" data-ticket-action="acknowledge" data-ticket="(\d+)"', html)
    ticket = first.group(1)
    # What the page's script does on "Ja": the API call with the CSRF cookie's value in the header.
    answer = client.post(f"/api/v1/tickets/{ticket}/acknowledge", json={},
                         headers={"X-CSRF-Token": client.cookies.get("avfleet_csrf")})
    assert answer.status_code == 200, answer.text
    after = client.get("/tickets").text
    assert f'data-ticket="{ticket}" data-state="acknowledged"' in after
    assert f'data-ticket-action="acknowledge" data-ticket="{ticket}"' not in after
    assert f'data-ticket-action="resolve" data-ticket="{ticket}"' in after
    acknowledged = client.get("/tickets?state=acknowledged").text
    assert re.findall(r'data-testid="ticket-row" data-ticket="(\d+)"', acknowledged) == [ticket]
