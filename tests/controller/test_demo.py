"""`avfleet demo` as a user runs it: a subprocess, its printed lines, the API filling up, Ctrl-C.

Beyond "it runs": the county is Jönköpings län (all 13 municipalities reached with 20 projectors),
device ids are unique county-wide and name their agent, and every projector says what it is in
agreement with its model profile (no placeholder firmware, a serial wherever PJLink can tell one).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from avfleet.profiles.library import load_library
from tests.support.components import require_binary

PROJECTORS = 20
MUNICIPALITIES = {"Aneby", "Eksjö", "Gislaved", "Gnosjö", "Habo", "Jönköping", "Mullsjö", "Nässjö", "Sävsjö",
                  "Tranås", "Vaggeryd", "Vetlanda", "Värnamo"}
DEMO_MODELS = {"epson-eb-2250u", "epson-eb-l630u", "panasonic-pt-vmz51", "benq-mw560", "nec-me403u"}
DEVICE_ID = re.compile(r"^[a-z0-9]+-[a-z0-9]+-[a-z0-9]+-(pj|disp|pdu)[0-9]+$")


def check_identities(base: str, auth: dict, projectors: list[dict]) -> None:
    """Each answering projector is recognised as one of the demo models, and agrees with it."""
    library = load_library()
    seen_models = set()
    for device in projectors:
        if device["availability"] != "online":
            continue
        detail = httpx.get(f"{base}/api/v1/devices/{device['id']}", params={"agent_id": device["agent_id"]},
                           headers=auth, timeout=10).json()
        status = detail["status"]
        identity = status["identity"]
        assert identity["manufacturer"] and identity["model"] and identity["firmware"], (device["id"], identity)
        assert not any("emulat" in str(v).lower() for v in identity.values()), (device["id"], identity)
        match = library.match_pjlink(identity["manufacturer"], identity["model"], identity["pjlink_class"])
        assert match is not None and match.profile.name in DEMO_MODELS, (device["id"], identity)
        profile = match.profile
        seen_models.add(profile.name)
        assert identity["model"] == profile.model
        assert identity["pjlink_class"] == profile.recognition.pjlink.pjlink_class, (device["id"], identity)
        if identity["pjlink_class"] == "2":  # PJLink Class 1 has no SNUM: no serial to ask for
            assert identity["serial"] and re.fullmatch(r"[A-Z0-9]{8,14}", identity["serial"]), identity
        assert bool(status["lamps"]) == (profile.light_source == "lamp"), (device["id"], profile.name, status)
        assert identity["name"]  # (the MAC comes from PJLink discovery, which the demo's agents leave off)
    assert seen_models == DEMO_MODELS  # a mix of all five models


def check_tickets_and_mail(base: str, auth: dict, mail_line: str) -> None:
    """The demo's faulty projectors have tickets, and their e-mails reach the demo's local inbox."""
    match = re.fullmatch(r"smtp://127\.0\.0\.1:\d+ \(inbox (.+)\)", mail_line)
    assert match, mail_line
    inbox = Path(match.group(1))
    deadline = time.monotonic() + 60
    kinds: set[str] = set()
    while time.monotonic() < deadline:
        tickets = httpx.get(f"{base}/api/v1/tickets?limit=1000", headers=auth, timeout=10).json()["items"]
        kinds = {t["kind"] for t in tickets}
        if {"unreachable", "auth_failed"} <= kinds and list(inbox.glob("*.eml")):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"tickets {kinds} / mails {list(inbox.glob('*.eml'))}")
    mail = next(iter(sorted(inbox.glob("*.eml")))).read_text(errors="replace")
    assert "Subject: [avfleet]" in mail and "teknik@mediacentrum.example" in mail


def run_demo(tmp_path: Path, *extra: str) -> None:
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "demo", "--devices", str(PROJECTORS),
                             "--port", "0", *extra], stdout=subprocess.PIPE, stderr=log, text=True,
                            start_new_session=True)
    lines: dict[str, str] = {}
    got = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition(": ")
            lines[key] = value
            if {"dashboard", "api token", "login", "broker", "mail"} <= lines.keys():
                got.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert got.wait(120), (tmp_path / "demo.log").read_text()[-3000:]
        assert lines["broker"].startswith("mqtt://127.0.0.1:")
        base = lines["dashboard"].rstrip("/")
        auth = {"Authorization": f"Bearer {lines['api token']}"}
        assert httpx.get(f"{base}/api/v1/devices", timeout=10).status_code == 401

        deadline = time.monotonic() + 90
        items: list[dict] = []
        while time.monotonic() < deadline:
            body = httpx.get(f"{base}/api/v1/devices?limit=1000", headers=auth, timeout=10).json()
            items = body["items"]
            polled = [d for d in items if d["kind"] == "projector" and d["availability"] != "unknown"]
            online = [d for d in polled if d["availability"] == "online"]
            if len(polled) == PROJECTORS and any(d["faults"] for d in polled) and all(d["model"] for d in online):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"devices did not appear with statuses: {items}")
        projectors = [d for d in items if d["kind"] == "projector"]
        # One never answers (unreachable) and one is given a wrong password (auth_failed).
        assert sum(d["availability"] == "online" for d in projectors) == PROJECTORS - 2
        assert {d["availability"] for d in projectors} == {"online", "unreachable", "auth_failed"}
        assert {d["power"] for d in projectors if d["availability"] == "online"} >= {"on", "standby"}
        assert {d["kind"] for d in items} >= {"projector", "display", "pdu"}

        assert {d["municipality"] for d in items} == MUNICIPALITIES
        agents = httpx.get(f"{base}/api/v1/agents?limit=1000", headers=auth, timeout=10).json()["items"]
        assert {a["municipality"] for a in agents} == MUNICIPALITIES
        ids = [d["id"] for d in items]
        assert len(ids) == len(set(ids)), "device ids repeat across the county"
        for d in items:
            assert DEVICE_ID.match(d["id"]) and d["id"].startswith(d["agent_id"] + "-"), d["id"]
        check_identities(base, auth, projectors)
        check_tickets_and_mail(base, auth, lines["mail"])

        user, password = lines["login"].split(" ", 1)
        token = httpx.post(f"{base}/api/v1/auth/login", json={"username": user, "password": password}).json()
        assert token["token"] == lines["api token"]
        assert httpx.get(f"{base}/", timeout=10).status_code == 303  # to the login page
        with httpx.Client(base_url=base, timeout=30) as browser:
            assert browser.post("/api/v1/auth/login", json={"username": user, "password": password}).is_success
            overview = browser.get("/")
            assert overview.status_code == 200
            assert overview.text.count('data-testid="municipality-row"') == len(MUNICIPALITIES)
        # The register the demo imported, and a report of it.
        units = httpx.get(f"{base}/api/v1/inventory?limit=1", headers=auth, timeout=10).json()
        assert units["total"] >= len(items)
        report = httpx.get(f"{base}/api/v1/reports/inventory", headers=auth, timeout=120,
                           params={"municipality": "Jönköping", "year": date.today().year, "format": "pdf"})
        assert report.status_code == 200 and report.content.startswith(b"%PDF")

        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, (tmp_path / "demo.log").read_text()[-3000:]
        assert "Traceback" not in (tmp_path / "demo.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.slow
def test_demo_with_mosquitto(tmp_path: Path) -> None:
    require_binary("mosquitto", "/usr/sbin/mosquitto")
    run_demo(tmp_path)


@pytest.mark.slow
def test_demo_with_the_embedded_development_broker(tmp_path: Path) -> None:
    run_demo(tmp_path, "--broker", "embedded")
    assert "embedded amqtt DEVELOPMENT broker" in (tmp_path / "demo.log").read_text()


@pytest.mark.slow
def test_a_killed_demo_takes_its_mosquitto_along(tmp_path: Path) -> None:
    import socket

    require_binary("mosquitto", "/usr/sbin/mosquitto")
    proc = subprocess.Popen([sys.executable, "-m", "avfleet.cli.main", "demo", "--devices", "3", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        broker = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("broker: "):
                broker = line.strip().removeprefix("broker: mqtt://")
                break
        assert broker is not None
        host, port = broker.rsplit(":", 1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((host, int(port)), timeout=0.5).close()
            except OSError:
                return  # the broker is gone
            time.sleep(0.2)
        pytest.fail("the demo's Mosquitto outlived the demo")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
