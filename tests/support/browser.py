"""Debian's Chromium driven by Playwright, for the dashboard's browser tests and the render benchmark.

One browser per test module (starting Chromium costs a second or two of a shared 2-core machine; a
session-wide one kept Playwright's event loop running under every later asyncio test), a fresh
context and page per test (its own cookies, so logins never leak between tests), and screenshots kept
as artifacts: in `$AVFLEET_ARTIFACTS/screenshots/` when that is set (CI uploads the folder), else in
`test-artifacts/screenshots/` at the repository root (gitignored), for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tests.support.components import missing, require_binary

REPO = Path(__file__).resolve().parents[2]
# Chromium's sandbox needs user namespaces, which containers and root shells often lack.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    return require_binary("chromium", "/usr/bin/chromium")


def artifacts_dir() -> Path:
    base = os.environ.get("AVFLEET_ARTIFACTS")
    folder = Path(base) / "screenshots" if base else REPO / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save what the page shows now as NAME.png in the artifacts folder; the path is returned."""
    path = artifacts_dir() / (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") + ".png")
    page.screenshot(path=str(path), full_page=full_page)
    return path


class BrowserSession:
    """Playwright's sync API with one headless Chromium; `close()` ends both."""

    def __init__(self) -> None:
        executable = chromium_path()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing("playwright is not installed (the controller's test extra)")
        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception:
            self._playwright.stop()
            raise

    def new_page(self, base_url: str, *, width: int = 1280, height: int = 900, locale: str = "sv-SE") -> Any:
        """A page in a context of its own (no cookies), its relative URLs resolved against `base_url`."""
        context = self.browser.new_context(base_url=base_url, viewport={"width": width, "height": height},
                                           locale=locale, timezone_id="Europe/Stockholm")
        return context.new_page()

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()
