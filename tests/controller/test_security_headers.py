"""The web boundary: security headers on every kind of answer, /docs from vendored assets under that
policy (in Chromium), the live stream still streaming through the middleware, and slow or idle
clients closed by the real uvicorn server."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from avfleet.controller.api.app import create_app
from avfleet.controller.api.security import CONTENT_SECURITY_POLICY
from avfleet.controller.app import Controller
from avfleet.controller.auth.service import SESSIONS
from avfleet.controller.db import create_db_engine
from avfleet.controller.migrate import upgrade
from avfleet.controller.settings import load_settings
from tests.controller import support
from tests.controller.conftest import API_TOKEN
from tests.support.components import missing, require_binary
from tests.support.mosquitto import MosquittoBroker
from tests.support.waiting import wait

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
HEAD_TIMEOUT_S = 1.0
KEEP_ALIVE_S = 1
ADMIN_PASSWORD = "adm1n-passw0rd-long"
SESSION_TTL_S = 600


def assert_security_headers(headers: httpx.Headers, *, hsts: bool = False) -> None:
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert ("strict-transport-security" in headers) is hsts


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path_factory.mktemp('headers') / 'h.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    settings = load_settings(database_url=url, api_tokens=[API_TOKEN], broker_password="x" * 20,
                             max_request_bytes=1024, admin_password=ADMIN_PASSWORD, session_ttl_s=SESSION_TTL_S)
    app = create_app(settings, engine)
    app.state.engine_for_test = engine

    @app.get("/boom-for-test", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("an unhandled bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    engine.dispose()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/health", 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/docs", 200),
    ("GET", "/", 200),
    ("GET", "/api/v1/devices", 401),  # no token
    ("GET", "/api/v1/nothing-here", 404),
    ("GET", "/api/v1/devices?limit=abc", 422),
    ("POST", "/api/v1/commands", 413),  # over max_request_bytes, answered before routing
    ("GET", "/boom-for-test", 500),  # an unhandled exception, answered by Starlette's outermost handler
])
def test_every_kind_of_answer_carries_the_headers(client: TestClient, method: str, path: str, status: int) -> None:
    headers = AUTH if status in (422, 413) else {}
    body = b"x" * 2000 if method == "POST" else None
    res = client.request(method, path, headers=headers, content=body)
    assert res.status_code == status
    assert_security_headers(res.headers)


def test_hsts_only_behind_https(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(engine)
    for public_url, hsts in (("https://av.example.se/", True), ("http://10.0.0.5:8080/", False)):
        settings = load_settings(database_url=str(engine.url), api_tokens=[API_TOKEN], broker_password="x" * 20,
                                 public_url=public_url)
        with TestClient(create_app(settings, engine)) as c:
            res = c.get("/health")
        assert_security_headers(res.headers, hsts=hsts)
        if hsts:
            assert res.headers["strict-transport-security"].startswith("max-age=")
    engine.dispose()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.style_attrs = 0
        self.style_blocks = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.style_attrs += "style" in a or any(k.startswith("on") for k in a)  # inline style or handler
        if tag == "style":
            self.style_blocks += 1
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key] or "")
        self._in_script = tag == "script"
        if tag == "script" and not a.get("src"):
            self.inline_scripts.append("")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_docs_references_only_same_origin_assets_and_they_are_served(client: TestClient) -> None:
    res = client.get("/docs")
    page = _Page()
    page.feed(res.text)
    assert page.inline_scripts == [] and page.style_attrs == 0 and page.style_blocks == 0
    assert len(page.urls) == 3  # the CSS, the bundle, the start-up script
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), url  # this origin, no CDN
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith("text/css" if url.endswith(".css") else "text/javascript")
        assert_security_headers(asset.headers)
    assert len(client.get("/docs/assets/swagger-ui-bundle.js").content) > 1_000_000
    assert '"/openapi.json"' in client.get("/docs/assets/swagger-init.js").text
    assert client.get("/docs/assets/..%2Fsecurity.py").status_code == 404
    assert client.get("/redoc").status_code == 404  # it loaded from a CDN; /docs is the one description page
    assert client.get("/openapi.json").json()["info"]["title"] == "avfleet controller"


def test_dashboard_pages_hold_no_inline_script_or_style(client: TestClient) -> None:
    """The policy forbids inline script and style; the pages keep them in files of this origin."""
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    try:
        for path in ("/login", "/", "/devices"):
            res = client.get(path)
            assert res.status_code == 200, path
            assert_security_headers(res.headers)
            page = _Page()
            page.feed(res.text)
            assert page.inline_scripts == [] and page.style_attrs == 0 and page.style_blocks == 0, path
            for url in page.urls:
                assert not re.match(r"^(https?:)?//", url), f"{path}: {url} is another origin"
    finally:
        client.cookies.clear()


def test_a_session_expires_after_session_ttl_s(client: TestClient) -> None:
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    assert f"Max-Age={SESSION_TTL_S}" in login.headers["set-cookie"]
    assert client.get("/api/v1/auth/me").json()["via"] == "session"  # the cookie alone
    engine = client.app.state.engine_for_test
    with engine.begin() as conn:
        created, expires = conn.execute(sa.select(SESSIONS.c.created_at, SESSIONS.c.expires_at)
                                        .order_by(SESSIONS.c.created_at.desc()).limit(1)).one()
        assert (expires - created).total_seconds() == SESSION_TTL_S
        # The clock moved past the end: the stored end is put one second into the past.
        conn.execute(SESSIONS.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/api/v1/auth/me").status_code == 401
    client.cookies.clear()


def test_a_session_left_idle_ends_and_one_in_use_does_not(client: TestClient) -> None:
    idle = client.app.state.context.settings.session_idle_s
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    engine = client.app.state.engine_for_test

    def last_seen(ago: float) -> None:
        with engine.begin() as conn:
            conn.execute(SESSIONS.update().values(last_seen_at=datetime.now(UTC) - timedelta(seconds=ago)))

    # Used two minutes ago, within the idle time: it answers, and its last-seen time moves to now.
    last_seen(120)
    assert client.get("/api/v1/auth/me").status_code == 200
    with engine.begin() as conn:
        seen = conn.execute(sa.select(SESSIONS.c.last_seen_at)).scalar_one()
    assert (datetime.now(UTC) - seen).total_seconds() < 30
    # Idle one second past session_idle_s (long before its expiry): log in again.
    last_seen(idle + 1)
    assert client.get("/api/v1/auth/me").status_code == 401
    client.cookies.clear()


# --- the real server: uvicorn with the slow-client limits, a broker, the stream ---------------------

@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    work = tmp_path_factory.mktemp("boundary")
    broker = MosquittoBroker(work / "mosquitto").start()
    settings = load_settings(database_url=f"sqlite:///{work / 'b.db'}", broker_url=broker.url,
                             api_tokens=[API_TOKEN], broker_password="anonymous-broker-ignores-this", api_port=0,
                             client_id="boundary-test", http_header_timeout_s=HEAD_TIMEOUT_S,
                             http_keep_alive_s=KEEP_ALIVE_S)
    ctl = Controller(settings)
    ctl.start()
    ctl.broker_for_test = broker  # type: ignore[attr-defined]
    try:
        yield ctl
    finally:
        ctl.stop()
        broker.kill()


def _closed_within(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closed `sock` (recv answers b""), failing past `limit`."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass  # a 4xx answer before the close is fine
    except TimeoutError:
        pytest.fail(f"the server kept the connection open over {limit} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.mark.parametrize("sent", [b"", b"GET /health HT", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "])
def test_a_slow_request_head_is_closed_in_bounded_time(controller: Controller, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", controller.port), timeout=5) as sock:
        if sent:
            sock.sendall(sent)
        took = _closed_within(sock, HEAD_TIMEOUT_S + 4)
    assert took >= HEAD_TIMEOUT_S * 0.5


def test_an_idle_keep_alive_connection_is_closed(controller: Controller) -> None:
    with socket.create_connection(("127.0.0.1", controller.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"content-security-policy" in answer.lower()
        _closed_within(sock, max(KEEP_ALIVE_S, HEAD_TIMEOUT_S) + 4)


def test_the_stream_still_streams_through_the_middleware(controller: Controller) -> None:
    """Events arrive while the response is open (a buffering middleware would hold them all), and
    the stream outlives the head deadline (its request head is long complete)."""
    broker: MosquittoBroker = controller.broker_for_test  # type: ignore[attr-defined]
    base = controller.dashboard_url.rstrip("/")
    events: queue.Queue[tuple[str, dict]] = queue.Queue()
    headers: queue.Queue[httpx.Headers] = queue.Queue()

    def listen() -> None:
        with httpx.stream("GET", f"{base}/api/v1/stream?poll_ms=100", headers=AUTH, timeout=30) as res:
            headers.put(res.headers)
            name = None
            for line in res.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    events.put((name, json.loads(line[6:])))
                    if name == "device":
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert_security_headers(headers.get(timeout=10))
    assert events.get(timeout=10)[0] == "hello"
    opened = time.monotonic()
    wait(lambda: time.monotonic() - opened > HEAD_TIMEOUT_S * 1.5, 5, "the head deadline to pass")
    pub = support.Publisher(broker.port)
    pub.publish(*support.birth("ag1", 1, municipality="Habo", school="Furuskolan", room="1", devices=["pj1"]))
    pub.publish(*support.state("ag1", "pj1", 2, at=1, power="on"))
    pub.flush()
    pub.close()
    name, data = events.get(timeout=15)
    while name != "device":
        name, data = events.get(timeout=15)
    assert data["power"] == "on"
    thread.join(5)


@pytest.mark.slow
def test_docs_render_in_chromium_under_the_policy(controller: Controller) -> None:
    chromium = require_binary("chromium", "/usr/bin/chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing("playwright is not installed")
    problems: list[str] = []
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            page.goto(controller.dashboard_url.rstrip("/") + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("avfleet controller", timeout=30000)
            expect(page.locator(".opblock-summary-path").first).to_be_visible()
        finally:
            browser.close()
    base = controller.dashboard_url.rstrip("/")
    assert all(url.startswith(base) or url.startswith("data:") for url in requested), requested
    assert not [m for m in problems if "Content Security Policy" in m or "Refused" in m], problems
