"""The admin console in a real browser: Debian's chromium driven by Playwright over the local stack. Sign in with
Zendesk through the sandbox's consent page, Settings, Import agents now, Migrate to OAuth, sign out, and an agent
refused. Screenshots go to build/screenshots/ on every run, and to the README's docs/screenshots/ with
UPDATE_SCREENSHOTS=1 (so an ordinary run leaves the checkout clean)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import CHROMIUM
from tests.e2e.browser import connect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "build") / "screenshots"
SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page: Page, stack, subdomain: str, as_user: str = "Ada Admin") -> None:
    """Open the console's sign-in form, enter the subdomain, approve in the sandbox's Zendesk as `as_user`."""
    page.goto(f"{stack.url}/admin")
    page.fill("input[name=subdomain]", subdomain)
    page.click("text=Sign in with Zendesk")
    expect(page.locator("h1")).to_have_text("Allow access?")
    expect(page.locator("body")).to_contain_text(": read.")  # the sign-in asks for read only
    page.locator("select[name=user_id]").select_option(label=next(
        o for o in page.locator("select[name=user_id] option").all_inner_texts() if o.startswith(as_user)))
    page.click("button[value=allow]")


def test_an_admin_signs_in_sees_settings_imports_agents_and_signs_out(page, stack):
    stack.new_account("e2e-console")
    assert connect(stack.url, "e2e-console").page.status_code == 200

    page.goto(stack.url + "/")
    expect(page.locator("h1")).to_have_text("Round Robin for Zendesk")
    page.screenshot(path=str(SCREENSHOTS / "console-home.png"), full_page=True)

    sign_in(page, stack, "e2e-console")
    page.wait_for_url(f"{stack.url}/admin/settings")
    expect(page.locator("h1")).to_have_text("Settings")
    expect(page.locator("table.facts")).to_contain_text("OAuth")
    expect(page.locator("table.facts")).to_contain_text("Ada Admin")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["__Host-rr_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax" and session["path"] == "/"

    # Dev joins Support in Zendesk, and the event about it is lost: Import agents now brings it in
    account = stack.zendesk_account("e2e-console")
    support = next(g["id"] for g in account["groups"] if g["name"] == "Support")
    dev = next(u["id"] for u in account["users"] if u["name"] == "Dev Agent")
    stack.sandbox_control("e2e-console", "delivery-faults", {"drop": 10})
    stack.sandbox_control("e2e-console", "memberships", {"user_id": dev, "group_id": support})
    page.click("button:has-text('Import agents now')")
    expect(page.locator(".notice")).to_contain_text("Agents imported from Zendesk")
    expect(page.locator(".notice tr", has_text="Support")).to_contain_text("Dev Agent")
    page.screenshot(path=str(SCREENSHOTS / "console-import.png"), full_page=True)

    # a switch, saved
    page.select_option("select[name=reassign]", "new")
    page.fill("input[name=open_cap]", "4")
    page.click("button:has-text('Save switches')")
    expect(page.locator(".notice")).to_contain_text("Switches saved")
    expect(page.locator("input[name=open_cap]")).to_have_value("4")
    page.screenshot(path=str(SCREENSHOTS / "console-settings.png"), full_page=True)

    page.click("header button:has-text('Sign out')")
    expect(page.locator("h1")).to_have_text("Signed out")
    assert "__Host-rr_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(f"{stack.url}/admin/settings")
    page.wait_for_url(f"{stack.url}/admin")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_an_api_token_account_migrates_to_oauth_from_settings(page, stack):
    account = stack.new_account("e2e-console-token")
    ada = next(u for u in account["users"] if u["name"] == "Ada Admin")
    token = requests.post(f"{stack.sandbox}/_sandbox/accounts/e2e-console-token/api-tokens",
                          json={"user_id": ada["id"]}, timeout=10).json()["api_token"]
    assert stack.cli("register-api-token", "e2e-console-token", "--email", ada["email"],
                     env={"ZENDESK_API_TOKEN": token}).returncode == 0

    sign_in(page, stack, "e2e-console-token")
    expect(page.locator("table.facts")).to_contain_text("API token of")
    page.click("button:has-text('Migrate to OAuth')")
    expect(page.locator(".notice")).to_contain_text("Migrated to OAuth")
    expect(page.locator("table.facts")).to_contain_text("OAuth")
    expect(page.locator("button:has-text('Migrate to OAuth')")).to_have_count(0)
    page.screenshot(path=str(SCREENSHOTS / "console-migrated.png"), full_page=True)
    # the notice's last step: verify the new connection by importing agents
    page.click("button:has-text('Import agents now')")
    expect(page.locator(".notice")).to_contain_text("Agents imported from Zendesk")


def test_an_agent_is_refused_with_a_clear_403_page(page, stack):
    stack.new_account("e2e-console-agent")
    assert connect(stack.url, "e2e-console-agent").page.status_code == 200

    sign_in(page, stack, "e2e-console-agent", as_user="Ivy Agent")
    expect(page.locator("h1")).to_have_text("Only administrators can sign in")
    expect(page.locator("body")).to_contain_text("role: agent")
    assert "__Host-rr_session" not in {c["name"] for c in page.context.cookies()}
    answer = requests.get(f"{stack.url}/admin/settings", allow_redirects=False, timeout=30)
    assert answer.status_code == 303


def test_unknown_paths_show_the_404_page(page, stack):
    response = page.goto(f"{stack.url}/no/such/page")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
