import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from round_robin.accounts.credentials import Credentials
from round_robin.aws.leases import LeaseStore
from round_robin.connect.states import StateStore
from round_robin.zendesk.event_types import SUBSCRIBED
from round_robin_local.sandbox.app import SandboxApp
from tests.integration.conftest import PREFIX, PUBLIC_BASE_URL, WEBHOOK_PREFIX
from tests.integration.flows import callback, connect, consent, start
from tests.integration.helpers import add_hooks
from tests.support.lambda_env import load_handler


@pytest.fixture
def handlers(aws_env):
    return load_handler("oauth_start"), load_handler("oauth_callback")


def stored_credentials(aws_env, subdomain="acme"):
    value = aws_env.secretsmanager.get_secret_value(SecretId=f"{PREFIX}{subdomain}")["SecretString"]
    return Credentials.from_json(value)


def secret_values(aws_env, subdomain="acme"):
    """Every version of the account's secret that Secrets Manager still keeps."""
    name = f"{PREFIX}{subdomain}"
    versions = aws_env.secretsmanager.list_secret_version_ids(SecretId=name)["Versions"]
    return [aws_env.secretsmanager.get_secret_value(SecretId=name, VersionId=v["VersionId"])["SecretString"]
            for v in versions if v.get("VersionStages")]


def items_by_sk(aws_env):
    return {i["sk"]["S"]: i for i in aws_env.items()}


def assert_nothing_stored(aws_env):
    """Nothing of the account: the only items left are spent sign-in states (their hash marked `used_at`, kept
    until their 10-minute TTL so that a replay is recognised; no secret)."""
    leftovers = [i for i in aws_env.items() if not (i["pk"]["S"].startswith("STATE#") and "used_at" in i)]
    assert leftovers == []
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

    # the project's two webhooks and trigger in Zendesk; both signing secrets in their own secret, not with the
    # tokens
    (webhook,), (events,) = hooks_in_zendesk(zendesk)[0], events_webhooks_in_zendesk(zendesk)
    assert webhook["endpoint"] == events["endpoint"] == f"{PUBLIC_BASE_URL}/webhooks/zendesk/acme"
    assert webhook["subscriptions"] == ["conditional_ticket_events"]
    assert sorted(events["subscriptions"]) == sorted(SUBSCRIBED)
    assert credentials.webhook_id == webhook["id"]
    signing_secrets = json.loads(aws_env.secretsmanager.get_secret_value(
        SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    assert signing_secrets == {webhook["id"]: account.webhook_secrets[webhook["id"]],
                               events["id"]: account.webhook_secrets[events["id"]]}
    assert credentials.webhook_secret is None
    (trigger,) = account.triggers.values()
    assert {"field": "update_type", "operator": "is", "value": "Create"} in trigger["conditions"]["all"]
    assert trigger["actions"][0]["value"][0] == webhook["id"]

    # the account record and the rosters
    items = items_by_sk(aws_env)
    record = items["ACCOUNT"]
    assert record["status"]["S"] == "connected" and record["auth_method"]["S"] == "oauth"
    assert record["events_webhook_id"]["S"] == events["id"]
    assert int(record["connected_user_id"]["N"]) == credentials.connected_user_id
    assert record["connected_user_name"]["S"] == "Ada Admin"
    assert int(record["connected_at"]["N"]) == int(record["first_connected_at"]["N"])
    group_ids = {g["name"]: str(g["id"]) for g in account.groups.values()}
    support = items[f"ROSTER#{group_ids['Support']}"]
    assert [m["M"]["name"]["S"] for m in support["members"]["L"]] == ["Ada Admin", "Ben Agent", "Cleo Agent"]
    rotation = items[f"ROTATION#{group_ids['Support']}"]  # a new rotation: nobody assigned yet
    assert int(rotation["sequence"]["N"]) == 0 and "last_agent_id" not in rotation
    assert "ROSTER#*" in items
    states = [i for i in aws_env.items() if i["pk"]["S"].startswith("STATE#")]
    assert states and all("used_at" in i for i in states)  # the state was spent (kept as a used hash until its TTL)

    # no secret value in any DynamoDB item
    dumped = json.dumps(aws_env.items())
    for secret in (token.access_token, token.refresh_token, answer["code"], answer["state"],
                   signing_secrets[webhook["id"]], signing_secrets[events["id"]], aws_env.state_key):
        assert secret not in dumped


def test_reconnecting_replaces_tokens_updates_zendesk_in_place_and_keeps_rotation_positions(aws_env, zendesk, handlers):
    # given a connected account whose Support rotation has advanced, stored as before rotations had their own
    # item (a counter on the roster), and a new agent in Support
    connect(*handlers, zendesk)
    first = stored_credentials(aws_env)
    first_events_id = items_by_sk(aws_env)["ACCOUNT"]["events_webhook_id"]["S"]
    account = zendesk.account()
    support_id = next(g["id"] for g in account.groups.values() if g["name"] == "Support")
    key = {"pk": {"S": "ACCOUNT#acme"}}
    aws_env.dynamodb.delete_item(TableName=aws_env.table, Key={**key, "sk": {"S": f"ROTATION#{support_id}"}})
    aws_env.dynamodb.update_item(TableName=aws_env.table, Key={**key, "sk": {"S": f"ROSTER#{support_id}"}},
                                 UpdateExpression="SET #p = :p REMOVE #v",
                                 ExpressionAttributeNames={"#p": "position", "#v": "version"},
                                 ExpressionAttributeValues={":p": {"N": "5"}})
    newcomer = zendesk.sandbox.add_user(account, "Abe Newcomer", "agent")
    zendesk.sandbox.add_membership(account, newcomer["id"], support_id)

    # when
    page, _ = connect(*handlers, zendesk)

    # then
    assert page["statusCode"] == 200 and "reconnected" in page["body"]
    assert len(account.webhooks) == 2 and len(account.triggers) == 1
    assert items_by_sk(aws_env)["ACCOUNT"]["events_webhook_id"]["S"] == first_events_id  # updated in place
    second = stored_credentials(aws_env)
    assert second.tokens.access_token != first.tokens.access_token
    # The service cannot revoke the replaced grant (Zendesk needs the broad `write` scope): it does not try, keeps
    # no copy of it (not even as the secret's previous version), and the grant lapses with its lifetime.
    assert zendesk.calls("DELETE", "/oauth/tokens") == []
    assert first.tokens.access_token in account.tokens
    assert not any(first.tokens.refresh_token in value for value in secret_values(aws_env))
    assert "OAuth clients" in page["body"]
    assert second.webhook_id == first.webhook_id
    support = items_by_sk(aws_env)[f"ROSTER#{support_id}"]
    members = [m["M"]["name"]["S"] for m in support["members"]["L"]]
    assert members == ["Ada Admin", "Ben Agent", "Cleo Agent", "Abe Newcomer"]  # the newcomer joins at the end
    # The rotation's place is kept: after 5 assignments (Ada, Ben, Cleo, Ada, Ben) Cleo was next, and still is.
    rotation = items_by_sk(aws_env)[f"ROTATION#{support_id}"]
    ids = [int(m["M"]["id"]["N"]) for m in support["members"]["L"]]
    last = ids.index(int(rotation["last_agent_id"]["N"]))
    assert members[(last + 1) % len(members)] == "Cleo Agent" and int(rotation["sequence"]["N"]) == 5
    assert "unchanged" in page["body"]


def test_reconnecting_recreates_a_webhook_and_trigger_deleted_in_zendesk(aws_env, zendesk, handlers):
    connect(*handlers, zendesk)
    account = zendesk.account()
    account.triggers.clear()
    account.webhooks.clear()

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 200
    assert len(account.webhooks) == 2 and len(account.triggers) == 1
    assert stored_credentials(aws_env).webhook_id in account.webhooks
    assert items_by_sk(aws_env)["ACCOUNT"]["events_webhook_id"]["S"] in account.webhooks


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


def test_a_double_click_on_allow_tells_the_second_tab_that_the_account_is_connected(aws_env, zendesk, handlers):
    # given the same approval arriving twice: the first callback connected the account
    page, answer = connect(*handlers, zendesk)
    assert page["statusCode"] == 200

    replay = callback(handlers[1], answer)

    # then the second one is still refused (the state is single-use), and says how the first one ended
    assert replay["statusCode"] == 400
    assert "acme.zendesk.com is connected by Ada Admin" in replay["body"] and "close this page" in replay["body"]


def test_a_state_replayed_long_after_its_use_gets_the_plain_answer(aws_env, zendesk, handlers, monkeypatch):
    from round_robin.connect import states

    page, answer = connect(*handlers, zendesk)
    assert page["statusCode"] == 200
    monkeypatch.setattr(states, "REPLAY_WINDOW", -1)  # as if the replay came minutes later

    replay = callback(handlers[1], answer)

    assert replay["statusCode"] == 400 and "unknown or was already used" in replay["body"]
    assert "is connected by" not in replay["body"]


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
    assert zendesk.account().webhooks == {}
    # The grant cannot be revoked with the service's scopes: not tried, never stored, and the page says so
    assert zendesk.calls("DELETE", "/oauth/tokens") == []
    (grant,) = zendesk.account().tokens.values()
    assert grant.user_id == ivy["id"]
    assert "never stored" in page["body"] and "Apps and integrations &gt; APIs &gt; OAuth clients" in page["body"]
    assert "was revoked" not in page["body"]


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


def test_a_zendesk_failure_during_import_gets_502_and_stores_nothing(aws_env, zendesk, handlers):
    zendesk.override("GET", r"/api/v2/group_memberships", status=503)

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 502 and "503" in page["body"]
    assert_nothing_stored(aws_env)
    assert zendesk.calls("DELETE", "/oauth/tokens") == []  # Zendesk would refuse it (403): not tried
    assert "was revoked" not in page["body"] and "never stored" in page["body"]


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


# -- connect races ---------------------------------------------------------------------------------------

def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)  # polling, bounded by the deadline


def hooks_in_zendesk(zendesk):
    """The trigger-connected webhooks of ours and the triggers."""
    account = zendesk.account()
    return ([w for w in account.webhooks.values() if w["subscriptions"] == ["conditional_ticket_events"]],
            list(account.triggers.values()))


def events_webhooks_in_zendesk(zendesk):
    return [w for w in zendesk.account().webhooks.values() if w["subscriptions"] != ["conditional_ticket_events"]]


def test_two_callbacks_at_once_both_succeed_and_leave_one_webhook_and_one_trigger(aws_env, zendesk, handlers,
                                                                                   monkeypatch):
    # given two approvals of one account (an admin double-clicking Allow), each with its own code
    first = consent(zendesk, start(handlers[0])["headers"]["Location"])
    second = consent(zendesk, start(handlers[0])["headers"]["Location"])
    refused = threading.Event()
    real_acquire = LeaseStore.acquire

    def watched_acquire(self, pk, name, owner, now, seconds):
        taken = real_acquire(self, pk, name, owner, now, seconds)
        if name == "connect" and not taken:
            refused.set()
        return taken

    monkeypatch.setattr(LeaseStore, "acquire", watched_acquire)
    results = {}
    other_environment = load_handler("oauth_callback")  # Lambda runs the second callback in another environment
    second_callback = threading.Thread(target=lambda: results.update(second=callback(other_environment, second)))

    def second_arrives():  # while the first is looking for its webhook in Zendesk
        second_callback.start()
        wait_until(lambda: refused.is_set() or "second" in results)

    zendesk.override("GET", r"/api/v2/webhooks$", status=200, times=1, action=second_arrives,
                     body={"webhooks": [], "meta": {"has_more": False}, "links": {}})

    # when
    results["first"] = callback(handlers[1], first)
    second_callback.join(timeout=30)

    # then both answer 200, and Zendesk has one webhook and one trigger, which the stored account uses
    assert results["first"]["statusCode"] == 200, results["first"]["body"]
    assert results["second"]["statusCode"] == 200, results["second"]["body"]
    webhooks, triggers = hooks_in_zendesk(zendesk)
    assert len(webhooks) == 1 and len(triggers) == 1
    assert triggers[0]["actions"][0]["value"][0] == webhooks[0]["id"]
    credentials = stored_credentials(aws_env)
    assert credentials.webhook_id == webhooks[0]["id"]
    (events,) = events_webhooks_in_zendesk(zendesk)
    signing = json.loads(aws_env.secretsmanager.get_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    assert signing == {webhooks[0]["id"]: zendesk.account().webhook_secrets[webhooks[0]["id"]],
                       events["id"]: zendesk.account().webhook_secrets[events["id"]]}
    record = items_by_sk(aws_env)["ACCOUNT"]
    assert record["events_webhook_id"]["S"] == events["id"]
    assert record["webhook_id"]["S"] == webhooks[0]["id"] and record["trigger_id"]["S"] == str(triggers[0]["id"])
    assert not any(sk.startswith("LEASE#") for sk in items_by_sk(aws_env))  # released


def test_a_callback_that_cannot_get_the_lease_in_time_gets_409_and_keeps_nothing(aws_env, zendesk, handlers,
                                                                                  monkeypatch):
    # given another connect of acme in progress (its lease held), and a short wait for the test
    from round_robin.aws import clients
    from round_robin.connect import lease

    monkeypatch.setattr(lease, "CONNECT_WAIT_SECONDS", 0.5)
    LeaseStore(aws_env.table, clients.client("dynamodb")).acquire("ACCOUNT#acme", "connect", "another-callback",
                                                                   time.time(), 60)

    # when
    page, _ = connect(*handlers, zendesk)

    # then
    assert page["statusCode"] == 409, page["body"]
    assert "connection of acme is already in progress" in page["body"]
    assert "open the connect link again in a minute" in page["body"]
    kept = [i["sk"]["S"] for i in aws_env.items() if not (i["pk"]["S"].startswith("STATE#") and "used_at" in i)]
    assert kept == ["LEASE#connect"]  # the other's lease, nothing of ours (the spent state aside)
    assert aws_env.account_secrets() == []
    assert zendesk.calls("POST", "/oauth/tokens") == []  # the code was not exchanged: no grant was made
    assert zendesk.account().webhooks == {} and zendesk.account().triggers == {}


def test_duplicates_left_by_an_earlier_race_are_removed_by_the_next_connect(aws_env, zendesk, handlers):
    # given a connected account, and a second webhook and trigger of ours that an earlier race left behind
    connect(*handlers, zendesk)
    known = stored_credentials(aws_env)
    known_trigger = items_by_sk(aws_env)["ACCOUNT"]["trigger_id"]["S"]
    duplicate = add_hooks(zendesk, known.tokens.access_token)

    # when
    page, _ = connect(*handlers, zendesk)

    # then the known ones are kept, the duplicates deleted
    assert page["statusCode"] == 200
    webhooks, triggers = hooks_in_zendesk(zendesk)
    assert [w["id"] for w in webhooks] == [known.webhook_id]
    assert [str(t["id"]) for t in triggers] == [known_trigger]
    assert triggers[0]["actions"][0]["value"][0] == known.webhook_id
    assert duplicate not in zendesk.account().webhooks


def test_a_first_connect_keeps_the_oldest_of_several_webhooks_and_points_the_trigger_at_it(aws_env, zendesk,
                                                                                           handlers):
    # given two webhooks and triggers of ours in Zendesk from failed connects, and no account stored
    ada = zendesk.sandbox.issue_token(zendesk.account(), "admin-tool", zendesk.user("Ada Admin")["id"],
                                      ["read", "write"])
    oldest = add_hooks(zendesk, ada.access_token)
    zendesk.sandbox.clock.offset += 5  # created later
    add_hooks(zendesk, ada.access_token)

    page, _ = connect(*handlers, zendesk)

    assert page["statusCode"] == 200
    webhooks, triggers = hooks_in_zendesk(zendesk)
    assert [w["id"] for w in webhooks] == [oldest]
    assert len(triggers) == 1 and triggers[0]["actions"][0]["value"][0] == oldest
    assert stored_credentials(aws_env).webhook_id == oldest



def test_a_reconnect_that_recreates_the_webhook_keeps_only_the_new_webhooks_signing_secret(aws_env, zendesk):
    # given a connected account whose webhook and trigger someone deleted in Zendesk
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)
    assert page["statusCode"] == 200
    model = zendesk.account()
    model.triggers.clear()
    ((old,), _), (events,) = hooks_in_zendesk(zendesk), events_webhooks_in_zendesk(zendesk)
    old_id = old["id"]
    del model.webhooks[old_id]

    # when an admin reconnects (a new webhook is created, with its own secret)
    page, _ = connect(load_handler("oauth_start"), load_handler("oauth_callback"), zendesk)

    # then only the new webhook's secret is accepted from now on
    assert page["statusCode"] == 200
    ((new,), _) = hooks_in_zendesk(zendesk)
    new_id = new["id"]
    stored = json.loads(aws_env.secretsmanager.get_secret_value(SecretId=f"{WEBHOOK_PREFIX}acme")["SecretString"])
    assert new_id != old_id and stored == {new_id: model.webhook_secrets[new_id],
                                           events["id"]: model.webhook_secrets[events["id"]]}
