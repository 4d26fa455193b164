"""The Settings page and its actions, the front door and the 404 page: the console handler in-process."""

import json

import pytest

from round_robin import wiring
from tests.integration.conftest import PUBLIC_BASE_URL
from tests.integration.console_flows import Browser
from tests.integration.flows import seed_connected_account
from tests.integration.test_console_signin import csrf_of
from tests.support.lambda_env import load_handler

SWITCHES = {"zendesk_status": "on", "ooo_app": "on", "reassign": "open", "open_cap": "5", "daily_cap": "",
            "counted_statuses": ["new", "open", "pending"], "waiting_alert_minutes": "45",
            "status_map": "online=available\nIn a meeting=away\noffline=away"}


@pytest.fixture
def handlers(account):
    return load_handler("admin_console"), load_handler("oauth_callback")


@pytest.fixture
def admin(handlers, account):
    browser = Browser(*handlers, account["zendesk"])
    browser.sign_in()
    return browser


def save(browser: Browser, **changes):
    return browser.post("/admin/settings", {**SWITCHES, **changes, "csrf_token": csrf_of(browser)})


def test_settings_shows_the_connection_from_what_maintenance_records(admin, account):
    wiring.registry().record_maintenance("acme", 1_700_000_000, refreshed=True, health="ok")
    page = admin.get("/admin/settings")["body"]
    assert "OAuth" in page and "Ada Admin" in page and "administrator when connecting" in page
    assert "2023-11-14 22:13 UTC" in page  # the last refresh and health check
    assert page.count("<span class=ok>set up</span>") == 3  # two webhooks and the trigger
    assert "Access token expires" in page and "Refresh token expires" in page
    assert 'href="/oauth/start?subdomain=acme">Reconnect' in page
    assert "Migrate to OAuth" not in page  # an OAuth account has nothing to migrate
    assert "dedicated integration administrator" in page


def test_a_missing_webhook_shows_as_missing(admin, account):
    from dataclasses import replace
    registry = wiring.registry()
    registry.save(replace(registry.get("acme"), trigger_id=None))
    page = admin.get("/admin/settings")["body"]
    assert "Trigger for new unassigned tickets</th><td><span class=bad>missing" in page


def test_saving_the_switches_stores_them_and_announces_the_change(admin, aws_env):
    page = save(admin)
    assert page["statusCode"] == 200, page["body"]
    assert "Switches saved" in page["body"]
    policy, _ = wiring.policies().get("acme")
    assert (policy.zendesk_status, policy.ooo_app, policy.reassign) == (True, True, "open")
    assert (policy.open_cap, policy.daily_cap, policy.waiting_alert_minutes) == (5, None, 45)
    assert policy.counted_statuses == ("new", "open", "pending")
    assert policy.status_map["in a meeting"] == "away"
    (event,) = aws_env.queued_events()
    assert (event["subdomain"], event["kind"]) == ("acme", "settings_changed")
    # the form shows what is stored
    assert 'value="5"' in page["body"] and "in a meeting=away" in page["body"]


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("zendesk_status", "maybe", "Follow Zendesk's agent status must be on or off"),
    ("ooo_app", "", "Follow Out of Office must be on or off"),
    ("reassign", "everything", "reassign must be one of off, new, open"),
    ("open_cap", "-1", "Open tickets at most: a cap must be a whole number"),
    ("daily_cap", "lots", "Tickets a day at most: a cap must be a whole number"),
    ("counted_statuses", ["solved"], "counted statuses must be some of new, open, pending, hold"),
    ("counted_statuses", [], "counted statuses must be some of"),
    ("waiting_alert_minutes", "0", "minutes must be a whole number from 1"),
    ("status_map", "online=maybe", "must map to available or away"),
    ("status_map", "no equals sign", ""),
])
def test_a_bad_switch_is_refused_with_its_reason_and_nothing_is_stored(admin, aws_env, field, value, reason):
    page = save(admin, **{field: value})
    assert page["statusCode"] == 400, page["body"]
    assert "Nothing was saved" in page["body"] and reason.replace("'", "&#x27;") in page["body"]
    assert wiring.policies().item("acme") == {} and aws_env.queued_events() == []


def test_import_agents_now_resyncs_and_says_who_joined_and_left(admin, account):
    zendesk = account["zendesk"]
    model = zendesk.account()
    support = account["groups"]["Support"]
    newcomer = zendesk.sandbox.add_user(model, "Nina New", "agent")
    zendesk.sandbox.add_membership(model, newcomer["id"], support)
    page = admin.post("/admin/import", {"csrf_token": csrf_of(admin)})
    assert page["statusCode"] == 200, page["body"]
    assert "Agents imported from Zendesk" in page["body"]
    assert "<td>Support</td><td>4</td><td>Nina New</td><td>-</td>" in page["body"]
    stored = {r.group_name: [m.name for m in r.members] for r in wiring.rosters().list("acme")}
    assert "Nina New" in stored["Support"]
    again = admin.post("/admin/import", {"csrf_token": csrf_of(admin)})
    assert "nothing changed" in again["body"]


def test_an_import_too_large_for_one_request_goes_on_as_a_job_and_changes_nothing_until_done(admin, account, aws_env,
                                                                                              monkeypatch):
    zendesk = account["zendesk"]
    model = zendesk.account()
    newcomer = zendesk.sandbox.add_user(model, "Nina New", "agent")
    zendesk.sandbox.add_membership(model, newcomer["id"], account["groups"]["Support"])
    monkeypatch.setenv("CONNECT_IMPORT_SECONDS", "0")  # no time to read a page within the request
    wiring.reset()

    page = admin.post("/admin/import", {"csrf_token": csrf_of(admin)})

    assert page["statusCode"] == 200 and "The import goes on in the background" in page["body"]
    assert 'href="/oauth/import?id=' in page["body"]
    stored = {r.group_name: [m.name for m in r.members] for r in wiring.rosters().list("acme")}
    assert "Nina New" not in stored["Support"]  # no roster half-written: they change once every page is read
    (message,) = aws_env.sqs.receive_message(QueueUrl=aws_env.maintenance_queue_url)["Messages"]
    job = json.loads(message["Body"])
    assert (job["subdomain"], job["kind"]) == ("acme", "import")


def test_import_when_zendesk_fails_changes_nothing_and_says_so(admin, account):
    account["zendesk"].override("GET", r"/api/v2/users\.json", status=503, body={"error": "down"})
    page = admin.post("/admin/import", {"csrf_token": csrf_of(admin)})
    assert page["statusCode"] == 502 and "Nothing was changed" in page["body"]


@pytest.fixture
def api_token_admin(aws_env, zendesk):
    model = zendesk.account()
    ada = next(u for u in model.users.values() if u["name"] == "Ada Admin")
    model.api_tokens["legacy-api-token"] = ada["id"]
    wiring.api_token_registration().register("acme", email=ada["email"], api_token="legacy-api-token",
                                             webhook_base_url=PUBLIC_BASE_URL)
    wiring.reset()
    browser = Browser(load_handler("admin_console"), load_handler("oauth_callback"), zendesk)
    browser.sign_in()
    return browser


def test_an_api_token_account_migrates_to_oauth_and_ends_on_settings(api_token_admin, aws_env):
    page = api_token_admin.get("/admin/settings")["body"]
    assert "API token of ada.admin@acme.example" in page and "Migrate to OAuth authentication method" in page
    done = api_token_admin.post("/admin/migrate", {"csrf_token": csrf_of(api_token_admin)})
    assert done["statusCode"] == 200, done["body"]
    assert "Migrated to OAuth" in done["body"] and "Import agents now" in done["body"]
    assert "Migrate to OAuth authentication method</button>" not in done["body"]
    assert wiring.registry().get("acme").auth_method == "oauth"
    assert "legacy-api-token" not in json.dumps(aws_env.items()) + done["body"]


def test_a_second_migration_says_there_is_nothing_to_do(api_token_admin):
    api_token_admin.post("/admin/migrate", {"csrf_token": csrf_of(api_token_admin)})
    again = api_token_admin.post("/admin/migrate", {"csrf_token": csrf_of(api_token_admin)})
    assert again["statusCode"] == 200 and "already uses OAuth; nothing to do" in again["body"]


def test_an_admin_of_acme_never_reads_or_changes_beta(admin, account, aws_env):
    # given: beta connected too
    zendesk = account["zendesk"]
    zendesk.sandbox.create_account("beta")
    seed_connected_account(zendesk, "beta")
    beta_rosters = wiring.rosters().list("beta")
    beta_account = wiring.registry().get("beta")
    # when: acme's admin uses every route, naming beta wherever a request could
    token = csrf_of(admin)
    answers = [
        admin.request("GET", "/admin/settings", query={"subdomain": "beta"}),
        admin.post("/admin/settings", {**SWITCHES, "csrf_token": token, "subdomain": "beta"}),
        admin.post("/admin/import", {"csrf_token": token, "subdomain": "beta"}),
        admin.post("/admin/migrate", {"csrf_token": token, "subdomain": "beta"}),
        admin.request("GET", "/admin", query={"subdomain": "beta"}),  # a new sign-in: approved in beta's Zendesk
    ]
    # then: every page is acme's, and beta is as it was
    for answer in answers[:4]:
        assert answer["statusCode"] == 200, answer["body"]
        assert "acme.zendesk.com" in answer["body"] and "beta" not in answer["body"]
    assert answers[4]["statusCode"] == 303 and "/beta/oauth/authorizations/new" in answers[4]["headers"]["Location"]
    assert wiring.policies().item("beta") == {}
    assert wiring.rosters().list("beta") == beta_rosters
    assert wiring.registry().get("beta") == beta_account
    assert {e["subdomain"] for e in aws_env.queued_events()} == {"acme"}


HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def test_every_page_has_the_security_headers(admin, handlers, account):
    anonymous = Browser(*handlers, account["zendesk"])
    pages = [anonymous.get("/"), anonymous.get("/admin"), anonymous.get("/nowhere"), anonymous.get("/admin/nothing"),
             admin.get("/admin/settings"), admin.post("/admin/signout", {"csrf_token": "wrong"})]
    for page in pages:
        headers = page["headers"]
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert {k: headers[k] for k in HEADERS} == HEADERS
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy and "unsafe-inline" not in policy
        assert "<script" not in page["body"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_unknown_paths_get_the_friendly_404_page_for_every_method(handlers, account, method):
    browser = Browser(*handlers, account["zendesk"])
    for path in ("/nowhere", "/admin/nowhere/else", "/admin/settings/../../etc"):
        page = browser.request(method, path, body="")
        assert page["statusCode"] == 404, (method, path)
        assert "Page not found" in page["body"] and page["headers"]["Content-Type"].startswith("text/html")


def test_the_front_door_links_to_connect_and_to_sign_in(handlers, account):
    page = Browser(*handlers, account["zendesk"]).get("/")
    assert page["statusCode"] == 200
    assert 'action="/oauth/start"' in page["body"] and 'action="/admin"' in page["body"]


def test_hostile_names_from_zendesk_are_escaped_everywhere(handlers, account):
    # given: Zendesk names with markup: the signed-in admin and a group
    zendesk = account["zendesk"]
    hostile = "<script>alert(1)</script>"
    zendesk.user("Ada Admin")["name"] = hostile
    zendesk.account().groups[account["groups"]["Support"]]["name"] = '<img src=x onerror="alert(2)">'
    browser = Browser(*handlers, zendesk)
    browser.sign_in()
    page = browser.post("/admin/import", {"csrf_token": csrf_of(browser)})["body"]
    assert "<script>" not in page and "<img" not in page
    assert "Signed in as &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
