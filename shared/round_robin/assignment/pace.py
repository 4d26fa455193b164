"""The per-account pace of ticket updates, shared by every worker: one small DynamoDB item per account.

Zendesk limits Update Ticket (`PUT /api/v2/tickets/{id}`) to 100 requests a minute per account, 300 with the High
Volume add-on (developer.zendesk.com/api-reference/introduction/rate-limits/#endpoint-rate-limits), and people's
updates in Zendesk's own interface count too (support.zendesk.com/hc/en-us/articles/8638126078234). No response
header reports what is left of that limit (zendesk/client.py, RateLimits): past it Zendesk answers 429 with
Retry-After. So the workers keep their own count of it, in the `PACE#ticket-updates` item of the account:

- a fixed window of `window` seconds (aligned on multiples of it, so every worker agrees on the current one without
  a read): `window_start`, and `used`, the updates asked for in it; a slot is one conditional `ADD used :one`
  (a new window is opened by a conditional SET instead), never a read then a write;
- `blocked_until`, the end of a 429's Retry-After: no worker updates the account's tickets before it.

The count is consulted only when it matters, so that the happy path costs no call: a worker takes a slot for an
update only while the account is *pressed* for it, that is within a window of seeing the budget running low (the
answers' `X-Rate-Limit-Remaining` under a quarter of `X-Rate-Limit`, or a slot leaving under a quarter of the
window's `limit`), or a 429; and for every ticket it postponed (the request carries `not_before`), since its account
was pressed a moment ago. The n-th request of a window past `limit` is postponed to the window its place falls in
(the next one for the first `limit` past it), at a uniform random point of it: the postponed tickets come back
spread over that window, not all at its start.
"""

from __future__ import annotations

import math
import random
from typing import Any

from round_robin.aws.dynamo import conditional_write, deserialize, serialize
from round_robin.table import account_pk, pace_sk
from round_robin.zendesk.client import RateLimits

TICKET_UPDATES = "ticket-updates"
PACE_TTL = 86400  # an idle account's item is deleted after a day; a missing item is an unused budget
PLENTY = 0.25  # more than this share of a limit left is plenty: no slot needed
MAX_TRIES = 4  # a race between opening the window and adding to it is settled within a few tries
RATE_LIMITED = "rate_limited"  # the reason of a postponement until a 429's Retry-After (any worker's) ended
PACED = "paced"  # the reason of a postponement past the window's budget


class Pace:
    """The Update Ticket budget of every account: `limit` updates per `window` seconds, shared by every worker."""

    def __init__(self, table_name: str, dynamodb: Any, *, limit: int = 100, window: float = 60.0,
                 rng: random.Random | None = None) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pace needs a limit of at least 1 per a positive window")
        self._table = table_name
        self._dynamodb = dynamodb
        self.limit = limit
        self.window = window
        self._rng = rng or random.Random()
        # What this worker saw, per account: no call is needed to know it.
        self._pressed_until: dict[str, float] = {}
        self._blocked_until: dict[str, float] = {}
        self._opened: dict[str, float] = {}  # the last window this worker saw in the item
        self._spent: dict[str, float] = {}  # the last window this worker saw spent

    def window_start(self, now: float) -> float:
        """The start of the fixed window that holds `now`."""
        return math.floor(now / self.window) * self.window

    def pressed(self, subdomain: str, now: float) -> bool:
        """Whether this worker takes a slot for the account's updates (it saw the budget run low, or a 429)."""
        return self._pressed_until.get(subdomain, 0.0) > now

    def spent(self, subdomain: str, now: float) -> bool:
        """Whether this worker saw the current window's budget spent (no call): its tickets go to batch mode
        without reserving a later slot they would never use."""
        return self._spent.get(subdomain) == self.window_start(now)

    def blocked_until(self, subdomain: str, now: float) -> float | None:
        """The end of a 429's Retry-After this worker knows of, while it is ahead (no call)."""
        until = self._blocked_until.get(subdomain, 0.0)
        return until if until > now else None

    def take(self, subdomain: str, now: float) -> float:
        """Take a slot of the account's current window (one conditional UpdateItem): `now` when the update may be
        sent now, else the time to postpone the ticket to (jittered)."""
        start = self.window_start(now)
        adding = self._opened.get(subdomain) == start  # a wrong guess costs a second call
        item = None
        for _ in range(MAX_TRIES):
            item = self._add(subdomain, start, now) if adding else self._open(subdomain, start, now)
            if item is not None:
                break
            adding = not adding
        if item is None:  # workers kept racing (or one's clock is ahead): the budget is busy, wait a window
            self._press(subdomain, start + 2 * self.window)
            return self.spread(start + self.window)
        self._opened[subdomain] = start
        used, blocked = int(item["used"]), float(item.get("blocked_until", 0))
        if blocked > now:
            self._blocked_until[subdomain] = blocked
            self._press(subdomain, blocked + self.window)
            return self.spread(blocked, blocked - now)
        if used > self.limit * (1 - PLENTY):
            self._press(subdomain, start + 2 * self.window)
        if used <= self.limit:
            return now
        self._spent[subdomain] = start
        later = (used - 1) // self.limit  # windows ahead of this one its place in the queue falls in
        return self.spread(start + later * self.window)

    def block(self, subdomain: str, until: float, now: float) -> float:
        """Zendesk said 429 until `until`: no worker updates the account's tickets before then (one conditional
        UpdateItem; StorageError if it fails). The time to postpone the refused ticket to (jittered)."""
        self._blocked_until[subdomain] = max(until, self._blocked_until.get(subdomain, 0.0))
        self._press(subdomain, until + self.window)
        conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain),
            UpdateExpression="SET blocked_until = :until, #ttl = :ttl",
            # an earlier end never shortens another worker's block
            ConditionExpression="attribute_not_exists(blocked_until) OR blocked_until < :until",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=serialize({":until": until, ":ttl": int(max(until, now) + PACE_TTL)}),
        ), "pausing the account's ticket updates")
        return self.spread(until, until - now)

    def observe(self, subdomain: str, limits: RateLimits, now: float) -> None:
        """Note what an answer's rate-limit headers say: under a quarter of the account's limit left presses the
        account's updates for a window (no call)."""
        if limits.nearly_spent(PLENTY):
            self._press(subdomain, now + self.window)

    def spread(self, at: float, over: float | None = None) -> float:
        """A time uniformly within `over` seconds after `at` (a window; after a 429, its Retry-After, at least a
        second and at most a window): postponed tickets do not come back at once, and the budget's count orders
        those that come back together."""
        span = self.window if over is None else min(self.window, max(1.0, over))
        return at + self._rng.uniform(0.0, span)

    def _press(self, subdomain: str, until: float) -> None:
        self._pressed_until[subdomain] = max(until, self._pressed_until.get(subdomain, 0.0))

    def _add(self, subdomain: str, start: float, now: float) -> dict[str, Any] | None:
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain),
            UpdateExpression="SET #ttl = :ttl ADD used :one",
            ConditionExpression="window_start = :start",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=serialize({":one": 1, ":start": start, ":ttl": int(now + PACE_TTL)}),
            ReturnValues="ALL_NEW",
        ), "taking a ticket-update slot")
        return None if answer is None else deserialize(answer["Attributes"])

    def _open(self, subdomain: str, start: float, now: float) -> dict[str, Any] | None:
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain),
            UpdateExpression="SET window_start = :start, used = :one, #ttl = :ttl",
            ConditionExpression="attribute_not_exists(window_start) OR window_start < :start",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=serialize({":one": 1, ":start": start, ":ttl": int(now + PACE_TTL)}),
            ReturnValues="ALL_NEW",
        ), "taking a ticket-update slot")
        return None if answer is None else deserialize(answer["Attributes"])

    def _key(self, subdomain: str) -> dict[str, Any]:
        return serialize({"pk": account_pk(subdomain), "sk": pace_sk(TICKET_UPDATES)})
