"""What the service asks of Zendesk's token endpoint: the lifetimes, on every grant, and the expiry it records
when Zendesk's answer leaves `expires_in` out. The lifetimes come from settings, validated at cold start."""

import json

import pytest
import requests
import responses

from round_robin.errors import SettingsError
from round_robin.settings import load_settings
from round_robin.zendesk.oauth import OAuthClient

TOKEN_URL = "https://acme.zendesk.com/oauth/tokens"
REQUIRED = {"TABLE_NAME": "t", "SECRET_PREFIX": "p/", "ZENDESK_CLIENT_ID": "rr", "ZENDESK_CLIENT_SECRET_ARN": "arn:s",
            "STATE_KEY_SECRET_ARN": "arn:k"}


class Clock:
    """Moves by `step` at every reading, as time does across a request."""

    def __init__(self, start: float, step: float) -> None:
        self.now, self.step = start, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now - self.step


def make_client(clock=lambda: 100.0, **lifetimes):
    return OAuthClient(base_url_for=lambda sub: f"https://{sub}.zendesk.com", client_id="rr",
                       client_secret=lambda: "client-secret", session=requests.Session(), clock=clock,
                       sleep=lambda _: None, **lifetimes)


@responses.activate
def test_both_grants_ask_for_the_configured_lifetimes():
    responses.post(TOKEN_URL, json={"access_token": "a", "refresh_token": "r", "expires_in": 600,
                                    "refresh_token_expires_in": 691200, "scope": "read"})
    client = make_client(access_lifetime=600, refresh_lifetime=691200)

    client.exchange_code("acme", code="c", code_verifier="v" * 43, redirect_uri="https://x/cb")
    client.refresh("acme", "r")

    for call in responses.calls:
        sent = json.loads(call.request.body)
        assert (sent["expires_in"], sent["refresh_token_expires_in"]) == (600, 691200)


@responses.activate
def test_the_default_lifetimes_are_zendesks_defaults():
    responses.post(TOKEN_URL, json={"access_token": "a", "refresh_token": "r", "expires_in": 1800})
    make_client().refresh("acme", "r")
    sent = json.loads(responses.calls[0].request.body)
    assert (sent["expires_in"], sent["refresh_token_expires_in"]) == (1800, 2592000)


@responses.activate
def test_an_answer_without_expires_in_records_the_lifetime_asked_for_counted_from_the_request():
    # Zendesk applies and enforces the expiry asked for (support.zendesk.com/hc/en-us/articles/9182123625370)
    # and has been seen to leave `expires_in` out of its answer.
    responses.post(TOKEN_URL, json={"access_token": "a2", "refresh_token": "r2", "scope": "read"})

    tokens = make_client(clock=Clock(1000.0, 5.0), access_lifetime=300, refresh_lifetime=604800).refresh("acme", "r1")

    assert tokens.access_expires_at == 1300.0 and tokens.refresh_expires_at == 1000.0 + 604800
    assert tokens.issued_at == 1000.0


@responses.activate
def test_the_expiry_zendesk_answers_is_counted_from_when_the_request_was_sent():
    responses.post(TOKEN_URL, json={"access_token": "a2", "refresh_token": "r2", "expires_in": 300,
                                    "refresh_token_expires_in": 604800})
    tokens = make_client(clock=Clock(1000.0, 5.0), access_lifetime=300, refresh_lifetime=604800).refresh("acme", "r1")
    assert tokens.access_expires_at == 1300.0  # never later than Zendesk's own


def test_lifetime_settings_default_to_zendesks_defaults():
    settings = load_settings(REQUIRED)
    assert (settings.access_token_lifetime, settings.refresh_token_lifetime) == (1800, 2592000)


@pytest.mark.parametrize(("name", "value"), [
    ("ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS", "299"), ("ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS", "172801"),
    ("ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS", "half an hour"), ("ZENDESK_REFRESH_TOKEN_LIFETIME_SECONDS", "604799"),
    ("ZENDESK_REFRESH_TOKEN_LIFETIME_SECONDS", "7776001"),
])
def test_a_lifetime_outside_zendesks_bounds_fails_at_start_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**REQUIRED, name: value})

