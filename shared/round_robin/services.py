"""Wiring: builds the service objects once per cold start from Settings, lazily, with cached AWS clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

from aws_lambda_powertools.utilities import parameters

from round_robin import aws
from round_robin.connect import Connector
from round_robin.oauth import OAuthClient
from round_robin.oauth_state import StateStore
from round_robin.registry import AccountRegistry
from round_robin.rosters import RosterStore
from round_robin.settings import Settings, get_settings
from round_robin.vault import TokenVault
from round_robin.zendesk import ZendeskClient, new_session

SECRET_CACHE_SECONDS = 300


def client_secret(settings: Settings) -> str:
    """The OAuth client secret: the secret's plain string, or its `client_secret` key if it holds JSON."""
    raw = str(parameters.get_secret(settings.client_secret_arn, max_age=SECRET_CACHE_SECONDS))
    if raw.lstrip().startswith("{"):
        return str(json.loads(raw)["client_secret"])
    return raw


@lru_cache(maxsize=1)
def http_session():
    return new_session()


@lru_cache(maxsize=1)
def vault() -> TokenVault:
    return TokenVault(get_settings().secret_prefix, aws.client("secretsmanager"))


def zendesk_factory(settings: Settings, *, max_retry_wait: float) -> Callable[[str, Callable[[], str]], ZendeskClient]:
    """Makes ZendeskClients for an account, with the Marketplace headers when configured."""
    extra = settings.marketplace.as_headers() if settings.marketplace else {}

    def make(subdomain: str, authorization: Callable[[], str]) -> ZendeskClient:
        return ZendeskClient(
            settings.zendesk_base_url(subdomain), authorization, session=http_session(),
            extra_headers=extra, max_retry_wait=max_retry_wait,
        )

    return make


@lru_cache(maxsize=1)
def connector() -> Connector:
    settings = get_settings()
    dynamodb = aws.client("dynamodb")
    state_key = str(parameters.get_secret(settings.state_key_secret_arn, max_age=SECRET_CACHE_SECONDS))
    return Connector(
        settings=settings,
        states=StateStore(settings.table_name, dynamodb),
        vault=vault(),
        registry=AccountRegistry(settings.table_name, dynamodb),
        rosters=RosterStore(settings.table_name, dynamodb),
        oauth=OAuthClient(
            base_url_for=settings.zendesk_base_url,
            client_id=settings.client_id,
            client_secret=lambda: client_secret(settings),  # read only when a token is requested
            session=http_session(),
        ),
        # The callback runs behind API Gateway's 30 s limit: wait out only short Retry-After values.
        zendesk=zendesk_factory(settings, max_retry_wait=8),
        state_key=state_key.encode(),
    )
