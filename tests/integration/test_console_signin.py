from urllib.parse import parse_qs, urlsplit

import pytest

from round_robin.console.http import SESSION_COOKIE
from tests.integration.console_flows import Browser
from tests.support.lambda_env import load_handler


@pytest.fixture
def browser(account):
    return Browser(load_handler("admin_console"), load_handler("oauth_callback"), account["zendesk"])


def test_an_admin_signs_in_and_lands_on_settings(browser, aws_env):
    done = browser.sign_in()
    assert done["statusCode"] == 303, done.get("body")
    assert done["headers"]["Location"] == "/admin/settings"
    (cookie,) = done["cookies"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
        assert attribute in cookie
    page = browser.get("/admin/settings")
    assert page["statusCode"] == 200, page["body"]
    assert "acme.zendesk.com" in page["body"] and "Import agents now" in page["body"]


def test_the_sign_in_link_asks_only_for_read_with_pkce(browser):
    started = browser.get("/admin", subdomain="https://ACME.zendesk.com")
    query = parse_qs(urlsplit(started["headers"]["Location"]).query)
    assert query["scope"] == ["read"]
    assert query["code_challenge_method"] == ["S256"]
