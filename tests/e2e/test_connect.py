"""Connecting a Zendesk account end to end: the local stack over HTTP, through the real redirects, against
the sandbox."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.browser import approve, connect
from tests.e2e.conftest import running_stack, wait_for

REFRESH = re.compile(r'<meta http-equiv="refresh" content="\d+;url=([^"]+)">')


def trigger_connected(webhooks: list[dict]) -> list[dict]:
    return [w for w in webhooks if w["subscriptions"] == ["conditional_ticket_events"]]


def test_an_admin_connects_an_account_through_the_real_redirects(stack):
    stack.new_account("e2e-connect")

    connection = connect(stack.url, "e2e-connect")

    assert connection.page.status_code == 200
    assert "e2e-connect.zendesk.com is connected by Ada Admin" in connection.page.text
    zendesk = stack.zendesk_account("e2e-connect")
    (webhook,) = trigger_connected(zendesk["webhooks"])
    assert webhook["endpoint"] == f"{stack.url}/webhooks/zendesk/e2e-connect"
    (trigger,) = zendesk["triggers"]
    assert trigger["actions"][0]["value"][0] == webhook["id"]
    secret = stack.aws("secretsmanager").get_secret_value(SecretId=f"{stack.info['secret_prefix']}e2e-connect")
    assert json.loads(secret["SecretString"])["auth_method"] == "oauth"
    rosters = stack.aws("dynamodb").query(
        TableName=stack.info["table"], KeyConditionExpression="pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues={":pk": {"S": "ACCOUNT#e2e-connect"}, ":r": {"S": "ROSTER#"}})["Items"]
    names = {r["group_name"]["S"]: [m["M"]["name"]["S"] for m in r["members"]["L"]] for r in rosters}
    assert names["Billing"] == ["Dev Agent", "Eve Agent", "Ivy Agent"]


def test_reconnecting_does_not_duplicate_the_webhook_or_trigger(stack):
    stack.new_account("e2e-reconnect")
    assert connect(stack.url, "e2e-reconnect").page.status_code == 200

    again = connect(stack.url, "e2e-reconnect")

    assert again.page.status_code == 200 and "reconnected" in again.page.text
    zendesk = stack.zendesk_account("e2e-reconnect")
    assert len(zendesk["webhooks"]) == 2 and len(zendesk["triggers"]) == 1  # trigger-connected, event-subscribed


def test_denied_consent_shows_a_page_saying_so(stack):
    stack.new_account("e2e-deny")

    connection = connect(stack.url, "e2e-deny", decision="deny")

    assert connection.page.status_code == 403
    assert "declined" in connection.page.text
    assert stack.zendesk_account("e2e-deny")["webhooks"] == []


def test_a_non_admin_cannot_connect(stack):
    account = stack.new_account("e2e-agent")
    ivy = next(u for u in account["users"] if u["name"] == "Ivy Agent")

    connection = connect(stack.url, "e2e-agent", user_id=ivy["id"])

    assert connection.page.status_code == 403 and "administrator" in connection.page.text
    # The service cannot revoke the grant (Zendesk needs the broad write scope): it stays until it lapses
    assert "never stored" in connection.page.text and "OAuth clients" in connection.page.text
    assert stack.zendesk_account("e2e-agent")["oauth_tokens"] == 1
    assert not [r for r in stack.zendesk_requests("e2e-agent") if r["method"] == "DELETE"]


def test_a_double_click_on_allow_connects_once_with_one_webhook_and_one_trigger(stack):
    # given two approvals whose callbacks arrive at once (two execution environments of the callback)
    stack.new_account("e2e-double")
    browser = requests.Session()
    callbacks = [approve(browser, stack.url, "e2e-double") for _ in range(2)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = list(pool.map(lambda url: requests.get(url, allow_redirects=False, timeout=60), callbacks))

    assert [p.status_code for p in pages] == [200, 200], [p.text for p in pages]
    zendesk = stack.zendesk_account("e2e-double")
    (webhook,) = trigger_connected(zendesk["webhooks"])
    assert len(zendesk["webhooks"]) == 2  # and one event-subscribed
    (trigger,) = zendesk["triggers"]
    assert trigger["actions"][0]["value"][0] == webhook["id"]
    secret = stack.aws("secretsmanager").get_secret_value(SecretId=f"{stack.info['secret_prefix']}e2e-double")
    assert json.loads(secret["SecretString"])["webhook"]["id"] == webhook["id"]


def test_a_bad_subdomain_is_refused_without_redirect(stack):
    import requests

    answer = requests.get(f"{stack.url}/oauth/start", params={"subdomain": "acme.zendesk.com.evil.com"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_no_token_code_state_or_secret_reaches_the_logs(stack):
    # given a whole connect flow, logged at DEBUG
    stack.new_account("e2e-logs")
    connection = connect(stack.url, "e2e-logs")
    assert connection.page.status_code == 200
    secrets_client = stack.aws("secretsmanager")
    stored = json.loads(secrets_client.get_secret_value(
        SecretId=f"{stack.info['secret_prefix']}e2e-logs")["SecretString"])
    signing_secrets = json.loads(secrets_client.get_secret_value(
        SecretId=f"{stack.info['environment']['WEBHOOK_SECRET_PREFIX']}e2e-logs")["SecretString"])
    assert len(signing_secrets) == 2  # the trigger-connected and the event-subscribed webhook's
    state_key = next(secrets_client.get_secret_value(SecretId=s["ARN"])["SecretString"]
                     for s in secrets_client.list_secrets()["SecretList"] if s["Name"].endswith("StateKeySecret"))
    client_secret = next(secrets_client.get_secret_value(SecretId=s["ARN"])["SecretString"]
                         for s in secrets_client.list_secrets()["SecretList"]
                         if s["Name"].endswith("zendesk-client-secret"))
    values = {
        "authorization code": connection.code,
        "state": connection.state,
        "access token": stored["tokens"]["access_token"],
        "refresh token": stored["tokens"]["refresh_token"],
        **{f"webhook signing secret {n}": secret for n, secret in enumerate(signing_secrets.values())},
        "PKCE state key": state_key,
        "OAuth client secret": client_secret,
    }

    # when the stack's whole output is read
    logs = stack.log_text()

    # then it holds the flow (so the search means something) and none of the values; the assertions name
    # what leaked, never the value or the log text
    shows_the_flow = "account connected" in logs and "GET /oauth/callback 200" in logs
    assert shows_the_flow, "the stack's log does not show the connect flow"
    leaked = [name for name, value in values.items() if value and value in logs]
    assert leaked == []


@pytest.fixture(scope="module")
def stack_importing_later(tmp_path_factory):
    """A stack whose callback reads no agents at all: every import goes on in a maintenance job."""
    with running_stack(tmp_path_factory.mktemp("import-later") / "stack.log", CONNECT_IMPORT_SECONDS="0") as started:
        yield started


def test_an_import_that_outlives_the_callback_shows_its_progress_then_its_result(stack_importing_later):
    stack = stack_importing_later
    stack.new_account("e2e-import")
    stack.sandbox_control("e2e-import", "bulk-agents", {"agents": 300, "group_size": 100})

    connection = connect(stack.url, "e2e-import")

    # the admin sees the connection at once, and a page that follows the import by reloading itself
    assert connection.page.status_code == 200, connection.page.text
    assert "e2e-import.zendesk.com is connected by Ada Admin" in connection.page.text
    assert "Importing agents" in connection.page.text
    target = urljoin(connection.page.url, REFRESH.search(connection.page.text).group(1))
    assert target.startswith(f"{stack.url}/oauth/import?id=")

    def followed():  # what the browser does on each meta refresh
        page = requests.get(target, timeout=30)
        assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
        return page if "Agents imported" in page.text else None

    done = wait_for(followed, timeout=120, what="the import job to finish")
    assert "306 agents of e2e-import.zendesk.com are in rotation, in 5 group(s)" in done.text
    assert "<td>Team 3</td><td>100</td>" in done.text and "refresh" not in done.text
    unknown = requests.get(f"{stack.url}/oauth/import", params={"id": "x" * 43}, timeout=30)
    assert unknown.status_code == 404 and "e2e-import" not in unknown.text
