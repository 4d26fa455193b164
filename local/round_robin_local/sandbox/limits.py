"""How the sandbox rate-limits and fails on purpose: Zendesk's per-minute windows, and injected faults.

- The account window counts every API request (700 a minute, the Enterprise plan); past it, 429 with
  `Retry-After`. Every answer carries `X-Rate-Limit` and `X-Rate-Limit-Remaining`, and (Ticketing API) the
  `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds until the window frees a request) that
  Zendesk documents: developer.zendesk.com/api-reference/introduction/rate-limits/#monitoring-your-request-activity.
- The ticket-update window counts ticket updates (100 a minute per account), with Zendesk's own 429 text and
  `Retry-After`. Zendesk documents no header for this limit (`zendesk-ratelimit-tickets-index` is for list-ticket
  endpoints only, which the sandbox does not limit), so its answers carry only the account-wide headers.
- A fault, set through the test controls, makes the next matching requests wait and/or answer a status.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from round_robin_local.sandbox.answers import ApiError

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

ACCOUNT_RATE_LIMIT = 700  # Enterprise plan, per minute
TICKET_UPDATE_RATE_LIMIT = 100  # per minute per account
RATE_WINDOW = 60.0


@dataclass
class RateWindow:
    limit: int
    hits: deque[float] = field(default_factory=deque)
    window: float = RATE_WINDOW  # Zendesk's limits are per minute; tests may shorten the window

    def take(self, now: float) -> float | None:
        """Count one request; return None if allowed, else the seconds until one is allowed again."""
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return max(1.0, self.hits[0] + self.window - now)
        self.hits.append(now)
        return None

    def remaining(self) -> int:
        return max(0, self.limit - len(self.hits))

    def reset(self, now: float) -> int:
        """Whole seconds until the oldest counted request leaves the window (the window's length if none)."""
        return int(self.hits[0] + self.window - now + 0.999) if self.hits else int(self.window + 0.999)


@dataclass
class Fault:
    """An injected failure: the next `count` requests matching method and path prefix answer `status`
    (or are delayed by `delay` seconds first)."""

    method: str
    path_prefix: str
    status: int | None
    count: int
    delay: float = 0.0
    retry_after: int | None = None


def inject_fault(sandbox: Sandbox, account: Account, method: str, path: str) -> None:
    """Apply the first injected fault that matches the request, if any: wait, then raise its status."""
    fault = _take_fault(sandbox, account, method, path)
    if fault is None:
        return
    if fault.delay:
        time.sleep(fault.delay)
    if fault.status:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise ApiError(fault.status, {"error": "InjectedFault", "description": "sandbox fault injection"}, headers)


def _take_fault(sandbox: Sandbox, account: Account, method: str, path: str) -> Fault | None:
    with sandbox.lock:
        for fault in account.faults:
            if fault.count > 0 and fault.method in (method, "*") and path.startswith(fault.path_prefix):
                fault.count -= 1
                return fault
    return None


def take_request(sandbox: Sandbox, account: Account) -> dict[str, str]:
    """Count one API request against the account's limit: the rate-limit headers of the answer, or 429."""
    window = account.account_window
    retry = window.take(sandbox.clock.now())
    now = sandbox.clock.now()
    headers = {"X-Rate-Limit": str(window.limit), "X-Rate-Limit-Remaining": str(window.remaining()),
               "ratelimit-limit": str(window.limit), "ratelimit-remaining": str(window.remaining()),
               "ratelimit-reset": str(max(0, window.reset(now)))}
    if retry is not None:
        raise ApiError(429, "Too Many Requests", {**headers, "Retry-After": str(int(retry + 0.999))})
    return headers


def take_ticket_update(sandbox: Sandbox, account: Account) -> None:
    """Count one ticket update against the account's ticket-update limit, or 429 (with the account-wide headers,
    added by the app)."""
    window = account.update_window
    retry = window.take(sandbox.clock.now())
    if retry is not None:
        raise ApiError(429, "Rate limit for ticket updates exceeded, please wait before updating this ticket "
                            "again", {"Retry-After": str(int(retry + 0.999))})
