"""The Agents and Assignments pages in a real browser (Debian's chromium through Playwright, over the local stack):
take an agent out of office, see new tickets flow around them, filter the log, export it as CSV. Screenshots for
the README: see test_console_browser.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import connect
from tests.e2e.conftest import wait_for
from tests.e2e.test_console_browser import SCREENSHOTS, chromium, page, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SUBDOMAIN = "e2e-console-pages"


def test_an_agent_out_of_office_gets_no_tickets_and_the_log_shows_it(page, stack):  # noqa: F811 (the fixture)
    stack.new_account(SUBDOMAIN)
    assert connect(stack.url, SUBDOMAIN).page.status_code == 200
    account = stack.zendesk_account(SUBDOMAIN)
    ben = next(u["id"] for u in account["users"] if u["name"] == "Ben Agent")
    support = next(str(g["id"]) for g in account["groups"] if g["name"] == "Support")
    back = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    sign_in(page, stack, SUBDOMAIN)
    page.wait_for_url(f"{stack.url}/admin/settings")

    # the Support roster in rotation order, then Ben's editor: out of office for a week, Cleo his backup
    page.click("header a:has-text('Agents')")
    expect(page.locator("h1")).to_have_text("Agents")
    page.click(f"a[href='/admin/agents?group={support}']")
    expect(page.locator("h2", has_text="rotation order")).to_be_visible()
    page.click("table a:has-text('Ben Agent')")
    page.select_option("select[name=status]", "ooo")
    page.fill("input[name=until]", back)
    page.select_option("select[name=backup]", label="Cleo Agent")
    page.click("button:has-text('Save availability')")
    expect(page.locator(".notice")).to_contain_text(f"Ben Agent is now ooo until {back} (backup: Cleo Agent)")
    expect(page.locator("table").last.locator("tr", has_text="Ben Agent")).to_contain_text("no: out of office")
    page.screenshot(path=str(SCREENSHOTS / "console-agents.png"), full_page=True)

    # new Support tickets go around Ben
    ids = stack.create_tickets(SUBDOMAIN, "Support", 4)

    def assigned():
        tickets = {t["id"]: t for t in stack.zendesk_account(SUBDOMAIN)["tickets"]}
        return tickets if all(tickets[i]["assignee_id"] for i in ids) else None

    tickets = wait_for(assigned, timeout=90, what="the Support tickets to be assigned")
    assert all(tickets[i]["assignee_id"] != ben for i in ids)

    # the log, filtered to Support's assignments, shows every one of them, none to Ben
    page.click("header a:has-text('Assignments')")
    page.select_option("select[name=outcome]", "assigned")
    page.select_option("select[name=group]", support)
    page.click("form.filters button:has-text('Filter')")
    page.wait_for_url(re.compile(r".*/admin/assignments\?.*outcome=assigned"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(len(ids))
    expect(page.locator("tbody")).not_to_contain_text("Ben Agent")
    for ticket_id in ids:
        expect(page.locator(f"a[href='https://{SUBDOMAIN}.zendesk.com/agent/tickets/{ticket_id}']")).to_be_visible()
    page.click("a:has-text('Assignments per agent per day')")
    expect(page.locator("svg.chart")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "console-assignments.png"), full_page=True)

    # the CSV of the same view
    with page.expect_download() as download:
        page.click("a:has-text('Export these rows as CSV')")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert sorted(int(r["ticket_id"]) for r in exported) == sorted(ids)
    assert {r["outcome"] for r in exported} == {"assigned"} and "Ben Agent" not in {r["agent"] for r in exported}

    # the Health page an alert links to: nothing waits, nothing is wrong
    page.click("nav a:has-text('Health')")
    expect(page.locator("h1")).to_have_text("Health")
    page.screenshot(path=str(SCREENSHOTS / "console-health.png"), full_page=True)
