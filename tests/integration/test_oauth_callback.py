import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from round_robin.accounts.credentials import Credentials
from round_robin.connect.states import StateStore
from round_robin_local.sandbox.server import SandboxApp
from tests.integration.conftest import PREFIX, PUBLIC_BASE_URL, WEBHOOK_PREFIX
from tests.integration.flows import callback, connect, consent, start
from tests.support.lambda_env import load_handler


@pytest.fixture
def handlers(aws_env):
    return load_handler("oauth_start"), load_handler("oauth_callback")


def stored_credentials(aws_env, subdomain="acme"):
    value = aws_env.secretsmanager.get_secret_value(SecretId=f"{PREFIX}{subdomain}")["SecretString"]
    return Credentials.from_json(value)


def items_by_sk(aws_env):
    return {i["sk"]["S"]: i for i in aws_env.items()}


def assert_nothing_stored(aws_env):
    assert aws_env.items() == []
    assert aws_env.account_secrets() == []


def test_connecting_stores_tokens_account_and_rosters_and_sets_up_zendesk(aws_env, zendesk, handlers):
    # when
    page, answer = connect(*handlers, zendesk)

    # then: a page listing what was done
    assert page["statusCode"] == 200, page["body"]
    assert "acme.zendesk.com is connected by Ada Admin" in page["body"]
    assert "Ben Agent, Cleo Agent" in page["body"] and "Finn" not in page["body"]
    assert page["headers"]["Referrer-Policy"] == "no-referrer"

    # the token set in the account's secret
    credentials = stored_credentials(aws_env)
    account = zendesk.account()
    token = next(iter(account.tokens.values()))
    assert credentials.auth_method == "oauth"
    assert credentials.tokens.access_token == token.access_token
    assert credentials.tokens.refresh_token == token.refresh_token
    assert credentials.tokens.access_expires_at == pytest.approx(token.expires_at, abs=2)
    assert credentials.tokens.refresh_expires_at == pytest.approx(token.refresh_expires_at, abs=2)
    assert credentials.tokens.scope == "read tickets:write webhooks:write triggers:write"
    assert credentials.connected_user_id == zendesk.user("Ada Admin")["id"]

    # the project's webhook and trigger in Zendesk; the signing secret in its own secret, not with the tokens
    (webhook,) = account.webhooks.values()
    assert webhook["endpoint"] == f"{PUBLIC_BASE_URL}/webhooks/zendesk/acme"
    assert webhook["subscriptions"] == ["conditional_ticket_events"]
    assert credentials.webhook_id == webhook["id"]
    signing_secrets = json.loads(aws_env.secretsmanager.get_secret_value(
        SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    assert signing_secrets == {webhook["id"]: account.webhook_secrets[webhook["id"]]}
    assert credentials.webhook_secret is None
    (trigger,) = account.triggers.values()
    assert {"field": "update_type", "operator": "is", "value": "Create"} in trigger["conditions"]["all"]
    assert trigger["actions"][0]["value"][0] == webhook["id"]

    # the account record and the rosters
    items = items_by_sk(aws_env)
    record = items["ACCOUNT"]
    assert record["status"]["S"] == "connected" and record["auth_method"]["S"] == "oauth"
    assert int(record["connected_user_id"]["N"]) == credentials.connected_user_id
    assert record["connected_user_name"]["S"] == "Ada Admin"
    assert int(record["connected_at"]["N"]) == int(record["first_connected_at"]["N"])
    group_ids = {g["name"]: str(g["id"]) for g in account.groups.values()}
    support = items[f"ROSTER#{group_ids['Support']}"]
    assert [m["M"]["name"]["S"] for m in support["members"]["L"]] == ["Ada Admin", "Ben Agent", "Cleo Agent"]
    assert int(support["position"]["N"]) == 0
    assert "ROSTER#*" in items
    assert not any(k.startswith("STATE") for k in items)  # the state was spent

    # no secret value in any DynamoDB item
    dumped = json.dumps(aws_env.items())
    for secret in (token.access_token, token.refresh_token, answer["code"], answer["state"],
                   signing_secrets[webhook["id"]], aws_env.state_key):
        assert secret not in dumped


def test_reconnecting_replaces_tokens_updates_zendesk_in_place_and_keeps_rotation_positions(aws_env, zendesk, handlers):
    # given a connected account whose Support rotation has advanced, and a new agent in Support
    connect(*handlers, zendesk)
    first = stored_credentials(aws_env)
    account = zendesk.account()
    support_id = next(g["id"] for g in account.groups.values() if g["name"] == "Support")
    aws_env.dynamodb.update_item(TableName=aws_env.table, Key={"pk": {"S": "ACCOUNT#acme"},
                                 "sk": {"S": f"ROSTER#{support_id}"}},
                                 UpdateExpression="SET #p = :p", ExpressionAttributeNames={"#p": "position"},
                                 ExpressionAttributeValues={":p": {"N": "5"}})
    newcomer = zendesk.sandbox.add_user(account, "Abe Newcomer", "agent")
    zendesk.sandbox.add_membership(account, newcomer["id"], support_id)

    # when
    page, _ = connect(*handlers, zendesk)

    # then
    assert page["statusCode"] == 200 and "reconnected" in page["body"]
    assert len(account.webhooks) == 1 and len(account.triggers) == 1
    second = stored_credentials(aws_env)
    assert second.tokens.access_token != first.tokens.access_token
    assert list(account.tokens) == [second.tokens.access_token]  # the replaced token was revoked in Zendesk
    assert second.webhook_id == first.webhook_id
    support = items_by_sk(aws_env)[f"ROSTER#{support_id}"]
    members = [m["M"]["name"]["S"] for m in support["members"]["L"]]
    assert members == ["Ada Admin", "Ben Agent", "Cleo Agent", "Abe Newcomer"]  # the newcomer joins at the end
    # The rotation position is kept: after 5 assignments Cleo was next (5 % 3), and Cleo is still next.
    assert members[int(support["position"]["N"]) % len(members)] == "Cleo Agent"
    assert "unchanged" in page["body"]


def test_reconnecting_recreates_a_webhook_and_trigger_deleted_in_zendesk(aws_env, zendesk, handlers):
    connect(*handlers, zendesk)
    account = zendesk.account()
    account.triggers.clear()
    account.webhooks.clear()

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 200
    assert len(account.webhooks) == 1 and len(account.triggers) == 1
    assert stored_credentials(aws_env).webhook_id in account.webhooks


@pytest.mark.parametrize("query", [
    {"code": "abc"},
    {"code": "abc", "state": "not-a-state"},
    {"code": "abc", "state": "A" * 43},
])
def test_a_missing_or_unknown_state_gets_400_and_nothing_stored(aws_env, zendesk, handlers, query):
    page = callback(handlers[1], query)
    assert page["statusCode"] == 400 and "sign-in link" in page["body"]
    assert_nothing_stored(aws_env)
    assert zendesk.calls("POST", "/oauth/tokens") == []


def test_an_expired_state_gets_400_and_nothing_stored(aws_env, zendesk, handlers):
    from round_robin.aws import clients

    state = StateStore(aws_env.table, clients.client("dynamodb")).create("acme", now=time.time() - 601)
    page = callback(handlers[1], {"code": "abc", "state": state})
    assert page["statusCode"] == 400 and "expired" in page["body"]
    assert_nothing_stored(aws_env)


def test_a_used_state_cannot_be_replayed(aws_env, zendesk, handlers):
    page, answer = connect(*handlers, zendesk)
    assert page["statusCode"] == 200
    tokens_before = stored_credentials(aws_env).tokens

    replay = callback(handlers[1], answer)

    assert replay["statusCode"] == 400 and "already used" in replay["body"]
    assert stored_credentials(aws_env).tokens == tokens_before


def test_denied_consent_gets_a_page_saying_so_and_spends_the_state(aws_env, zendesk, handlers):
    started = start(handlers[0])
    answer = consent(zendesk, started["headers"]["Location"], decision="deny")
    assert answer["error"] == "access_denied"

    page = callback(handlers[1], answer)

    assert page["statusCode"] == 403 and "declined" in page["body"]
    assert_nothing_stored(aws_env)
    assert callback(handlers[1], {"state": answer["state"], "code": "x"})["statusCode"] == 400


def test_a_non_admin_approver_gets_403_and_no_token_is_kept(aws_env, zendesk, handlers):
    ivy = zendesk.user("Ivy Agent")

    page, _ = connect(*handlers, zendesk, user_id=ivy["id"])

    assert page["statusCode"] == 403
    assert "administrator" in page["body"] and "Ivy Agent" in page["body"]
    assert_nothing_stored(aws_env)
    assert zendesk.account().tokens == {}  # revoked in Zendesk
    assert zendesk.account().webhooks == {}


def test_a_refused_token_exchange_gets_502_naming_the_problem(aws_env, zendesk, handlers):
    zendesk.override("POST", r"/oauth/tokens$", status=400,
                     body={"error": "invalid_grant", "error_description": "The code has expired"})

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 502
    assert "invalid_grant" in page["body"] and "The code has expired" in page["body"]
    assert_nothing_stored(aws_env)


def test_an_unreachable_zendesk_gets_502_and_nothing_stored(aws_env, zendesk, handlers):
    zendesk.override("POST", r"/oauth/tokens$", error=requests.ConnectionError("connection refused"))

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 502 and "could not be reached" in page["body"]
    assert_nothing_stored(aws_env)


def test_a_zendesk_failure_during_import_gets_502_stores_nothing_and_revokes_the_token(aws_env, zendesk, handlers):
    zendesk.override("GET", r"/api/v2/group_memberships", status=503)

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 502 and "503" in page["body"]
    assert_nothing_stored(aws_env)
    assert zendesk.account().tokens == {}


def test_an_authorization_code_works_once(aws_env, zendesk, handlers):
    # Zendesk's codes are single-use: a second exchange of the same code is refused by the sandbox
    started = start(handlers[0])
    answer = consent(zendesk, started["headers"]["Location"])
    assert callback(handlers[1], answer)["statusCode"] == 200
    location = start(handlers[0])["headers"]["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    page = callback(handlers[1], {"code": answer["code"], "state": state})
    assert page["statusCode"] == 502 and "invalid_grant" in page["body"]


def test_sandbox_app_is_what_serves_zendesk(zendesk):
    assert isinstance(zendesk.app, SandboxApp)
