"""Zendesk Support API transport: one requests session, timeouts, bearer auth, Marketplace headers,
429 (and 503) with Retry-After, cursor pagination, and HTTP errors mapped to domain errors in one place.

The resources the service uses are module functions over it, one module per kind: users.py (users, groups,
memberships), tickets.py (tickets and their search), hooks.py (the project's webhook and trigger), oauth.py
(the token in use)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from round_robin.accounts.credentials import credential_fingerprint
from round_robin.errors import (
    ZendeskConflictError,
    ZendeskError,
    ZendeskForbiddenError,
    ZendeskNotFoundError,
    ZendeskRateLimitedError,
    ZendeskUnauthorizedError,
    ZendeskUnavailableError,
    ZendeskUnprocessableError,
)

CONNECT_TIMEOUT = 3.05
PAGE_SIZE = 100  # the cursor-pagination maximum
_IDEMPOTENT = {"GET", "PUT", "DELETE", "HEAD"}
_BY_STATUS: dict[int, type[ZendeskError]] = {
    403: ZendeskForbiddenError,
    404: ZendeskNotFoundError,
    409: ZendeskConflictError,
    422: ZendeskUnprocessableError,
}


@dataclass(frozen=True)
class EndpointLimit:
    """One endpoint-specific limit, from a `zendesk-ratelimit-<name>: total=100; remaining=99; resets=41` header."""

    total: int | None
    remaining: int | None
    resets: float | None


@dataclass(frozen=True)
class RateLimits:
    """What an answer's headers say about the account's API budget (all optional: Zendesk may omit any).

    Zendesk documents (developer.zendesk.com/api-reference/introduction/rate-limits/, "Monitoring your request
    activity", and developer.zendesk.com/documentation/api-basics/best-practices/best-practices-for-avoiding-rate-
    limiting/): `X-Rate-Limit` and `X-Rate-Limit-Remaining` (the account's limit and what is left of the current
    minute) on every answer; on Ticketing API answers ("such as the Tickets API and the Users API") also
    `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds until the minute resets); endpoint limits
    as `zendesk-ratelimit-<name>: total=..; remaining=..; resets=..` (`tickets-index` on list-ticket endpoints only,
    `inflight-jobs` for background jobs, "Job limit"); `Retry-After` (seconds) on a 429. No header reports the
    Update Ticket limit (100 a minute per account, "Endpoint rate limits"): the workers count their own updates
    (assignment/pace.py).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    retry_after: float | None = None
    endpoints: dict[str, EndpointLimit] = field(default_factory=dict)

    def nearly_spent(self, reserve: float) -> bool:
        """Whether less than `reserve` (a fraction) of the account-wide limit is left in the current minute."""
        return self.limit is not None and self.remaining is not None and self.remaining < self.limit * reserve


ENDPOINT_LIMIT_PREFIX = "zendesk-ratelimit-"


def rate_limits(headers: Mapping[str, str]) -> RateLimits:
    """The rate-limit headers of an answer (names case-insensitive); a malformed value counts as absent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    endpoints = {name[len(ENDPOINT_LIMIT_PREFIX):]: _endpoint_limit(value) for name, value in lowered.items()
                 if name.startswith(ENDPOINT_LIMIT_PREFIX) and len(name) > len(ENDPOINT_LIMIT_PREFIX)}
    return RateLimits(
        limit=_first_int(lowered, "x-rate-limit", "ratelimit-limit"),
        remaining=_first_int(lowered, "x-rate-limit-remaining", "ratelimit-remaining"),
        reset=_seconds(lowered.get("ratelimit-reset")),
        retry_after=_seconds(lowered.get("retry-after")),
        endpoints=endpoints,
    )


def _first_int(headers: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = _seconds(headers.get(name))
        if value is not None:
            return int(value)
    return None


def _seconds(value: str | None) -> float | None:
    """A non-negative number of seconds (or a count); None for absent, negative or not a number (an HTTP date)."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def _endpoint_limit(value: str) -> EndpointLimit:
    parts = {}
    for part in value.split(";"):
        key, _, raw = part.partition("=")
        parts[key.strip().lower()] = _seconds(raw)
    total, remaining = parts.get("total"), parts.get("remaining")
    return EndpointLimit(total=int(total) if total is not None else None,
                         remaining=int(remaining) if remaining is not None else None, resets=parts.get("resets"))


def new_session() -> requests.Session:
    """A session with a pooled connection per host; retries are done by ZendeskClient, not urllib3."""
    session = requests.Session()
    session.headers["User-Agent"] = "round-robin-zendesk/0.1"
    return session


class ZendeskClient:
    """The API of one Zendesk account (`base_url` = `https://<sub>.zendesk.com` or the sandbox's equivalent).

    `authorization` returns the Authorization header value; it is called per request so that a token
    refreshed elsewhere is picked up. `max_retry_wait` caps how long the client itself waits on a 429 (or a
    503 with Retry-After): a longer Retry-After raises ZendeskRateLimitedError for the caller to reschedule
    (0 = never wait).
    """

    def __init__(
        self,
        base_url: str,
        authorization: Callable[[], str],
        *,
        session: requests.Session,
        extra_headers: dict[str, str] | None = None,
        max_attempts: int = 3,
        max_retry_wait: float = 0.0,
        read_timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._authorization = authorization
        self._session = session
        self._extra_headers = dict(extra_headers or {})
        self._max_attempts = max_attempts
        self._max_retry_wait = max_retry_wait
        self._timeout = (CONNECT_TIMEOUT, read_timeout)
        self._sleep = sleep
        self.last_limits = RateLimits()  # the rate-limit headers of the latest answer (a 429's included)

    def __repr__(self) -> str:
        return f"ZendeskClient({self.base_url!r})"

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None) -> dict[str, Any]:
        """Call the API and return the decoded JSON object (empty for 204)."""
        url = path if path.startswith(self.base_url + "/") else f"{self.base_url}{path}"
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            headers = {"Authorization": self._authorization(), "Accept": "application/json", **self._extra_headers}
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self._timeout
                )
            except requests.RequestException as exc:
                # A POST is only retried when the connection never opened (nothing reached Zendesk).
                retryable = method in _IDEMPOTENT or isinstance(exc, requests.ConnectionError)
                if not retryable or attempt >= self._max_attempts:
                    raise ZendeskUnavailableError(
                        f"Zendesk could not be reached ({type(exc).__name__})", None, method=method, path=path
                    ) from exc
                self._sleep(_backoff(attempt))
                continue

            status = response.status_code
            self.last_limits = rate_limits(response.headers)
            if status < 400:
                return _json_body(response)
            # A 503 with Retry-After is honoured like a 429, as Zendesk's own API client does (it retries
            # "[429, 503]" and "uses Retry-After response header when present": zendesk/zendesk_api_client_rb
            # issue #603). Without Retry-After a 503 is a transient 5xx (below).
            if status == 429 or (status == 503 and "Retry-After" in response.headers):
                retry_after = _retry_after(response)
                if attempt < self._max_attempts and waited + retry_after <= self._max_retry_wait:
                    waited += retry_after
                    self._sleep(retry_after)
                    continue
                raise ZendeskRateLimitedError(
                    f"Zendesk answered HTTP {status} to {method} {path}: retry after {retry_after:g}s",
                    retry_after, status, method=method, path=path,
                )
            if status >= 500:
                if method in _IDEMPOTENT and attempt < self._max_attempts:
                    self._sleep(_backoff(attempt))
                    continue
                raise ZendeskUnavailableError(f"Zendesk answered HTTP {status} to {method} {path}", status,
                                              method=method, path=path)
            if status == 401:  # which credential was refused, so the caller replaces that one and no other
                raise ZendeskUnauthorizedError(
                    f"Zendesk answered HTTP 401 to {method} {path}: {_describe(response)}", status, method=method,
                    path=path, credential=credential_fingerprint(headers["Authorization"]))
            error_class = _BY_STATUS.get(status, ZendeskError)
            raise error_class(f"Zendesk answered HTTP {status} to {method} {path}: {_describe(response)}", status,
                              method=method, path=path)

    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any) -> dict[str, Any]:
        return self.request("POST", path, json=json)

    def put(self, path: str, json: Any) -> dict[str, Any]:
        return self.request("PUT", path, json=json)

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path)

    def paginate(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every record of a cursor-paginated list, following `links.next` while `meta.has_more`."""
        url: str | None = path
        query: Any = {**(params or {}), "page[size]": PAGE_SIZE}
        while url is not None:
            records, url = self.page(url, key, query)
            query = None
            yield from records

    def page(self, url: str, key: str, params: Any = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a cursor-paginated list and the link to the next (None after the last), so that a long
        list can be read across invocations (assignment/import_job.py keeps the link between them)."""
        page = self.get(url, params)
        meta = page.get("meta") or {}
        next_url = (page.get("links") or {}).get("next")
        if not meta.get("has_more") or not next_url:
            return page.get(key, []), None
        if not next_url.startswith(self.base_url + "/"):
            # Never send the bearer token to a host other than the account's own.
            raise ZendeskError(f"pagination link left the account's base URL on {url.split('?')[0]}")
        return page.get(key, []), next_url


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 0.2 s, 0.4 s, 0.8 s, ..."""
    return random.uniform(0, 0.2 * 2 ** (attempt - 1))


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return 60.0  # absent or an HTTP date: assume the window's length


def _json_body(response: requests.Response) -> dict[str, Any]:
    if response.status_code == 204 or not response.content:
        return {}
    try:
        payload = response.json()
    except ValueError as exc:
        raise ZendeskUnavailableError(f"Zendesk answered HTTP {response.status_code} with non-JSON") from exc
    return payload if isinstance(payload, dict) else {"data": payload}


def _describe(response: requests.Response) -> str:
    """Zendesk's own error name and description, which carry no credentials."""
    try:
        payload = response.json()
    except ValueError:
        return response.reason or ""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if isinstance(error, dict):  # {"error": {"title": ..., "message": ...}}
        return f"{error.get('title', '')}: {error.get('message', '')}".strip(": ")
    return ": ".join(str(p) for p in (error, payload.get("description")) if p)


ZendeskFactory = Callable[[str, Callable[[], str]], ZendeskClient]
"""Makes the client of an account: (subdomain, Authorization header provider) -> ZendeskClient."""
