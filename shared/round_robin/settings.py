"""Settings: read and validated once per cold start; a bad value fails fast naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from round_robin.errors import SettingsError

DEFAULT_URL_TEMPLATE = "https://{subdomain}.zendesk.com"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# The lifetimes Zendesk allows (support.zendesk.com/hc/en-us/articles/10212201463962): access tokens 5 min to
# 48 h, refresh tokens 7 to 90 days (so an access token always lives less long than its refresh token).
_LIFETIMES = {"ZENDESK_ACCESS_TOKEN_LIFETIME_SECONDS": (1800, 300, 172_800),
              "ZENDESK_REFRESH_TOKEN_LIFETIME_SECONDS": (2_592_000, 604_800, 7_776_000)}


@dataclass(frozen=True)
class MarketplaceHeaders:
    """The three headers Zendesk requires on every API call of a global OAuth client."""

    name: str
    organization_id: str
    app_id: str

    def as_headers(self) -> dict[str, str]:
        return {
            "X-Zendesk-Marketplace-Name": self.name,
            "X-Zendesk-Marketplace-Organization-Id": self.organization_id,
            "X-Zendesk-Marketplace-App-Id": self.app_id,
        }


@dataclass(frozen=True)
class Settings:
    table_name: str
    secret_prefix: str
    zendesk_url_template: str
    client_id: str
    client_secret_arn: str
    state_key_secret_arn: str
    public_base_url: str | None
    marketplace: MarketplaceHeaders | None
    queue_url: str | None = None  # the assignment queue (webhook receiver, worker, sweep)
    events_queue_url: str | None = None  # the events queue (webhook receiver, events function, CLI)
    maintenance_queue_url: str | None = None  # the maintenance queue (dispatcher -> per-account maintenance)
    dead_letter_queue_url: str | None = None  # the assignment queue's dead letters (the dispatcher clears done ones)
    batch_dead_letter_queue_url: str | None = None  # batch mode's dead letters (cleared the same way)
    batch_after_seconds: float = 5.0  # a ticket queued longer than this goes to batch mode (a burst)
    batch_queue_url: str | None = None  # the batch queue (assignment worker under a rate limit -> batch worker)
    webhook_secret_prefix: str | None = None  # webhook signing secrets (receiver, connect, maintenance)
    max_receive_count: int = 5  # the queue's redrive maxReceiveCount: the worker's retry budget
    zendesk_timeout: float = 10.0  # read timeout of Zendesk calls, seconds
    alerts_topic_arn: str | None = None  # SNS topic for operators (broken connections)
    maintenance_interval: float = 600.0  # seconds between scheduled maintenance runs
    sweep_min_age: float = 180.0  # the sweep queues unassigned tickets older than this (seconds)
    access_token_lifetime: int = 1800  # asked for on every token grant (Zendesk's default)
    refresh_token_lifetime: int = 2592000
    # Zendesk's Update Ticket limit per account (100 a minute, 300 with the High Volume add-on; people's updates in
    # Zendesk count too): the shared per-account pace (assignment/pace.py). The window is shortened only by tests.
    pace_ticket_updates: int = 100
    pace_window: float = 60.0
    # How long the OAuth callback reads agents from Zendesk before it leaves the rest of the import to a maintenance
    # job: what is left of API Gateway's 29 s after the code exchange, the admin check and the webhooks.
    connect_import_seconds: float = 8.0

    def zendesk_base_url(self, subdomain: str) -> str:
        """The account's base URL (no trailing slash): OAuth at `<base>/oauth/...`, API at `<base>/api/v2/...`."""
        return self.zendesk_url_template.replace("{subdomain}", subdomain).rstrip("/")


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


def _check_url(name: str, value: str) -> str:
    parts = urlsplit(value.replace("{subdomain}", "sub"))
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return value  # local development only
    raise SettingsError(f"environment variable {name} must be an https URL (http only on loopback), got {value!r}")


def _lifetimes(environ: Mapping[str, str]) -> tuple[int, int]:
    values = []
    for name, (default, low, high) in _LIFETIMES.items():
        raw = environ.get(name, "").strip() or str(default)
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise SettingsError(f"environment variable {name} must be a whole number of seconds from {low} to {high}")
        values.append(int(raw))
    return values[0], values[1]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment, raising SettingsError naming the first bad variable."""
    env = os.environ if environ is None else environ
    template = env.get("ZENDESK_URL_TEMPLATE", "").strip() or DEFAULT_URL_TEMPLATE
    if "{subdomain}" not in template:
        raise SettingsError("environment variable ZENDESK_URL_TEMPLATE must contain '{subdomain}'")
    _check_url("ZENDESK_URL_TEMPLATE", template)

    public_base_url = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/") or None
    if public_base_url:
        _check_url("PUBLIC_BASE_URL", public_base_url)

    names = ("ZENDESK_MARKETPLACE_NAME", "ZENDESK_MARKETPLACE_ORGANIZATION_ID", "ZENDESK_MARKETPLACE_APP_ID")
    values = [env.get(n, "").strip() for n in names]
    if any(values) and not all(values):
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        raise SettingsError(f"set all three Marketplace variables or none; missing {', '.join(missing)}")
    marketplace = MarketplaceHeaders(*values) if all(values) else None

    numbers = {}
    defaults = {"MAX_RECEIVE_COUNT": 5, "ZENDESK_TIMEOUT_SECONDS": 10, "MAINTENANCE_INTERVAL_MINUTES": 10,
                "SWEEP_MIN_AGE_SECONDS": 180, "PACE_TICKET_UPDATES": 100, "PACE_WINDOW_SECONDS": 60,
                "CONNECT_IMPORT_SECONDS": 8, "BATCH_AFTER_SECONDS": 5}
    for name, default in defaults.items():
        try:
            numbers[name] = float(env.get(name, "").strip() or default)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be a number") from None
    max_receive_count, zendesk_timeout = int(numbers["MAX_RECEIVE_COUNT"]), numbers["ZENDESK_TIMEOUT_SECONDS"]
    if max_receive_count < 1 or not 0 < zendesk_timeout <= 60:
        raise SettingsError("MAX_RECEIVE_COUNT must be at least 1 and ZENDESK_TIMEOUT_SECONDS within (0, 60]")
    if not 0 <= numbers["CONNECT_IMPORT_SECONDS"] <= 20:
        raise SettingsError("environment variable CONNECT_IMPORT_SECONDS must be from 0 to 20 (seconds)")
    if not 1 <= numbers["BATCH_AFTER_SECONDS"] <= 900:
        raise SettingsError("environment variable BATCH_AFTER_SECONDS must be from 1 to 900 (seconds)")
    access_token_lifetime, refresh_token_lifetime = _lifetimes(env)
    pace_updates, pace_window = numbers["PACE_TICKET_UPDATES"], numbers["PACE_WINDOW_SECONDS"]
    if pace_updates != int(pace_updates) or not 1 <= pace_updates <= 300 or not 0 < pace_window <= 3600:
        raise SettingsError("PACE_TICKET_UPDATES must be a whole number within [1, 300] (Zendesk allows 100 a minute, "
                            "300 with the High Volume add-on) and PACE_WINDOW_SECONDS within (0, 3600]")

    return Settings(
        table_name=_required(env, "TABLE_NAME"),
        secret_prefix=_required(env, "SECRET_PREFIX"),
        zendesk_url_template=template,
        client_id=_required(env, "ZENDESK_CLIENT_ID"),
        client_secret_arn=_required(env, "ZENDESK_CLIENT_SECRET_ARN"),
        state_key_secret_arn=_required(env, "STATE_KEY_SECRET_ARN"),
        public_base_url=public_base_url,
        marketplace=marketplace,
        queue_url=env.get("QUEUE_URL", "").strip() or None,
        events_queue_url=env.get("EVENTS_QUEUE_URL", "").strip() or None,
        maintenance_queue_url=env.get("MAINTENANCE_QUEUE_URL", "").strip() or None,
        dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", "").strip() or None,
        batch_dead_letter_queue_url=env.get("BATCH_DEAD_LETTER_QUEUE_URL", "").strip() or None,
        batch_queue_url=env.get("BATCH_QUEUE_URL", "").strip() or None,
        webhook_secret_prefix=env.get("WEBHOOK_SECRET_PREFIX", "").strip() or None,
        max_receive_count=max_receive_count,
        zendesk_timeout=zendesk_timeout,
        alerts_topic_arn=env.get("ALERTS_TOPIC_ARN", "").strip() or None,
        maintenance_interval=numbers["MAINTENANCE_INTERVAL_MINUTES"] * 60,
        sweep_min_age=numbers["SWEEP_MIN_AGE_SECONDS"],
        access_token_lifetime=access_token_lifetime,
        refresh_token_lifetime=refresh_token_lifetime,
        pace_ticket_updates=int(pace_updates),
        pace_window=pace_window,
        connect_import_seconds=numbers["CONNECT_IMPORT_SECONDS"],
        batch_after_seconds=numbers["BATCH_AFTER_SECONDS"],
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, loaded on first use (cold start)."""
    return load_settings()
