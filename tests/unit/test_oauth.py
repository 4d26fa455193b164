from urllib.parse import parse_qs, urlsplit

import pytest

from round_robin.accounts.credentials import TokenSet
from round_robin.connect.pkce import (
    authorize_url,
    check_state_format,
    code_challenge,
    code_verifier_for,
    new_state,
    state_key,
)
from round_robin.errors import OAuthError, StateError
from round_robin.zendesk.oauth import SCOPES


def test_states_are_long_random_and_url_safe():
    states = {new_state() for _ in range(1000)}
    assert len(states) == 1000
    for state in list(states)[:50]:
        assert len(state) == 43  # 32 bytes = 256 bits, base64url without padding
        assert check_state_format(state) == state


@pytest.mark.parametrize("bad", [None, "", "short", "x" * 44, "a" * 42 + "!", "../" * 15])
def test_malformed_states_are_refused_before_any_lookup(bad):
    with pytest.raises(StateError):
        check_state_format(bad)


def test_state_is_stored_only_as_its_hash():
    state = new_state()
    key = state_key(state)
    assert state not in key and len(key) == 64


def test_pkce_challenge_matches_rfc7636_appendix_b():
    verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert code_challenge(verifier) == challenge


def test_verifier_is_bound_to_state_and_server_key():
    state = new_state()
    verifier = code_verifier_for(state, b"key-one")
    assert verifier == code_verifier_for(state, b"key-one")
    assert verifier != code_verifier_for(state, b"key-two")
    assert verifier != code_verifier_for(new_state(), b"key-one")
    assert 43 <= len(verifier) <= 128 and check_state_format(verifier)  # RFC 7636 unreserved characters


def test_authorize_url_carries_pkce_and_only_the_needed_scopes():
    url = authorize_url("https://acme.zendesk.com", client_id="rr", redirect_uri="https://rr.example.com/oauth/callback",
                        state="s" * 43, challenge="c" * 43)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "acme.zendesk.com", "/oauth/authorizations/new")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code", "client_id": "rr", "redirect_uri": "https://rr.example.com/oauth/callback",
        "scope": "read tickets:write webhooks:write triggers:write", "state": "s" * 43,
        "code_challenge": "c" * 43, "code_challenge_method": "S256",
    }
    assert "write" not in SCOPES  # no broad write scope


def test_token_set_computes_absolute_expiry_and_refreshes_early():
    tokens = TokenSet.from_response(
        {"access_token": "a1", "refresh_token": "r1", "expires_in": 1800, "refresh_token_expires_in": 2592000,
         "scope": "read", "token_type": "Bearer"}, now=1000.0)
    assert tokens.access_expires_at == 2800.0 and tokens.refresh_expires_at == 2593000.0
    assert tokens.token_type == "bearer"
    assert not tokens.is_expired(now=2700.0, leeway=60)
    assert tokens.is_expired(now=2741.0, leeway=60)


def test_a_refresh_answer_without_refresh_token_keeps_the_previous_one():
    tokens = TokenSet.from_response({"access_token": "a2"}, now=0.0, previous_refresh="r1")
    assert tokens.refresh_token == "r1" and tokens.access_expires_at is None
    assert tokens.with_expiry(10.0, 20.0).access_expires_at == 10.0


def test_token_set_round_trips_and_never_shows_tokens_in_repr():
    tokens = TokenSet("secret-access", "secret-refresh", 1.0, 2.0, "read")
    assert TokenSet.from_dict(tokens.to_dict()) == tokens
    assert "secret" not in repr(tokens)


def test_an_answer_without_access_token_is_an_oauth_error():
    with pytest.raises(OAuthError) as caught:
        TokenSet.from_response({"token_type": "bearer"}, now=0.0)
    assert caught.value.error == "invalid_response"
