"""The Agents, Assignments and Health pages through the console's handler (signed in, CSRF), with moto and the
sandbox: a hostile agent name renders as text, changes need the CSRF token, bad input stores nothing, the CSV."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest

from round_robin import wiring
from tests.integration.console_flows import Browser
from tests.integration.flows import consent
from tests.integration.helpers import new_ticket, request_for
from tests.support.lambda_env import load_handler

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def browser(account):
    signed_in = Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])
    signed_in.sign_in()
    return signed_in


def csrf_of(page: dict) -> str:
    return re.search(r'name="?csrf_token"? value="([^"]+)"', page["body"]).group(1)


def rename(account, name: str, new_name: str) -> int:
    """Rename an agent in Zendesk and re-import, as a hostile admin of the Zendesk account could."""
    user_id = account["users"][name]
    account["model"].users[user_id]["name"] = new_name
    from round_robin.assignment.roster_import import import_rosters
    from round_robin_cli.commands import zendesk_client

    wiring.rosters().sync("acme", import_rosters(zendesk_client("acme"), ()), datetime.now(UTC).timestamp())
    return user_id


def test_pages_need_a_session(account):
    anonymous = Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])
    for path in ("/admin/agents", "/admin/assignments", "/admin/assignments.csv", "/admin/health"):
        assert anonymous.get(path)["statusCode"] == 303
    assert anonymous.post("/admin/agents", {"action": "rotation"})["statusCode"] == 303


def test_an_alerts_link_signs_in_to_its_account(account):
    anonymous = Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])

    assert anonymous.get("/admin/health", subdomain="acme")["headers"]["Location"] == \
        "/admin?subdomain=acme&page=health"
    assert anonymous.get("/admin/health", subdomain="Not a domain!")["headers"]["Location"] == "/admin?page=health"


def test_signing_in_from_an_alerts_link_lands_on_the_page_it_links(account):
    anonymous = Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])
    asked = anonymous.get("/admin/health", subdomain="acme")["headers"]["Location"]
    started = anonymous.get("/admin", **dict(parse_qsl(asked.partition("?")[2])))
    assert started["statusCode"] == 303, started
    anonymous.answer = consent(account["zendesk"], started["headers"]["Location"])

    back = anonymous.request("GET", "/oauth/callback", query=anonymous.answer)

    assert back["statusCode"] == 303 and back["headers"]["Location"] == "/admin/health"
    assert anonymous.get("/admin/health")["statusCode"] == 200


def test_a_sign_in_for_an_unknown_page_is_refused_before_zendesk(account):
    anonymous = Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])

    answer = anonymous.get("/admin", subdomain="acme", page="../../evil")

    assert answer["statusCode"] == 400
    assert "settings, agents, assignments or health" in answer["body"]
    assert "rr_signin" not in str(answer.get("cookies"))


def test_a_hostile_agent_name_renders_as_text_everywhere(browser, account):
    agent_id = rename(account, "Ben Agent", HOSTILE)
    ticket = new_ticket(account)
    for _ in range(3):  # Ben's turn comes within a lap of the Support roster
        wiring.assigner().assign(request_for(ticket["id"]))
        ticket = new_ticket(account)

    pages = [browser.get("/admin/agents"), browser.get("/admin/agents", agent=str(agent_id)),
             browser.get("/admin/assignments"), browser.get("/admin/health")]

    for page in pages:
        assert page["statusCode"] == 200
        assert "<script" not in page["body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]["body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2]["body"]
    exported = browser.get("/admin/assignments.csv")
    assert exported["headers"]["Content-Type"].startswith("text/csv")
    assert "attachment" in exported["headers"]["Content-Disposition"]


def test_an_agent_is_taken_out_of_office_from_the_page(browser, account, aws_env):
    agent_id = account["users"]["Ben Agent"]
    page = browser.get("/admin/agents", agent=str(agent_id))
    back = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()

    answer = browser.post("/admin/agents", {"csrf_token": csrf_of(page), "action": "availability",
                                            "agent_id": str(agent_id), "status": "ooo", "until": back,
                                            "backup": str(account["users"]["Cleo Agent"])})

    assert answer["statusCode"] == 200
    assert f"Ben Agent is now ooo until {back} (backup: Cleo Agent)" in answer["body"]
    assert wiring.agent_store().listed("acme")[agent_id].status == "ooo"


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(browser, account, aws_env):
    agent_id = account["users"]["Ben Agent"]
    before = aws_env.items()

    answer = browser.post("/admin/agents", {"csrf_token": "forged", "action": "rotation",
                                            "agent_id": str(agent_id), "in_rotation": "off"})

    assert answer["statusCode"] == 403
    assert aws_env.items() == before


def test_a_bad_change_answers_400_with_the_reason_and_stores_nothing(browser, account, aws_env):
    page = browser.get("/admin/agents")
    before = [i for i in aws_env.items() if not i["sk"]["S"].startswith("SESSION")]

    answer = browser.post("/admin/agents", {"csrf_token": csrf_of(page), "action": "caps",
                                            "agent_id": str(account["users"]["Ben Agent"]), "open_cap": "<b>"})

    assert answer["statusCode"] == 400
    assert "Nothing was changed: a cap must be a whole number of 0 or more, or none, got &#x27;&lt;b&gt;&#x27;" \
        in answer["body"]
    assert [i for i in aws_env.items() if not i["sk"]["S"].startswith("SESSION")] == before


@pytest.mark.parametrize("query, error", [
    ({"outcome": "exploded"}, "outcome must be one of"),
    ({"from": "yesterday"}, "from must be a date written YYYY-MM-DD"),
    ({"from": "2026-12-05", "to": "2026-12-01"}, "ends (2026-12-01) before it starts"),
    ({"ticket": "12abc"}, "ticket must be a Zendesk id"),
    ({"agent": "-4"}, "agent must be a Zendesk id"),
    ({"after": "1' OR 1=1"}, "the page link is not one this console made"),
])
def test_a_bad_log_filter_is_explained(browser, query, error):
    page = browser.get("/admin/assignments", **query)
    exported = browser.get("/admin/assignments.csv", **query)

    assert page["statusCode"] == 400 and exported["statusCode"] == 400
    assert error.replace("'", "&#x27;") in page["body"] and error.replace("'", "&#x27;") in exported["body"]


def test_a_bad_agents_filter_is_explained(browser):
    page = browser.get("/admin/agents", page="zero", group="12")

    assert page["statusCode"] == 200
    assert "page must be a whole number" in page["body"]


def test_the_log_links_each_ticket_to_zendesk_and_filters_by_ticket(browser, account):
    ticket = new_ticket(account)
    wiring.assigner().assign(request_for(ticket["id"]))

    page = browser.get("/admin/assignments", ticket=str(ticket["id"]))
    chart = browser.get("/admin/assignments", chart="1")

    assert f'href="https://acme.zendesk.com/agent/tickets/{ticket["id"]}"' in page["body"]
    assert "<svg" not in page["body"] and "chart=1" in page["body"]
    assert "<svg" in chart["body"] and "<script" not in chart["body"]
