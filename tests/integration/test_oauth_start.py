import json
from urllib.parse import parse_qs, urlsplit

import pytest

from round_robin.connect.pkce import code_challenge, code_verifier_for, state_key
from tests.integration.conftest import PUBLIC_BASE_URL
from tests.integration.flows import start
from tests.support.lambda_env import load_handler
from tests.support.zendesk import BASE


@pytest.fixture
def handler(aws_env):
    return load_handler("oauth_start")


@pytest.mark.parametrize("subdomain", ["acme", "acme.zendesk.com", "https://acme.zendesk.com"])
def test_start_redirects_to_the_accounts_authorize_url_with_pkce(aws_env, handler, subdomain):
    answer = start(handler, subdomain)

    assert answer["statusCode"] == 302
    assert answer["headers"]["Cache-Control"] == "no-store"
    location = urlsplit(answer["headers"]["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{BASE}/acme/oauth/authorizations/new"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"]
    assert query["redirect_uri"] == f"{PUBLIC_BASE_URL}/oauth/callback"
    assert query["scope"] == "read tickets:write webhooks:write triggers:write"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == code_challenge(code_verifier_for(query["state"], aws_env.state_key.encode()))


def test_start_stores_one_state_bound_to_the_subdomain_and_only_its_hash(aws_env, handler):
    state = parse_qs(urlsplit(start(handler)["headers"]["Location"]).query)["state"][0]

    (item,) = aws_env.items()
    assert item["pk"]["S"] == f"STATE#{state_key(state)}"
    assert item["subdomain"]["S"] == "acme"
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) == 600
    assert int(item["ttl"]["N"]) == int(item["expires_at"]["N"])
    assert state not in json.dumps(item)


@pytest.mark.parametrize("subdomain", [
    "evil.com/", "acme.zendesk.com.evil.com", "a..b", "", "x" * 200, "ünïcode", "https://evil.com", None,
])
def test_a_bad_subdomain_gets_400_no_redirect_and_nothing_stored(aws_env, handler, subdomain):
    answer = start(handler, subdomain)

    assert answer["statusCode"] == 400
    assert "Location" not in answer["headers"]
    assert answer["headers"]["Content-Type"].startswith("text/html")
    assert "Zendesk subdomain" in answer["body"]
    assert aws_env.items() == []
