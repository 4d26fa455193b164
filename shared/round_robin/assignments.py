"""Assigning one ticket, exactly once, whatever the deliveries do.

Per ticket, one DynamoDB item (`TICKET#<id>` under the account) is both the claim and the audit record:

1. claim it (conditional update: new, or released by a failed attempt, or its holder's lease expired);
   a duplicate delivery finds it claimed or done and stops, so it never advances the rotation;
2. re-read the ticket in Zendesk and stop if it has an assignee, is solved or closed;
3. take the next position of its group's rotation (rotation.py) - unless an earlier attempt already took
   one, which is reused so that retries never skip an agent;
4. PUT the assignee with `safe_update` and the `updated_stamp` read in 2 (409: re-read, stop if a person
   assigned it; 422: the agent left the group, refresh the roster and pick again);
5. record the outcome (agent, group, time, position, attempts) with a 90-day TTL.

Happy path: 3 DynamoDB writes, 1 Zendesk read, 1 Zendesk write. Rate limits and Zendesk outages release the
claim with the chosen agent kept and raise RetryLaterError for the caller to delay the queue message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws import storage_error
from round_robin.dynamo import conditional_write, deserialize, query_all, serialize
from round_robin.errors import (
    ConnectionBrokenError,
    RoundRobinError,
    ZendeskConflictError,
    ZendeskNotFoundError,
    ZendeskRateLimitedError,
    ZendeskUnauthorizedError,
    ZendeskUnavailableError,
    ZendeskUnprocessableError,
)
from round_robin.queue import AssignmentRequest
from round_robin.registry import account_pk
from round_robin.roster_import import import_group_roster
from round_robin.rosters import Member, RosterStore
from round_robin.rotation import Choice, next_agent, roster_key
from round_robin.tokens import TokenManager
from round_robin.zendesk import ZendeskClient, ZendeskFactory

RECORD_TTL = 90 * 86400
CLAIM_LEASE = 120.0  # at least the worker's timeout; SQS's visibility timeout is longer still
MAX_TURNS = 4  # 409/422 round trips before giving up for this attempt
CLOSED_STATUSES = {"solved", "closed"}

ASSIGNED = "assigned"
SKIPPED = "skipped"
DUPLICATE = "duplicate"
PARKED = "parked"


class RetryLaterError(RoundRobinError):
    """Not now: try this ticket again in `delay` seconds (Zendesk's Retry-After, or a backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(f"retry later: {reason}")
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True)
class Outcome:
    status: str  # ASSIGNED, SKIPPED, DUPLICATE or PARKED
    reason: str = ""
    choice: Choice | None = None
    attempts: int = 0


@dataclass(frozen=True)
class Claim:
    attempts: int
    choice: Choice | None  # taken by an earlier attempt, to be reused


class AssignmentStore:
    """The per-ticket claim and audit record."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def _key(self, subdomain: str, ticket_id: int) -> dict[str, Any]:
        return serialize({"pk": account_pk(subdomain), "sk": f"TICKET#{ticket_id}"})

    def claim(self, request: AssignmentRequest, now: float) -> Claim | None:
        """Take the ticket for this attempt; None if it is done or another worker holds it."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(request.subdomain, request.ticket_id),
            UpdateExpression=(
                "SET #status = :working, lease_until = :until, ticket_id = :ticket, updated_at = :now, "
                "#source = if_not_exists(#source, :source), received_at = if_not_exists(received_at, :received), "
                "#ttl = :ttl ADD attempts :one"
            ),
            ConditionExpression=(
                "attribute_not_exists(pk) OR #status = :pending OR (#status = :working AND lease_until < :now)"
            ),
            ExpressionAttributeNames={"#status": "status", "#source": "source", "#ttl": "ttl"},
            ExpressionAttributeValues=serialize({
                ":working": "in_progress", ":pending": "pending", ":until": now + CLAIM_LEASE,
                ":ticket": request.ticket_id, ":now": now, ":source": request.source,
                ":received": request.received_at, ":ttl": int(now + RECORD_TTL), ":one": 1,
            }),
            ReturnValues="ALL_NEW",
        ), "claiming the ticket")
        if answer is None:
            return None
        item = deserialize(answer["Attributes"]) or {}
        choice = None
        if "agent_id" in item and "position" in item:
            choice = Choice(Member(item["agent_id"], item.get("agent_name", "")), item["position"], item["group_id"])
        return Claim(attempts=item.get("attempts", 1), choice=choice)

    def release(self, subdomain: str, ticket_id: int, choice: Choice | None, now: float) -> None:
        """Give the ticket back for a later attempt, keeping the rotation position already taken."""
        values: dict[str, Any] = {":pending": "pending", ":working": "in_progress", ":now": now}
        update = "SET #status = :pending, updated_at = :now"
        if choice is not None:
            update += ", agent_id = :agent, agent_name = :name, #position = :position, group_id = :group"
            values.update({":agent": choice.agent.id, ":name": choice.agent.name, ":position": choice.position,
                           ":group": choice.group_id})
        self._update(subdomain, ticket_id, update + " REMOVE lease_until", values, "releasing the ticket")

    def finish(self, subdomain: str, ticket_id: int, outcome: Outcome, now: float) -> None:
        """Record how the ticket ended (assigned, skipped, parked): the audit record, kept 90 days."""
        values: dict[str, Any] = {":status": outcome.status, ":working": "in_progress", ":now": now,
                                  ":reason": outcome.reason or outcome.status}
        update = "SET #status = :status, finished_at = :now, updated_at = :now, reason = :reason"
        if outcome.status in (ASSIGNED, PARKED):  # indexed: the latest assignment, the parked tickets
            update += ", gsi1pk = :index, gsi1sk = :when"
            values.update({":index": f"{outcome.status.upper()}#{subdomain}", ":when": f"{now:017.3f}"})
        if outcome.choice is not None:
            update += ", agent_id = :agent, agent_name = :name, #position = :position, group_id = :group"
            values.update({":agent": outcome.choice.agent.id, ":name": outcome.choice.agent.name,
                           ":position": outcome.choice.position, ":group": outcome.choice.group_id})
        self._update(subdomain, ticket_id, update + " REMOVE lease_until", values, "recording the assignment")

    def unfinished(self, subdomain: str, ticket_ids: list[int]) -> list[int]:
        """Of these tickets, those never claimed or waiting for a retry (the sweep queues these)."""
        found: dict[int, str] = {}
        for start in range(0, len(ticket_ids), 100):
            keys = [self._key(subdomain, t) for t in ticket_ids[start:start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ProjectionExpression": "ticket_id, #s",
                                                     "ExpressionAttributeNames": {"#s": "status"}}}
            try:
                while request:
                    answer = self._dynamodb.batch_get_item(RequestItems=request)
                    for item in answer.get("Responses", {}).get(self._table, []):
                        data = deserialize(item) or {}
                        found[data["ticket_id"]] = data.get("status", "")
                    request = answer.get("UnprocessedKeys") or {}
            except (ClientError, BotoCoreError) as exc:
                raise storage_error(exc, "reading the assignments") from exc
        return [t for t in ticket_ids if found.get(t, "pending") == "pending"]

    def indexed(self, subdomain: str, status: str, *, newest_first: bool = True,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Records of `status` ASSIGNED or PARKED, by time (the gsi1 index)."""
        return query_all(
            self._dynamodb, "reading the assignments", limit=limit, TableName=self._table, IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :index", ScanIndexForward=not newest_first,
            ExpressionAttributeValues=serialize({":index": f"{status.upper()}#{subdomain}"}),
        )

    def reopen(self, subdomain: str, ticket_id: int, now: float) -> bool:
        """A parked ticket becomes claimable again (after a reconnect); False if it was not parked."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, ticket_id),
            UpdateExpression="SET #status = :pending, updated_at = :now REMOVE gsi1pk, gsi1sk",
            ConditionExpression="#status = :parked", ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":pending": "pending", ":parked": PARKED, ":now": now}),
        ), "reopening a parked ticket")
        return answer is not None

    def get(self, subdomain: str, ticket_id: int) -> dict[str, Any] | None:
        try:
            answer = self._dynamodb.get_item(TableName=self._table, Key=self._key(subdomain, ticket_id),
                                             ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the assignment") from exc
        return deserialize(answer.get("Item"))

    def _update(self, subdomain: str, ticket_id: int, update: str, values: dict[str, Any], action: str) -> None:
        names = {"#status": "status", "#position": "position"} if "#position" in update else {"#status": "status"}
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, ticket_id), UpdateExpression=update,
            ConditionExpression="#status = :working", ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
        ), action)
        if answer is None:
            raise RetryLaterError("the claim was lost (lease expired)")


class Assigner:
    def __init__(
        self,
        *,
        store: AssignmentStore,
        rosters: RosterStore,
        tokens: TokenManager,
        zendesk: ZendeskFactory,
        excluded_agents: Callable[[str], tuple[int, ...]] = lambda _subdomain: (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rosters = rosters
        self._tokens = tokens
        self._zendesk = zendesk
        self._excluded_agents = excluded_agents
        self._clock = clock

    def assign(self, request: AssignmentRequest) -> Outcome:
        """Assign the ticket of `request` to the next agent of its group, once (see the module docstring)."""
        claim = self._store.claim(request, self._clock())
        if claim is None:
            return Outcome(DUPLICATE, "already claimed or done")
        attempt = _Attempt(request, claim, self._zendesk(request.subdomain,
                                                         lambda: self._tokens.authorization(request.subdomain)))
        try:
            outcome = self._assign(attempt)
        except ConnectionBrokenError as exc:
            outcome = Outcome(PARKED, exc.reason, attempt.choice, claim.attempts)
        except ZendeskRateLimitedError as exc:
            self._store.release(request.subdomain, request.ticket_id, attempt.choice, self._clock())
            raise RetryLaterError("rate_limited", exc.retry_after) from exc
        except (ZendeskUnavailableError, RetryLaterError) as exc:
            self._store.release(request.subdomain, request.ticket_id, attempt.choice, self._clock())
            raise RetryLaterError("zendesk_unavailable" if isinstance(exc, ZendeskUnavailableError)
                                  else exc.reason) from exc
        self._store.finish(request.subdomain, request.ticket_id, outcome, self._clock())
        return outcome

    def _assign(self, attempt: _Attempt) -> Outcome:
        request = attempt.request
        try:
            ticket = self._call(attempt, lambda c: c.ticket(request.ticket_id))
        except ZendeskNotFoundError:
            return Outcome(SKIPPED, "ticket_not_found", None, attempt.claim.attempts)
        for _ in range(MAX_TURNS):
            reason = _why_not_assign(ticket)
            if reason:
                return Outcome(SKIPPED, reason, None, attempt.claim.attempts)
            group_id = roster_key(ticket.get("group_id"))
            if attempt.choice is None or attempt.choice.group_id != group_id:
                attempt.choice = self._next_agent(attempt, group_id)
                if attempt.choice is None:
                    return Outcome(SKIPPED, "no_eligible_agent", None, attempt.claim.attempts)
            agent = attempt.choice.agent
            try:
                self._call(attempt, lambda c, a=agent, t=ticket: c.update_ticket(request.ticket_id, {
                    "assignee_id": a.id, "safe_update": True, "updated_stamp": t["updated_at"]}))
            except ZendeskConflictError:
                ticket = self._call(attempt, lambda c: c.ticket(request.ticket_id))  # changed: look again
                continue
            except ZendeskUnprocessableError:
                # The agent cannot take it (left the group, suspended...): refresh the roster, pick again.
                self._refresh_roster(attempt, group_id)
                attempt.choice = None
                ticket = self._call(attempt, lambda c: c.ticket(request.ticket_id))
                continue
            return Outcome(ASSIGNED, "", attempt.choice, attempt.claim.attempts)
        raise RetryLaterError("ticket_kept_changing")

    def _next_agent(self, attempt: _Attempt, group_id: str) -> Choice | None:
        choice = next_agent(self._rosters, attempt.request.subdomain, group_id)
        if choice is None:  # a group created after the last import, or an empty roster: ask Zendesk
            if self._refresh_roster(attempt, group_id):
                choice = next_agent(self._rosters, attempt.request.subdomain, group_id)
        return choice

    def _refresh_roster(self, attempt: _Attempt, group_id: str) -> bool:
        subdomain = attempt.request.subdomain
        excluded = self._excluded_agents(subdomain)
        roster = self._call(attempt, lambda c: import_group_roster(c, group_id, excluded))
        if roster is None:
            return False
        self._rosters.sync(subdomain, [roster], self._clock(), prune=False)
        return bool(roster.members)

    def _call(self, attempt: _Attempt, operation: Callable[[ZendeskClient], Any]) -> Any:
        """Run a Zendesk call; on 401 refresh the token once (single-flight) and retry once."""
        try:
            return operation(attempt.client)
        except ZendeskUnauthorizedError:
            if attempt.refreshed:  # one refresh per attempt
                raise ConnectionBrokenError(attempt.request.subdomain, "unauthorized") from None
            attempt.refreshed = True
            return self._tokens.after_unauthorized(attempt.request.subdomain, lambda: operation(attempt.client))


class _Attempt:
    """The state of one attempt at one ticket."""

    def __init__(self, request: AssignmentRequest, claim: Claim, client: ZendeskClient) -> None:
        self.request = request
        self.claim = claim
        self.client = client
        self.choice: Choice | None = claim.choice
        self.refreshed = False


def _why_not_assign(ticket: dict[str, Any]) -> str:
    if ticket.get("assignee_id"):
        return "already_assigned"
    if ticket.get("status") in CLOSED_STATUSES:
        return f"ticket_{ticket['status']}"
    return ""
