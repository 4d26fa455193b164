"""Sign in with Zendesk, sessions and CSRF: the console handler and the OAuth callback in-process (moto and the
sandbox), as a browser drives them (console_flows.Browser)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from round_robin.console.http import SESSION_COOKIE, SIGN_IN_COOKIE
from round_robin.console.sessions import SESSION_LIFETIME
from tests.integration.conftest import PREFIX
from tests.integration.console_flows import Browser
from tests.integration.flows import consent, seed_connected_account
from tests.support.lambda_env import load_handler
from tests.support.logs import captured_logs


@pytest.fixture
def handlers(account):
    return load_handler("admin_console"), load_handler("oauth_callback")


@pytest.fixture
def browser(handlers, account):
    return Browser(*handlers, account["zendesk"])


def sessions(aws_env):
    return [i for i in aws_env.items() if i["pk"]["S"].startswith("SESSION#")]


def account_secret(aws_env, subdomain="acme"):
    return aws_env.secretsmanager.get_secret_value(SecretId=f"{PREFIX}{subdomain}")["SecretString"]


def test_an_admin_signs_in_and_lands_on_settings_with_a_host_only_secure_cookie(browser, aws_env):
    done = browser.sign_in()

    assert done["statusCode"] == 303, done.get("body")
    assert done["headers"]["Location"] == "/admin/settings"
    cookie, cleared = done["cookies"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert cleared.startswith(f"{SIGN_IN_COOKIE}=;") and "Max-Age=0" in cleared  # the binding is spent
    attributes = {part.strip().split("=")[0] for part in cookie.split(";")[1:]}
    assert {"Path", "Secure", "HttpOnly", "SameSite", "Max-Age"} <= attributes and "Domain" not in attributes
    assert "SameSite=Lax" in cookie and f"Max-Age={SESSION_LIFETIME}" in cookie
    page = browser.get("/admin/settings")
    assert page["statusCode"] == 200, page["body"]
    assert "acme.zendesk.com" in page["body"] and "Signed in as Ada Admin" in page["body"]
    # the session item holds the id's hash only, and lives 8 hours
    (item,) = sessions(aws_env)
    assert browser.session_id not in json.dumps(item)
    assert int(item["ttl"]["N"]) - int(item["created_at"]["N"]) == 8 * 3600


def test_the_sign_in_asks_for_read_only_with_pkce_and_the_shortest_lifetimes(browser, account):
    started = browser.get("/admin", subdomain="https://ACME.zendesk.com")
    query = parse_qs(urlsplit(started["headers"]["Location"]).query)
    assert query["scope"] == ["read"] and query["code_challenge_method"] == ["S256"]
    (binding,) = started["cookies"]
    assert binding.startswith(f"{SIGN_IN_COOKIE}=") and "HttpOnly" in binding and "Max-Age=600" in binding

    browser.sign_in()
    (exchange,) = account["zendesk"].calls("POST", "/oauth/tokens")
    body = json.loads(exchange.request.body)
    assert body["scope"] == "read" and body["code_verifier"]
    assert body["expires_in"] == 300 and body["refresh_token_expires_in"] == 7 * 86400


def test_the_sign_in_grant_is_used_for_users_me_only_and_never_stored(browser, aws_env, account):
    secret_before = account_secret(aws_env)
    with captured_logs() as logs:
        browser.sign_in()
    model = account["zendesk"].account()
    (grant,) = [t for t in model.tokens.values() if t.scopes == ["read"]]
    used = [c.request for c in account["zendesk"].mock.calls
            if c.request.headers.get("Authorization") == f"Bearer {grant.access_token}"]
    assert [urlsplit(r.url).path for r in used] == ["/acme/api/v2/users/me.json"]
    assert account_secret(aws_env) == secret_before  # the account's connection is untouched
    stored = json.dumps(aws_env.items())
    for secret in (grant.access_token, grant.refresh_token, browser.session_id):
        assert secret not in stored and secret not in logs.text


def test_an_agent_is_refused_with_a_403_page_and_no_session(browser, aws_env, account):
    ivy = account["users"]["Ivy Agent"]
    done = browser.sign_in(user_id=ivy)
    assert done["statusCode"] == 403
    assert "Only administrators can sign in" in done["body"] and "Ivy Agent" in done["body"]
    assert "role: agent" in done["body"]
    assert not done.get("cookies") and sessions(aws_env) == []


def test_an_account_that_is_not_connected_gets_a_page_with_the_connect_link(browser, aws_env):
    page = browser.get("/admin", subdomain="beta")
    assert page["statusCode"] == 404
    assert "beta.zendesk.com is not connected" in page["body"]
    assert 'href="/oauth/start?subdomain=beta"' in page["body"]
    assert not [i for i in aws_env.items() if i["pk"]["S"].startswith("STATE#")]  # no sign-in was started


def test_a_malformed_subdomain_gets_the_sign_in_form_with_the_reason(browser):
    page = browser.get("/admin", subdomain="not a subdomain!")
    assert page["statusCode"] == 400
    assert "That is not a Zendesk subdomain" in page["body"] and 'name=subdomain' in page["body"]


def test_a_declined_sign_in_says_so_and_starts_no_session(browser, aws_env):
    done = browser.sign_in(decision="deny")
    assert done["statusCode"] == 403 and "You were not signed in" in done["body"]
    assert sessions(aws_env) == []


def test_admin_without_a_session_shows_the_sign_in_form_and_with_one_goes_to_settings(browser):
    assert "Sign in with Zendesk" in browser.get("/admin")["body"]
    browser.sign_in()
    again = browser.get("/admin")
    assert again["statusCode"] == 303 and again["headers"]["Location"] == "/admin/settings"


def test_a_page_without_a_live_session_redirects_to_sign_in(browser, aws_env):
    assert browser.get("/admin/settings")["headers"]["Location"] == "/admin"
    browser.cookies[SESSION_COOKIE] = "x" * 43  # well-formed, unknown
    assert browser.get("/admin/settings")["headers"]["Location"] == "/admin"
    browser.cookies[SESSION_COOKIE] = "<script>"  # malformed
    assert browser.get("/admin/settings")["statusCode"] == 303


def test_an_expired_session_is_refused_even_before_dynamodb_deletes_it(browser, aws_env):
    browser.sign_in()
    (item,) = sessions(aws_env)
    aws_env.dynamodb.update_item(TableName=aws_env.table, Key={"pk": item["pk"], "sk": item["sk"]},
                                 UpdateExpression="SET expires_at = :past",
                                 ExpressionAttributeValues={":past": {"N": "1"}})
    page = browser.get("/admin/settings")
    assert page["statusCode"] == 303 and page["headers"]["Location"] == "/admin"


def test_every_sign_in_gets_a_new_session_id_and_ends_the_browsers_previous_one(browser, aws_env):
    # given: a session id planted in the browser (fixation), then a real sign-in
    browser.cookies[SESSION_COOKIE] = "A" * 43
    browser.sign_in()
    first = browser.session_id
    assert first != "A" * 43
    # when: signing in again in the same browser
    browser.sign_in()
    # then: a new id, and the old one no longer works
    assert browser.session_id != first and len(sessions(aws_env)) == 1
    old = Browser(browser.console, browser.callback, browser.zendesk, {SESSION_COOKIE: first})
    assert old.get("/admin/settings")["statusCode"] == 303


def test_sign_out_ends_the_session_and_clears_the_cookie(browser, aws_env):
    browser.sign_in()
    session_id, token = browser.session_id, csrf_of(browser)
    page = browser.post("/admin/signout", {"csrf_token": token})
    assert page["statusCode"] == 200 and "Signed out" in page["body"]
    (cookie,) = page["cookies"]
    assert cookie.startswith(f"{SESSION_COOKIE}=;") and "Max-Age=0" in cookie
    assert sessions(aws_env) == []
    replayed = Browser(browser.console, browser.callback, browser.zendesk, {SESSION_COOKIE: session_id})
    assert replayed.get("/admin/settings")["headers"]["Location"] == "/admin"


def csrf_of(browser: Browser) -> str:
    page = browser.get("/admin/settings")["body"]
    start = page.index("name=csrf_token value=\"") + len("name=csrf_token value=\"")
    return page[start:page.index('"', start)]


@pytest.mark.parametrize("path", ["/admin/signout", "/admin/settings", "/admin/import", "/admin/migrate"])
def test_every_form_needs_this_sessions_csrf_token(browser, handlers, account, aws_env, path):
    browser.sign_in()
    other = Browser(*handlers, account["zendesk"])
    other.sign_in()
    items_before = sorted(json.dumps(i, sort_keys=True) for i in aws_env.items())
    for form in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf_of(other)}):
        answer = browser.post(path, {**form, "zendesk_status": "on", "ooo_app": "off", "reassign": "new",
                                     "counted_statuses": "new", "waiting_alert_minutes": "5"})
        assert answer["statusCode"] == 403, (form, answer["body"])
        assert "This form has expired" in answer["body"] and "Nothing was changed" in answer["body"]
    assert sorted(json.dumps(i, sort_keys=True) for i in aws_env.items()) == items_before
    assert aws_env.queued_events() == []


def test_a_form_in_another_encoding_is_refused_clearly(browser):
    browser.sign_in()
    answer = browser.request("POST", "/admin/signout", body='{"csrf_token": "x"}', content_type="application/json")
    assert answer["statusCode"] == 400 and "application/x-www-form-urlencoded" in answer["body"]


def test_an_admin_of_one_account_is_not_signed_in_to_another(browser, handlers, account, aws_env):
    # given: beta is connected too, with its own admin
    zendesk = account["zendesk"]
    zendesk.sandbox.create_account("beta")
    seed_connected_account(zendesk, "beta")
    # when: acme's admin signs in
    browser.sign_in()
    # then: the session is acme's, and no request names another account
    page = browser.get("/admin/settings")["body"]
    assert "acme.zendesk.com" in page and "beta" not in page
    (item,) = sessions(aws_env)
    assert item["subdomain"]["S"] == "acme"
    # acme's admin cannot approve a sign-in to beta: Zendesk's users are per account
    beta_admin = Browser(*handlers, zendesk)
    beta_admin.sign_in("beta")
    assert "beta.zendesk.com" in beta_admin.get("/admin/settings")["body"]
    assert "acme" not in beta_admin.get("/admin/settings")["body"]


def test_a_replayed_sign_in_answer_says_to_sign_in_again_and_starts_no_second_session(browser, aws_env):
    started = browser.get("/admin", subdomain="acme")
    answer = consent(browser.zendesk, started["headers"]["Location"])
    assert browser.request("GET", "/oauth/callback", query=answer)["statusCode"] == 303
    replay = browser.request("GET", "/oauth/callback", query=answer)
    assert replay["statusCode"] == 400
    assert "This sign-in link was already used" in replay["body"] and "/admin?subdomain=acme" in replay["body"]
    assert "connection" not in replay["body"]
    assert len(sessions(aws_env)) == 1


@pytest.mark.parametrize(("path", "status", "body", "shown"), [
    (r"/oauth/tokens", 400, {"error": "invalid_grant", "error_description": "expired"}, "Zendesk refused the sign-in"),
    (r"/api/v2/users/me\.json", 503, {"error": "down"}, "Zendesk failed during the sign-in"),
])
def test_a_sign_in_that_zendesk_fails_says_to_sign_in_again(browser, aws_env, path, status, body, shown):
    browser.zendesk.override("POST" if "tokens" in path else "GET", path, status=status, body=body)
    done = browser.sign_in()
    assert done["statusCode"] == 502 and shown in done["body"]
    assert "/admin?subdomain=acme" in done["body"] and "connect link" not in done["body"]
    assert sessions(aws_env) == []


def test_a_sign_in_answer_opened_in_another_browser_signs_nobody_in(handlers, account, aws_env):
    # given: an attacker approves a sign-in to their own account and keeps Zendesk's redirect back
    attacker = Browser(*handlers, account["zendesk"])
    attacker.approve()
    # when: a victim's browser is made to open it (login CSRF, RFC 6749 section 10.12)
    victim = Browser(*handlers, account["zendesk"])
    page = victim.request("GET", "/oauth/callback", query=attacker.answer)
    # then: no session, and a page that says why
    assert page["statusCode"] == 400 and "started in another browser" in page["body"]
    assert "/admin?subdomain=acme" in page["body"]
    assert victim.session_id is None and sessions(aws_env) == []


def test_the_sign_in_logs_no_code_state_or_cookie(browser):
    with captured_logs() as logs:
        browser.sign_in()
    assert browser.answer["code"] not in logs.text and browser.answer["state"] not in logs.text
    assert browser.session_id not in logs.text and "console sign-in" in logs.text
