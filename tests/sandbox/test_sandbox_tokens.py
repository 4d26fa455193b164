"""The sandbox's token endpoint as Zendesk documents it: lifetimes asked for and their bounds, `expires_in`
only when asked, a log of token requests without secrets, and the control that expires access tokens early."""

from __future__ import annotations

import json

import pytest
from werkzeug.test import Client

from round_robin_local.sandbox.app import SandboxApp
from round_robin_local.sandbox.model import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from tests.sandbox.test_sandbox import auth, authorize, exchange, token


@pytest.fixture
def zendesk():
    sandbox = Sandbox(auto_approve=True)
    sandbox.create_account("acme")
    app = SandboxApp(sandbox)
    yield sandbox, Client(app)
    app.dispatcher.shutdown()


def refresh(client, refresh_token, **extra):
    return client.post("/acme/oauth/tokens", json={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                   "client_id": DEFAULT_CLIENT_ID,
                                                   "client_secret": DEFAULT_CLIENT_SECRET, **extra})


def me(client, access_token):
    return client.get("/acme/api/v2/users/me.json", headers=auth(access_token))


def test_expires_in_is_answered_only_when_asked_for_and_the_expiry_is_enforced_either_way(zendesk):
    sandbox, client = zendesk
    silent = token(client)
    assert "expires_in" not in silent and silent["refresh_token_expires_in"] == pytest.approx(30 * 86400, abs=2)
    current = client.get("/acme/api/v2/oauth/tokens/current.json", headers=auth(silent["access_token"])).json
    assert current["token"]["expires_at"] is not None  # the real expiry, 30 minutes by default

    asked = token(client, expires_in=600, refresh_token_expires_in=8 * 86400)
    assert asked["expires_in"] == pytest.approx(600, abs=2)
    assert asked["refresh_token_expires_in"] == pytest.approx(8 * 86400, abs=2)
    renewed = refresh(client, asked["refresh_token"], expires_in=300, refresh_token_expires_in=7 * 86400).json
    assert renewed["expires_in"] == pytest.approx(300, abs=2)

    sandbox.clock.offset += 301
    assert me(client, renewed["access_token"]).status_code == 401


@pytest.mark.parametrize("lifetimes", [
    {"expires_in": 299}, {"expires_in": 172_801}, {"expires_in": "soon"},
    {"refresh_token_expires_in": 604_799}, {"refresh_token_expires_in": 7_776_001},
    {"expires_in": 172_800, "refresh_token_expires_in": 172_800},
])
def test_lifetimes_outside_zendesks_bounds_are_refused(zendesk, lifetimes):
    _, client = zendesk

    answer = exchange(client, authorize(client)["code"], **lifetimes)

    assert answer.status_code == 400 and answer.json["error"] == "invalid_request"


def test_the_bounds_themselves_are_allowed(zendesk):
    _, client = zendesk
    shortest = exchange(client, authorize(client)["code"], expires_in=300, refresh_token_expires_in=604_800)
    longest = exchange(client, authorize(client)["code"], expires_in=172_800, refresh_token_expires_in=7_776_000)
    assert shortest.status_code == 200 and longest.status_code == 200


def test_the_token_log_counts_grants_and_refusals_without_secrets(zendesk):
    _, client = zendesk
    first = token(client)
    second = refresh(client, first["refresh_token"]).json
    assert refresh(client, first["refresh_token"]).json["error"] == "invalid_grant"  # spent by the rotation

    log = client.get("/_sandbox/accounts/acme/token-requests").json["token_requests"]

    assert [(r["grant_type"], r["status"], r["error"]) for r in log] == [
        ("authorization_code", 200, None), ("refresh_token", 200, None), ("refresh_token", 400, "invalid_grant")]
    text = json.dumps(log)
    assert all(secret not in text for secret in (first["access_token"], first["refresh_token"],
                                                 second["access_token"], second["refresh_token"]))


def test_expiring_access_tokens_early_refuses_them_and_keeps_their_refresh_tokens(zendesk):
    _, client = zendesk
    first = token(client, expires_in=1800)
    assert me(client, first["access_token"]).status_code == 200

    assert client.post("/_sandbox/accounts/acme/expire-tokens").json == {"expired": 1}

    assert me(client, first["access_token"]).status_code == 401
    renewed = refresh(client, first["refresh_token"])
    assert renewed.status_code == 200 and me(client, renewed.json["access_token"]).status_code == 200
