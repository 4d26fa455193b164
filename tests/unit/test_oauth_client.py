import json

import pytest
import requests
import responses

from round_robin.errors import OAuthError, OAuthUnavailableError
from round_robin.zendesk.oauth import OAuthClient

TOKEN_URL = "https://acme.zendesk.com/oauth/tokens"


def make_client():
    return OAuthClient(base_url_for=lambda sub: f"https://{sub}.zendesk.com", client_id="rr",
                       client_secret=lambda: "client-secret", session=requests.Session(), clock=lambda: 100.0,
                       sleep=lambda _: None)


@responses.activate
def test_code_exchange_sends_secret_verifier_and_redirect_uri():
    responses.post(TOKEN_URL, json={"access_token": "a", "refresh_token": "r", "expires_in": 1800,
                                    "refresh_token_expires_in": 2592000, "scope": "read", "token_type": "bearer"})
    tokens = make_client().exchange_code("acme", code="the-code", code_verifier="v" * 43,
                                         redirect_uri="https://rr.example.com/oauth/callback")
    sent = json.loads(responses.calls[0].request.body)
    assert sent["grant_type"] == "authorization_code" and sent["code_verifier"] == "v" * 43
    assert sent["client_secret"] == "client-secret" and sent["redirect_uri"].endswith("/oauth/callback")
    assert tokens.access_expires_at == 1900.0 and tokens.refresh_token == "r"


@responses.activate
def test_a_refused_grant_carries_the_rfc6749_error():
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "expired"})
    with pytest.raises(OAuthError) as caught:
        make_client().exchange_code("acme", code="c", code_verifier="v" * 43, redirect_uri="https://x/cb")
    assert (caught.value.error, caught.value.description, caught.value.status) == ("invalid_grant", "expired", 400)
    assert len(responses.calls) == 1


@responses.activate
def test_a_gateway_error_is_retried_then_reported_unavailable():
    responses.post(TOKEN_URL, status=503)
    with pytest.raises(OAuthUnavailableError, match="503"):
        make_client().refresh("acme", "r1")
    assert len(responses.calls) == 3


@responses.activate
def test_a_read_timeout_is_not_retried_because_the_grant_may_be_spent():
    responses.post(TOKEN_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OAuthUnavailableError):
        make_client().refresh("acme", "r1")
    assert len(responses.calls) == 1


@responses.activate
def test_refresh_keeps_the_old_refresh_token_when_none_is_returned():
    responses.post(TOKEN_URL, json={"access_token": "a2", "expires_in": 300})
    tokens = make_client().refresh("acme", "r1")
    assert tokens.refresh_token == "r1"
    assert "client-secret" not in repr(make_client())
