"""The dashboard in Debian's Chromium (Playwright), against the real chain of conftest.py's stack.

Each test saves screenshots (tests/support/browser.py says where) for a person to look at. Waits are
Playwright's `expect` on the elements the page contract names (data-testid, data-value), never sleeps.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from tests.controller.dashboard.conftest import JKPG, JKPG_AGENT, PASSWORD, VMO, VMO_AGENT, Stack, login
from tests.support.browser import screenshot
from tests.support.waiting import wait

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the browser_session fixture skips (fails in CI) before any test gets here
    expect = None


def device_path(agent_id: str, device_id: str) -> str:
    return f"/d/{quote(agent_id)}/{quote(device_id)}"


def power_cell(page: Any, agent_id: str, device_id: str) -> Any:
    return page.locator(f'[data-testid=device-row][data-device="{agent_id}/{device_id}"] [data-field=power]')


def test_wrong_password_shows_the_error(stack: Stack, new_page: Any) -> None:
    page = new_page()
    page.goto("/login?next=/")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("[data-testid=login-submit]")
    try:
        expect(page.locator("[data-testid=login-error]")).not_to_be_empty()
        expect(page).to_have_url(re.compile(r"/login\?next=%2F$|/login\?next=/$"))
    finally:
        screenshot(page, "login-wrong-password")


def test_login_lands_on_the_overview(stack: Stack, new_page: Any) -> None:
    page = new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # not logged in: 303 to the login page
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("[data-testid=login-submit]")
    expect(page).to_have_url(stack.base_url)
    rows = page.locator("[data-testid=municipality-row]")
    expect(rows).to_have_count(2)
    jkpg = page.locator(f'[data-testid=municipality-row][data-municipality="{JKPG["municipality"]}"]')
    expect(jkpg.locator("[data-field=devices]")).to_have_text("2")
    expect(page.locator(f'[data-testid=municipality-row][data-municipality="{VMO["municipality"]}"] '
                        "[data-field=devices]")).to_have_text("1")
    screenshot(page, "overview-admin")


def test_drill_down_county_municipality_school_device(stack: Stack, new_page: Any) -> None:
    page = new_page()
    login(page, stack, "admin")
    page.locator(f'[data-testid=municipality-row][data-municipality="{JKPG["municipality"]}"] a').first.click()
    expect(page.locator("[data-testid=school-row]")).to_have_count(1)
    screenshot(page, "municipality-jonkoping")
    page.locator(f'[data-testid=school-row][data-school="{JKPG["school"]}"] a').first.click()
    rows = page.locator("[data-testid=device-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("body")).to_contain_text(JKPG["room"])
    screenshot(page, "school-ekhagen")
    rows.filter(has_text="pj-01").locator("a").first.click()
    expect(page).to_have_url(re.compile(re.escape(device_path(JKPG_AGENT, "pj-01")) + "$"))
    expect(page.locator("[data-testid=device-power]")).to_have_attribute("data-value", "on")
    for part in ("history", "device-tickets", "energy-chart"):
        expect(page.locator(f"[data-testid={part}]")).to_be_attached()
    screenshot(page, "device-page-admin")
    page.goto("/devices?q=vmo")  # the search the viewer's test relies on finds Värnamo's projector for an admin
    expect(page.locator(f'[data-testid=device-row][data-device="{VMO_AGENT}/vmo-pj-00"]')).to_have_count(1)


def test_projector_state_change_appears_without_reload(stack: Stack, new_page: Any) -> None:
    stack.set_power(1, "on")
    listing = new_page()
    login(listing, stack, "tekniker", then="/devices?" + f"municipality={quote(JKPG['municipality'])}")
    cell = power_cell(listing, JKPG_AGENT, "pj-01")
    expect(cell).to_have_attribute("data-value", "on")
    detail = listing.context.new_page()  # same session cookie, a second tab
    detail.goto(device_path(JKPG_AGENT, "pj-01"))
    power = detail.locator("[data-testid=device-power]")
    expect(power).to_have_attribute("data-value", "on")
    listing.evaluate("window.__noReload = true")  # gone if the page reloaded
    detail.evaluate("window.__noReload = true")
    stack.emulators.call(lambda: stack.emulators.fleet.emulators[1].set_power("standby"))
    expect(cell).to_have_attribute("data-value", "standby", timeout=20_000)
    expect(power).to_have_attribute("data-value", "standby", timeout=20_000)
    shown = power.inner_text().strip()
    assert shown and cell.inner_text().strip()
    expect(detail.locator("[data-testid=history] li").first).to_contain_text(shown)  # the timeline grew live
    screenshot(listing, "live-device-list-standby")
    screenshot(detail, "live-device-page-standby")
    stack.emulators.call(lambda: stack.emulators.fleet.emulators[1].set_power("on"))
    expect(cell).to_have_attribute("data-value", "on", timeout=20_000)
    expect(power).to_have_attribute("data-value", "on", timeout=20_000)
    assert listing.evaluate("window.__noReload") is True and detail.evaluate("window.__noReload") is True


def test_technician_powers_a_projector_off(stack: Stack, new_page: Any) -> None:
    stack.set_power(0, "on")
    page = new_page()
    login(page, stack, "tekniker", then=device_path(JKPG_AGENT, "pj-00"))
    expect(page.locator("[data-testid=device-power]")).to_have_attribute("data-value", "on")
    page.click("[data-testid=control-power-off]")
    dialog = page.locator("[data-testid=confirm]")
    expect(dialog).to_be_visible()
    screenshot(page, "confirm-power-off")
    page.click("[data-testid=confirm-yes]")
    result = page.locator("[data-testid=command-result]")
    expect(result).to_have_attribute("data-value", "done", timeout=20_000)  # the command's raw final state
    expect(page.locator("[data-testid=device-power]")).to_have_attribute("data-value", "standby", timeout=20_000)
    screenshot(page, "command-power-off-done")
    assert stack.emulator_power(0).name == "standby"  # the projector itself is off
    wait(lambda: stack.device(JKPG_AGENT, "pj-00")["power"] == "standby", what="the controller has pj-00 standby")


def test_viewer_sees_only_jonkoping_and_no_controls(stack: Stack, new_page: Any) -> None:
    page = new_page()
    login(page, stack, "lasare")
    expect(page.locator("[data-testid=municipality-row]")).to_have_count(1)
    expect(page.locator(f'[data-testid=municipality-row][data-municipality="{JKPG["municipality"]}"]')).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text(VMO["municipality"])
    screenshot(page, "overview-viewer")
    page.goto("/devices")
    expect(page.locator("[data-testid=device-row]")).to_have_count(2)
    expect(page.locator("[data-testid=total]")).to_contain_text("2")
    expect(page.locator("body")).not_to_contain_text(VMO["municipality"])
    page.goto("/devices?q=vmo")
    expect(page.locator("[data-testid=device-row]")).to_have_count(0)
    expect(page.locator("[data-testid=total]")).to_contain_text("0")
    screenshot(page, "viewer-search-vmo")
    for path in (device_path(VMO_AGENT, "vmo-pj-00"), f"/m/{quote(VMO['municipality'])}",
                 f"/m/{quote(VMO['municipality'])}/s/{quote(VMO['school'])}"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
        expect(page.locator("[data-testid=nav]")).to_be_visible()  # the dashboard's own 404 page, not JSON
        expect(page.locator("body")).not_to_contain_text("vmo-pj-00")
    screenshot(page, "viewer-404")
    page.goto(device_path(JKPG_AGENT, "pj-00"))
    expect(page.locator("[data-testid=device-power]")).to_be_attached()
    assert page.locator("[data-testid^=control-]").count() == 0  # no control in the HTML at all
    assert page.locator("[data-testid=confirm]").count() == 0
    screenshot(page, "device-page-viewer")


def test_english_switch(stack: Stack, new_page: Any) -> None:
    page = new_page()
    login(page, stack, "admin")
    nav_sv = page.locator("[data-testid=nav]").inner_text()
    page.click("[data-testid=lang-switch]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    nav_en = page.locator("[data-testid=nav]").inner_text()
    assert nav_en != nav_sv
    assert any(c["name"] == "avfleet_lang" and c["value"] == "en" for c in page.context.cookies())
    page.goto("/devices")  # the choice sticks (cookie)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "devices-english")


def test_phone_width_has_no_horizontal_page_scroll(stack: Stack, new_page: Any) -> None:
    page = new_page(width=390, height=844)
    login(page, stack, "tekniker")
    for name, path in (("overview", "/"), ("devices", "/devices"), ("device", device_path(JKPG_AGENT, "pj-00"))):
        page.goto(path)
        expect(page.locator("[data-testid=nav]")).to_be_attached()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        screenshot(page, f"phone-{name}")
        assert widths[0] <= widths[1], f"{path}: the page scrolls sideways ({widths[0]} > {widths[1]} px)"


def test_keyboard_reaches_nav_and_controls_with_visible_focus(stack: Stack, new_page: Any) -> None:
    page = new_page()
    login(page, stack, "tekniker", then=device_path(JKPG_AGENT, "pj-00"))
    expect(page.locator("[data-testid=control-power-off]")).to_be_visible()
    page.locator("body").focus()
    seen_nav = seen_control = False
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement;
            const s = getComputedStyle(el);
            return {testid: el.getAttribute('data-testid') || '', inNav: !!el.closest('[data-testid=nav]'),
                    visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'};
        }""")
        if focused["inNav"] or focused["testid"].startswith("control-"):
            assert focused["visible"], f"no visible focus on {focused}"
        if focused["inNav"] and not seen_nav:
            seen_nav = True
            screenshot(page, "keyboard-focus-nav", full_page=False)
        if focused["testid"] == "control-power-off":
            seen_control = True
            screenshot(page, "keyboard-focus-control", full_page=False)
            break
    assert seen_nav and seen_control, (seen_nav, seen_control)


def test_admin_adds_a_viewer_makes_and_revokes_its_token_and_disables_it(stack: Stack, new_page: Any) -> None:
    import httpx

    page = new_page()
    login(page, stack, "admin", then="/admin/users")
    page.fill("[data-testid=add-user-name]", "lisa")
    page.select_option("[data-testid=add-user-role]", "viewer")
    page.fill("[data-testid=add-user-municipalities]", JKPG["municipality"])
    page.fill("[data-testid=add-user-password]", "ett långt lösenord")
    page.click("[data-testid=add-user-submit]")
    row = page.locator("[data-testid=user-row][data-user=lisa]")
    expect(row.locator("[data-testid=user-state]")).to_have_text("Aktiv")  # after the page reloaded
    expect(row).to_contain_text(JKPG["municipality"])
    screenshot(page, "admin-user-added")

    page.goto("/admin/tokens")
    page.select_option("[data-testid=create-token-user]", "lisa")
    page.fill("[data-testid=create-token-label]", "lisas skript")
    page.click("[data-testid=create-token-submit]")
    shown = page.locator("[data-testid=new-token]")
    expect(shown).not_to_be_empty()
    screenshot(page, "admin-token-created")
    token = shown.inner_text().strip()
    me = httpx.get(f"{stack.base_url}api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    assert me.json()["municipalities"] == [JKPG["municipality"]]
    page.reload()
    assert token not in page.content()  # shown once: the list has its prefix only
    made = page.locator("[data-testid=token-row]", has_text="lisas skript")
    made.locator("[data-testid=token-revoke]").click()
    expect(page.locator("[data-testid=confirm]")).to_be_visible()
    page.click("[data-testid=confirm-yes]")
    expect(made.locator("[data-testid=token-revoked]")).not_to_be_empty()
    expect(made.locator("[data-testid=token-revoke]")).to_have_count(0)
    assert httpx.get(f"{stack.base_url}api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    page.goto("/admin/users")
    row = page.locator("[data-testid=user-row][data-user=lisa]")
    row.locator("[data-testid=user-disable]").click()
    page.click("[data-testid=confirm-yes]")
    expect(row.locator("[data-testid=user-state]")).to_have_text("Avstängd")
    expect(row.locator("[data-testid=user-enable]")).to_be_visible()
    screenshot(page, "admin-user-disabled")
    audit = stack.api.get("/audit", params={"actor": "admin"}).json()["items"]
    assert {"user.add", "token.create", "token.revoke", "user.disable"} <= {entry["action"] for entry in audit}
