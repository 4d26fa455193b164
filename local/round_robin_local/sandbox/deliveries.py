"""Signed webhook delivery, as Zendesk documents it, for trigger-connected and event-subscribed webhooks alike.

- Signature: base64(HMAC-SHA256(key = the secret string's bytes, message = timestamp + body)).
- Delivery retries on 409, on 429/503 with Retry-After under 60 s, and on timeouts, at most 3 times.
- The sandbox delivers only to loopback addresses; delivery faults (test controls) drop or duplicate one.
- Each attempt's answer time is recorded (`answered_in`, seconds, beside `attempts`): the benchmark's webhook
  acknowledgement latency. How many deliveries Zendesk makes at once is not documented; the sandbox makes up to
  `concurrency` (8 by default; the burst benchmark and test raise it to send a whole burst at once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from round_robin_local.sandbox.model import Account, Sandbox

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DELIVERY_TIMEOUT = 12.0
MAX_RETRIES = 3
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 2000


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature of `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Dispatcher:
    """Delivers webhooks on a thread pool, recording each invocation in `account.deliveries`."""

    def __init__(self, sandbox: Sandbox, workers: int = DEFAULT_CONCURRENCY) -> None:
        self._sandbox = sandbox
        self.concurrency = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zendesk-webhook")
        self._session = _session(workers)
        self._stopped = threading.Event()

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def set_concurrency(self, workers: int) -> None:
        """Make up to `workers` deliveries at once from now on (deliveries already queued keep the old pool)."""
        if not 1 <= workers <= MAX_CONCURRENCY:
            raise ValueError(f"delivery concurrency must be 1 to {MAX_CONCURRENCY}")
        with self._sandbox.lock:  # send() submits under the same lock: never to a pool being replaced
            old, self._pool = self._pool, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zendesk-webhook")
            self._session = _session(workers)
            self.concurrency = workers
        old.shutdown(wait=False)

    def send(self, account: Account, webhook: dict[str, Any], body: bytes, ticket_id: int | None, *,
             event_type: str = "conditional_ticket_events", subject: str | None = None) -> None:
        """Queue one invocation of `webhook` with `body`: a trigger's (the default `event_type`) or a Zendesk
        event's, about ticket `ticket_id` (None for user and agent events) or `subject` (`zen:user:<id>`, ...)."""
        record = {"invocation_id": str(uuid.uuid4()), "webhook_id": webhook["id"], "type": event_type,
                  "subject": subject or f"zen:ticket:{ticket_id}", "ticket_id": ticket_id,
                  "endpoint": webhook["endpoint"], "attempts": [], "answered_in": [], "status": "queued"}
        account.deliveries.append(record)
        faults = account.delivery_faults
        if faults.get("drop", 0) > 0:
            faults["drop"] -= 1
            record["status"] = "dropped"
            return
        copies = 1
        if faults.get("duplicate", 0) > 0:
            faults["duplicate"] -= 1
            copies = 2
        host = urlsplit(webhook["endpoint"]).hostname
        if host not in _LOOPBACK:
            record["status"] = "refused: the sandbox only delivers to loopback addresses"
            return
        secret = account.webhook_secrets[webhook["id"]]
        for _ in range(copies):
            self._pool.submit(self._deliver, account, webhook, secret, body, record)

    def _deliver(self, account: Account, webhook: dict[str, Any], secret: str, body: bytes,
                 record: dict[str, Any]) -> None:
        for attempt in range(MAX_RETRIES + 1):
            if self._stopped.is_set():
                return
            timestamp = self._sandbox.clock.iso()
            with self._sandbox.lock:
                record.setdefault("sent_at", time.time())
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Zendesk Webhook",
                "X-Zendesk-Account-Id": str(account.id),
                "X-Zendesk-Webhook-Id": webhook["id"],
                "X-Zendesk-Webhook-Invocation-Id": record["invocation_id"],
                "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
                "X-Zendesk-Webhook-Signature": sign(secret, timestamp, body),
            }
            wait = None
            started = time.monotonic()
            try:
                response = self._session.request(webhook["http_method"], webhook["endpoint"], data=body,
                                                 headers=headers, timeout=DELIVERY_TIMEOUT)
                status: int | str = response.status_code
                retry_after = _seconds(response.headers.get("Retry-After"))
                if status == 409:
                    wait = 1.0
                elif status in (429, 503) and retry_after is not None and retry_after < 60:
                    wait = retry_after
            except requests.Timeout:
                status, wait = "timeout", 1.0
            except requests.RequestException as exc:
                status, wait = type(exc).__name__, None
            with self._sandbox.lock:
                record["attempts"].append(status)
                record["answered_in"].append(round(time.monotonic() - started, 4))
                record["status"] = "delivered" if isinstance(status, int) and status < 300 else "failed"
            if wait is None or attempt == MAX_RETRIES:
                return
            if self._stopped.wait(wait):
                return


def _session(connections: int) -> requests.Session:
    """A session that keeps a connection per delivery in flight (the default keeps 10 and opens a new one for each
    delivery past them), without the proxy and ~/.netrc lookups meant for the internet."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=connections))
    return session


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
