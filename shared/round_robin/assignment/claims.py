"""The per-ticket claim and audit record: one DynamoDB item per ticket (see round_robin/table.py).

States of a record's `status`:

    (none) --claim--> in_progress --finish--> assigned | skipped | parked | waiting
                       |  ^   ^                                    |         |
               release |  |   +------------- claim ----------------|---------+  (once its group has an agent)
                       v  |                                        |
                      pending <------------- reopen ---------------+  (after a reconnect)
       claim: a released ticket, or one whose holder's lease expired (in_progress -> in_progress)

A claim is a conditional update: it succeeds on a new ticket, on a `pending` one (released by a failed attempt),
on a `waiting` one (its group had no eligible agent), or on an `in_progress` one whose lease has expired (its
worker died or timed out). A duplicate delivery finds the record claimed or finished and stops, so it never
advances the rotation. A release keeps the rotation position already taken, so a retry reuses it and never skips
an agent. `parked` records (the connection broke) go back to `pending` when the account is reconnected.

Each claim adds one to `attempts`, which is also the claim's fencing token: only the attempt that holds the claim
may release or finish it, so a worker whose lease expired and was taken over cannot overwrite the newer attempt.
`is_claimable` is the claim's condition for a record read earlier (the sweep's filter).

A waiting record also carries `woken_at` (when a wake last queued it, waiting.py: two wakes at once never queue
it twice in one round; a claim removes it, so a ticket that waits again can be woken again) and `alerted_at`
(when operators were told it waits too long: once per ticket, so a claim keeps it).
A reassignment (a request with `reassign_from`: that agent is out of office, see absence.py) takes the ticket away
from an agent, so its claim (`claim_reassignment`) also takes a record that is `assigned` or `skipped` (or absent,
or holding only counts), and a `pending` or expired `in_progress` one only when it was a reassignment from the same
agent (its `reassign_from`), so it never hijacks an assignment under way; a live claim still wins. A record already
reassigned away from that agent (`reassigned_from`) is not taken again while its counts are not back with them: a
duplicate stops at the claim. The agent a finished assignment recorded is not a choice of the reassignment: its
claim forgets it, and reuses only what an earlier attempt of the reassignment chose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.assignment.agents import Marker, marker_of
from round_robin.assignment.rotation import Choice, Member
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import (
    TRANSACTION_LIMIT,
    conditional_write,
    conditional_write_seen,
    deserialize,
    get_all,
    query_all,
    serialize,
    update_each,
)
from round_robin.aws.queue import AssignmentRequest
from round_robin.errors import RoundRobinError, StorageError
from round_robin.table import (
    INDEX,
    LOG_AGENT_INDEX,
    LOG_COLUMNS,
    LOG_INDEX,
    TICKET_PREFIX,
    WAITING_GROUP_PREFIX,
    account_pk,
    log_agent_partition,
    log_partition,
    outcome_partition,
    ticket_sk,
    time_sort_key,
    waiting_group_of,
    waiting_sort_key,
)

RECORD_TTL = 90 * 86400
CLAIM_LEASE = 120.0  # at least the worker's timeout; SQS's visibility timeout is longer still
LEASE_MARGIN = 15.0  # seconds after a claim's lease: a retry then takes the claim over

IN_PROGRESS = "in_progress"
PENDING = "pending"
ASSIGNED = "assigned"
SKIPPED = "skipped"
DUPLICATE = "duplicate"  # an outcome only, never stored
DIVERTED = "diverted"  # an outcome only: the ticket went to batch mode's queue (batch.py), its claim released
TO_SINGLE = "to_single"  # an outcome only: batch mode gave the ticket back to the assignment queue, claim released
PARKED = "parked"
WAITING = "waiting"  # no eligible agent in the ticket's group yet; `reason` says why
POSTPONED = "postponed"  # an outcome only: over the account's Zendesk budget, queued again for later (pace.py)
INDEXED = (ASSIGNED, PARKED, WAITING)  # the statuses listed by the gsi1 index (see round_robin/table.py)
FAILED = "failed"  # a log outcome only: an attempt failed and released the ticket (stored status: pending)
LOGGED = (ASSIGNED, WAITING, SKIPPED, PARKED, FAILED)  # the outcomes of the log (gsi2, `logged`)
LOG_INDEX_PAGE = 500  # log entries a read of the agent index's backfill reads (index_agent_log)
LOG_READS_PER_PAGE = 5  # Query calls a filtered page of the log makes at most (a rare filter pages on instead)


class RetryLaterError(RoundRobinError):
    """Not now: try this ticket again in `delay` seconds (Zendesk's Retry-After, or a backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(f"retry later: {reason}")
        self.reason = reason
        self.delay = delay


@dataclass(frozen=True)
class Outcome:
    status: str  # ASSIGNED, SKIPPED, DUPLICATE, PARKED, WAITING or POSTPONED (or DIVERTED, TO_SINGLE: handed on)
    reason: str = ""
    choice: Choice | None = None
    attempts: int = 0
    group_id: str = ""  # the roster a WAITING ticket waits for
    wake_at: float | None = None  # WAITING: the earliest time one of its group's agents may become eligible;
    # POSTPONED: when the ticket comes back
    reassigned_from: int | None = None  # ASSIGNED by a reassignment: the agent out of office it was taken from
    # ASSIGNED: the ticket's updated_at after the service's own update, whose counts the assignment took; the ticket
    # events that this update causes are then no newer than the counts and cost no write (agents.py, `as_of`)
    counted_at: float | None = None


@dataclass(frozen=True)
class Claim:
    attempts: int  # this attempt's number, and its fencing token
    choice: Choice | None  # taken by an earlier attempt, to be reused
    received_at: float = 0.0  # when the ticket was first received (orders the waiting tickets)
    counted: Marker = Marker()  # whose counts hold the ticket (see agents.py)


def _choice_of(item: dict[str, Any]) -> Choice | None:
    """The agent an earlier attempt chose for the ticket (recorded with its position), if any."""
    if "agent_id" in item and "position" in item:
        return Choice(Member(item["agent_id"], item.get("agent_name", "")), item["position"], item["group_id"])
    return None


def _claim_of(item: dict[str, Any], now: float) -> Claim:
    """The claim a record holds right after it was claimed."""
    return Claim(attempts=item.get("attempts", 1), choice=_choice_of(item), received_at=item.get("received_at", now),
                 counted=marker_of(item))


def is_claimable(record: dict[str, Any] | None, now: float) -> bool:
    """Whether claim() would take this record at `now` (the same rule as its condition, for a record read earlier)."""
    status = record.get("status") if record else None
    if record is None or status is None:  # never claimed (perhaps only counted: a person assigned it)
        return True
    return status in (PENDING, WAITING) or (status == IN_PROGRESS and record.get("lease_until", now) < now)


class AssignmentStore:
    """The per-ticket claim and audit record."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def _key(self, subdomain: str, ticket_id: int) -> dict[str, Any]:
        return serialize({"pk": account_pk(subdomain), "sk": ticket_sk(ticket_id)})

    def claim(self, request: AssignmentRequest, now: float) -> Claim | None:
        """Take the ticket for this attempt; None if it is done or another worker holds it.

        The claim carries a token of its own. When DynamoDB applied it but its answer was lost (a time-out),
        botocore sends it again, and that second request finds the ticket held: by this very claim when the held
        record has the same token, which is then this attempt's claim rather than another worker's (without it,
        the ticket would wait for the lease to end and for the sweep)."""
        token = uuid.uuid4().hex
        answer, held = conditional_write_seen(lambda: self._dynamodb.update_item(
            **self._claim_update(request, now, token), ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD"), "claiming the ticket")
        if answer is not None:
            return _claim_of(deserialize(answer["Attributes"]) or {}, now)
        if held.get("claim_token") == token and held.get("status") == IN_PROGRESS:
            return _claim_of(held, now)
        return None

    def claim_many(self, requests: list[AssignmentRequest], now: float) -> list[Claim | None]:
        """Take many tickets of one account at once, each as `claim` would (batch mode): one transaction and one
        read for each hundred, not a call a ticket. A ticket asked for twice is claimed once."""
        firsts: dict[tuple[str, int], int] = {}
        for index, request in enumerate(requests):
            firsts.setdefault((request.subdomain, request.ticket_id), index)
        wanted = sorted(firsts.values())
        held: list[bool] = []
        try:
            for start in range(0, len(wanted), TRANSACTION_LIMIT):
                held += update_each(self._dynamodb, [self._claim_update(requests[i], now)
                                                     for i in wanted[start:start + TRANSACTION_LIMIT]],
                                    "claiming the tickets")
            claimed = [requests[i] for i, ok in zip(wanted, held, strict=False) if ok]
            records = self._read({(r.subdomain, r.ticket_id) for r in claimed}, "reading the claims")
        except StorageError as exc:
            if not any(held):
                raise  # nothing was claimed: try again soon
            # Claims were taken but are not known here: a retry before their lease ends would find them held and
            # take the tickets for duplicates. It comes once the lease is over, and takes the claims over.
            raise RetryLaterError("storage", CLAIM_LEASE + LEASE_MARGIN) from exc
        claims: list[Claim | None] = [None] * len(requests)
        for index, ok in zip(wanted, held, strict=True):
            request = requests[index]
            record = records.get((account_pk(request.subdomain), request.ticket_id))
            if ok and record is not None:
                claims[index] = _claim_of(record, now)
        return claims

    def _claim_update(self, request: AssignmentRequest, now: float, token: str | None = None) -> dict[str, Any]:
        """The conditional claim; its token (`claim`'s own, else a new one) is kept on the record as `claim_token`."""
        return {
            "TableName": self._table,
            "Key": self._key(request.subdomain, request.ticket_id),
            "UpdateExpression": (
                "SET #status = :working, lease_until = :until, ticket_id = :ticket, updated_at = :now, "
                "claim_token = :token, "
                "#source = if_not_exists(#source, :source), received_at = if_not_exists(received_at, :received), "
                # no longer listed as waiting
                "#ttl = :ttl ADD attempts :one REMOVE gsi1pk, gsi1sk, wake_at, woken_at, reassign_from"
            ),
            "ConditionExpression": (
                "attribute_not_exists(#status) OR #status IN (:pending, :waiting) "
                "OR (#status = :working AND lease_until < :now)"
            ),
            "ExpressionAttributeNames": {"#status": "status", "#source": "source", "#ttl": "ttl"},
            "ExpressionAttributeValues": serialize({
                ":working": IN_PROGRESS, ":pending": PENDING, ":waiting": WAITING, ":until": now + CLAIM_LEASE,
                ":ticket": request.ticket_id, ":now": now, ":source": request.source,
                ":received": request.received_at, ":ttl": int(now + RECORD_TTL), ":one": 1,
                ":token": token or uuid.uuid4().hex,
            }),
        }

    def _read(self, keys: set[tuple[str, int]], action: str) -> dict[tuple[str, int], dict[str, Any]]:
        """The records of these (subdomain, ticket id), read consistently, a hundred a call; by (pk, ticket id)."""
        items = get_all(self._dynamodb, self._table, [self._key(s, t) for s, t in sorted(keys)], action)
        return {(str(data["pk"]), int(data["ticket_id"])): data for data in items}

    def claim_reassignment(self, request: AssignmentRequest, now: float) -> Claim | None:
        """Take a ticket to reassign it from `request.reassign_from` (see the module docstring); None if another
        attempt holds it or it was already reassigned from that agent."""
        if request.reassign_from is None:
            raise ValueError("a reassignment names the agent it reassigns from")
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key(request.subdomain, request.ticket_id),
            UpdateExpression=(
                "SET #status = :working, lease_until = :until, ticket_id = :ticket, updated_at = :now, "
                "#source = :source, reassign_from = :from, received_at = :received, #ttl = :ttl "
                "ADD attempts :one REMOVE gsi1pk, gsi1sk, wake_at"
            ),
            ConditionExpression=(
                "((attribute_not_exists(#status) OR #status IN (:assigned, :skipped)) AND (attribute_not_exists("
                "reassigned_from) OR reassigned_from <> :from OR counted_agent_id = :from)) "
                "OR (#status = :pending AND reassign_from = :from) "
                "OR (#status = :working AND lease_until < :now AND reassign_from = :from)"
            ),
            ExpressionAttributeNames={"#status": "status", "#source": "source", "#ttl": "ttl"},
            ExpressionAttributeValues=serialize({
                ":working": IN_PROGRESS, ":pending": PENDING, ":assigned": ASSIGNED, ":skipped": SKIPPED,
                ":until": now + CLAIM_LEASE, ":ticket": request.ticket_id, ":now": now, ":source": request.source,
                ":from": request.reassign_from, ":received": request.received_at, ":ttl": int(now + RECORD_TTL),
                ":one": 1,
            }),
            ReturnValues="ALL_OLD",  # the status before says whether a recorded agent is this reassignment's
        ), "claiming the ticket for a reassignment")
        if answer is None:
            return None
        old = deserialize(answer.get("Attributes")) or {}
        retry = old.get("status") in (PENDING, IN_PROGRESS)
        claim = Claim(attempts=old.get("attempts", 0) + 1, choice=_choice_of(old) if retry else None,
                      received_at=request.received_at, counted=marker_of(old))
        if not retry and _choice_of(old) is not None:  # the earlier assignment's agent: not a choice to reuse
            self._update(request.subdomain, request.ticket_id, claim,
                         "SET updated_at = :now REMOVE agent_id, agent_name, #position, gsi3pk", {":now": now},
                         "claiming the ticket for a reassignment")
        return claim

    def release(self, subdomain: str, ticket_id: int, claim: Claim, choice: Choice | None, now: float,
                reason: str = "") -> None:
        """Give the ticket back for a later attempt, keeping the rotation position already taken; with a `reason`,
        the log shows it failed, with that reason, until an attempt finishes it. Without one (a rate limit: the
        ticket is postponed, which is no failure) the log keeps what it showed."""
        values: dict[str, Any] = {":pending": PENDING, ":now": now, ":reason": reason or "postponed"}
        update = "SET #status = :pending, updated_at = :now, reason = :reason"
        if reason:
            values.update(_log_values(subdomain, FAILED, now))
            update += f", {_LOG_SET}"
        if choice is not None:
            update += f", {_CHOICE_SET}"
            values.update(_choice_values(subdomain, choice))
        self._update(subdomain, ticket_id, claim, update + " REMOVE lease_until", values, "releasing the ticket")

    def finish(self, subdomain: str, ticket_id: int, claim: Claim, outcome: Outcome, now: float) -> None:
        """Record how the ticket ended (assigned, skipped, parked, waiting): the audit record, kept 90 days."""
        update, values = _finish_update(subdomain, claim, outcome, now)
        self._update(subdomain, ticket_id, claim, update, values, "recording the assignment")

    def finish_many(self, subdomain: str, finished: list[tuple[int, Claim, Outcome]], now: float) -> list[bool]:
        """Record many outcomes of one account at once (batch mode), each as `finish` would: a transaction for each
        hundred. Whether each was recorded (False: that attempt's claim was lost, its lease expired)."""
        return update_each(self._dynamodb, [
            self._fenced(subdomain, ticket_id, claim, *_finish_update(subdomain, claim, outcome, now))
            for ticket_id, claim, outcome in finished], "recording the assignments")

    def claimable(self, subdomain: str, ticket_ids: list[int], now: float) -> dict[int, dict[str, Any] | None]:
        """Of these tickets, those a claim would take now (never seen: None; else their record), in the given order.

        Never claimed, released, waiting, or held by a worker whose lease expired (it died or timed out).
        """
        items = get_all(self._dynamodb, self._table, [self._key(subdomain, t) for t in ticket_ids],
                        "reading the assignments", ProjectionExpression="ticket_id, #s, lease_until, group_id",
                        ExpressionAttributeNames={"#s": "status"})
        found = {data["ticket_id"]: data for data in items}
        return {t: found.get(t) for t in ticket_ids if is_claimable(found.get(t), now)}

    def indexed(self, subdomain: str, status: str, *, newest_first: bool = True,
                limit: int | None = None) -> list[dict[str, Any]]:
        """Records of `status` ASSIGNED or PARKED (by finish time) or WAITING (by group, then received time; the
        old-shape ones first): the gsi1 index. A group's waiting tickets alone: `waiting`."""
        return query_all(
            self._dynamodb, "reading the assignments", limit=limit, TableName=self._table, IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :index", ScanIndexForward=not newest_first,
            ExpressionAttributeValues=serialize({":index": outcome_partition(status, subdomain)}),
        )

    def log_page(self, subdomain: str, *, since: float, until: float, after: tuple[float, int] | None = None,
                 outcome: str | None = None, group_id: str | None = None, agent_id: int | None = None,
                 limit: int = 50, read_size: int = 500, columns: tuple[str, ...] = LOG_COLUMNS,
                 ) -> tuple[list[dict[str, Any]], tuple[float, int] | None]:
        """One page of the account's log, newest first, finished within [since, until): at most `limit` records
        matching the filters, after the record `after` ((logged_at, ticket id) of the last one shown), and the
        cursor of the next page (None: no more). Of one agent: that agent's log (gsi3), read directly; else the
        account's (gsi2). With an outcome or group filter, reads `read_size` index entries a call (those filters
        apply after the read). Records hold `columns` only (and the cursor's logged_at, ticket_id): the read's cost
        is per attribute returned."""
        if after is not None and after[0] < since:  # a cursor past the window's oldest record: nothing older
            return [], None
        index, partition = ((LOG_AGENT_INDEX, log_agent_partition(subdomain, agent_id)) if agent_id is not None
                            else (LOG_INDEX, log_partition(subdomain)))
        key = _LOG_KEYS[index]
        request = _log_request(self._table, index, partition, since, until, outcome, group_id, limit, read_size,
                               columns)
        if after is not None and after[0] < until:  # one after the window's newest: read from its top (DynamoDB
            request["ExclusiveStartKey"] = serialize({  # refuses a start key outside the key condition)
                "pk": account_pk(subdomain), "sk": ticket_sk(after[1]), key[0]: partition,
                key[1]: time_sort_key(after[0])})
        found: list[dict[str, Any]] = []
        reads = 0
        try:
            while True:
                answer = self._dynamodb.query(**request)
                reads += 1
                for item in answer.get("Items", []):
                    record = deserialize(item) or {}
                    found.append(record)
                    if len(found) == limit:
                        more = item is not answer["Items"][-1] or "LastEvaluatedKey" in answer
                        return found, (float(record["logged_at"]), int(record["ticket_id"])) if more else None
                if "LastEvaluatedKey" not in answer:
                    return found, None
                if reads == LOG_READS_PER_PAGE:  # a rare filter: this page ends here, the next one goes on from here
                    last = deserialize(answer["LastEvaluatedKey"]) or {}
                    return found, (float(last[key[1]]), int(str(last["sk"]).removeprefix(TICKET_PREFIX)))
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the assignment log") from exc

    def waiting_count(self, subdomain: str, group_id: str | None = None) -> int:
        """How many tickets of the account (of one group, if given) wait for an eligible agent (the gsi1 index,
        counted: no items returned)."""
        total = 0
        values = {":index": outcome_partition(WAITING, subdomain)}
        condition = "gsi1pk = :index"
        if group_id is not None:
            condition += " AND begins_with(gsi1sk, :group)"
            values[":group"] = f"{WAITING_GROUP_PREFIX}{group_id}#"
        request: dict[str, Any] = {
            "TableName": self._table, "IndexName": INDEX, "Select": "COUNT", "KeyConditionExpression": condition,
            "ExpressionAttributeValues": serialize(values)}
        try:
            while True:
                answer = self._dynamodb.query(**request)
                total += int(answer.get("Count", 0))
                if "LastEvaluatedKey" not in answer:
                    return total
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "counting the waiting tickets") from exc

    def waiting_groups(self, subdomain: str) -> list[str]:
        """The groups that have waiting tickets (of the per-group index shape), one query of one item per group."""
        groups: list[str] = []
        after = WAITING_GROUP_PREFIX  # every per-group key sorts after it, every old-shape key before
        while True:
            found = query_all(
                self._dynamodb, "reading the waiting groups", limit=1, TableName=self._table, IndexName=INDEX,
                KeyConditionExpression="gsi1pk = :index AND gsi1sk > :after", ProjectionExpression="gsi1sk",
                ExpressionAttributeValues=serialize({":index": outcome_partition(WAITING, subdomain), ":after": after}))
            group_id = waiting_group_of(found[0]["gsi1sk"]) if found else None
            if group_id is None:
                return groups
            groups.append(group_id)
            after = f"{WAITING_GROUP_PREFIX}{group_id}$"  # '$' follows '#': past every key of this group

    def waiting(self, subdomain: str, group_id: str, *, limit: int | None = None,
                received_before: float | None = None) -> list[dict[str, Any]]:
        """A group's waiting records, oldest first: at most `limit`, and only those received by `received_before`
        when given (old-shape records are not among them until moved: `move_old_waiting`)."""
        prefix = f"{WAITING_GROUP_PREFIX}{group_id}#"
        last = waiting_sort_key(group_id, received_before) if received_before is not None else f"{prefix}~"
        return query_all(
            self._dynamodb, "reading the waiting tickets", limit=limit, TableName=self._table, IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :index AND gsi1sk BETWEEN :first AND :last",
            ExpressionAttributeValues=serialize({":index": outcome_partition(WAITING, subdomain), ":first": prefix,
                                                 ":last": last}))

    def move_old_waiting(self, subdomain: str, limit: int) -> int:
        """Move up to `limit` waiting records indexed by receipt time alone (written before the index was per group,
        table.py) under their group, oldest first; returns how many moved. A record claimed meanwhile stays claimed."""
        old = query_all(
            self._dynamodb, "reading the waiting tickets", limit=limit, TableName=self._table, IndexName=INDEX,
            KeyConditionExpression="gsi1pk = :index AND gsi1sk < :prefix",
            ExpressionAttributeValues=serialize({":index": outcome_partition(WAITING, subdomain),
                                                 ":prefix": WAITING_GROUP_PREFIX}))
        return sum(self._move_under_group(subdomain, record) for record in old)

    def _move_under_group(self, subdomain: str, record: dict[str, Any]) -> bool:
        new_key = waiting_sort_key(str(record.get("group_id", "")), float(record.get("received_at", 0)))
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, int(record["ticket_id"])),
            UpdateExpression="SET gsi1sk = :new", ConditionExpression="#status = :waiting AND gsi1sk = :old",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":waiting": WAITING, ":old": record["gsi1sk"], ":new": new_key}),
        ), "moving a waiting ticket under its group")
        return answer is not None

    def index_agent_log(self, subdomain: str, cursor: dict[str, Any] | None, pages: int,
                        page_size: int | None = None) -> tuple[int, dict[str, Any] | None]:
        """Give the records logged before the log of one agent (gsi3) existed their entry in it (table.py), at
        most `pages` reads of `page_size` log entries (LOG_INDEX_PAGE) from `cursor` (None: the newest); returns
        how many were indexed and where the next call goes on (None: the log has been read to its end).

        Newest first: the records an agent's log shows first are filled in first, and records logged meanwhile
        (above the cursor) have their entry from their own write, so the pass ends, however busy the account (an
        older record logged again meanwhile by a write that leaves its agent as it was, as an outcome without a
        choice does, stays out: as before the pass, until it expires). The
        read's filter keeps only records that name an agent and have no entry; each is written on condition that
        it still names that agent and has none, so a record re-logged, given back or reassigned since the read
        is left to the write that changed it. The cursor is DynamoDB's LastEvaluatedKey (keys only)."""
        request: dict[str, Any] = {
            "TableName": self._table, "IndexName": LOG_INDEX, "ScanIndexForward": False,
            "Limit": page_size or LOG_INDEX_PAGE,
            "KeyConditionExpression": "#log_pk = :log",
            "FilterExpression": "attribute_exists(#agent) AND attribute_not_exists(#agent_pk)",
            "ProjectionExpression": "#pk, #sk, #log_pk, #log_sk, #agent",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#log_pk": "gsi2pk", "#log_sk": "gsi2sk",
                                         "#agent": "agent_id", "#agent_pk": "gsi3pk"},
            "ExpressionAttributeValues": serialize({":log": log_partition(subdomain)})}
        indexed = 0
        for _ in range(pages):
            if cursor is not None:
                request["ExclusiveStartKey"] = serialize(cursor)
            try:
                answer = self._dynamodb.query(**request)
            except (ClientError, BotoCoreError) as exc:
                raise storage_error(exc, "reading the log to index it by agent") from exc
            found = [deserialize(item) or {} for item in answer.get("Items", [])]
            indexed += sum(update_each(self._dynamodb, [self._agent_log_entry(subdomain, record) for record in found],
                                       "indexing the log by agent"))
            cursor = deserialize(answer.get("LastEvaluatedKey"))
            if cursor is None:
                break
        return indexed, cursor

    def _agent_log_entry(self, subdomain: str, record: dict[str, Any]) -> dict[str, Any]:
        """The update that puts a logged record in its agent's log: gsi3sk is its gsi2sk as it is when written."""
        return {"TableName": self._table, "Key": serialize({"pk": record["pk"], "sk": record["sk"]}),
                "UpdateExpression": "SET gsi3pk = :agent_log, gsi3sk = gsi2sk",
                "ConditionExpression": ("agent_id = :agent AND attribute_not_exists(gsi3pk) "
                                        "AND attribute_exists(gsi2pk)"),
                "ExpressionAttributeValues": serialize({
                    ":agent": record["agent_id"], ":agent_log": log_agent_partition(subdomain, record["agent_id"])})}

    def reopen(self, subdomain: str, ticket_id: int, now: float) -> bool:
        """A parked ticket becomes claimable again (after a reconnect); False if it was not parked."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, ticket_id),
            UpdateExpression="SET #status = :pending, updated_at = :now REMOVE gsi1pk, gsi1sk",
            ConditionExpression="#status = :parked", ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":pending": PENDING, ":parked": PARKED, ":now": now}),
        ), "reopening a parked ticket")
        return answer is not None

    def mark_woken(self, subdomain: str, ticket_id: int, now: float, interval: float) -> bool:
        """Mark a waiting ticket as queued by a wake at `now`; False if it no longer waits or a wake queued it
        less than `interval` seconds ago (that wake's round has it)."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, ticket_id), UpdateExpression="SET woken_at = :now",
            ConditionExpression="#status = :waiting AND (attribute_not_exists(woken_at) OR woken_at <= :stale)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":waiting": WAITING, ":now": now, ":stale": now - interval}),
        ), "marking a waiting ticket woken")
        return answer is not None

    def mark_alerted(self, subdomain: str, ticket_id: int, now: float) -> bool:
        """Mark a waiting ticket as reported for waiting too long; False if it was already (or no longer waits)."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=self._key(subdomain, ticket_id), UpdateExpression="SET alerted_at = :now",
            ConditionExpression="#status = :waiting AND attribute_not_exists(alerted_at)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":waiting": WAITING, ":now": now}),
        ), "marking a waiting ticket reported")
        return answer is not None

    def get(self, subdomain: str, ticket_id: int) -> dict[str, Any] | None:
        try:
            answer = self._dynamodb.get_item(TableName=self._table, Key=self._key(subdomain, ticket_id),
                                             ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the assignment") from exc
        return deserialize(answer.get("Item"))

    def _update(self, subdomain: str, ticket_id: int, claim: Claim, update: str, values: dict[str, Any],
                action: str) -> None:
        """Apply `update` only if this attempt still holds the claim (fenced by its attempt number)."""
        answer = conditional_write(lambda: self._dynamodb.update_item(
            **self._fenced(subdomain, ticket_id, claim, update, values)), action)
        if answer is None:
            raise RetryLaterError("the claim was lost (lease expired)")

    def _fenced(self, subdomain: str, ticket_id: int, claim: Claim, update: str,
                values: dict[str, Any]) -> dict[str, Any]:
        """UpdateItem's parameters for `update`, applied only while this attempt holds the claim."""
        names = {"#status": "status", "#position": "position"} if "#position" in update else {"#status": "status"}
        return {"TableName": self._table, "Key": self._key(subdomain, ticket_id), "UpdateExpression": update,
                "ConditionExpression": "#status = :working AND attempts = :attempt", "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": serialize({**values, ":working": IN_PROGRESS,
                                                        ":attempt": claim.attempts})}




# The log (gsi2): every outcome of the account by the time it was logged; written in the same update as the outcome.
# gsi3sk is the same time, always: a record is in its agent's log (gsi3) when it also has gsi3pk, set with agent_id
_LOG_SET = "gsi2pk = :log_index, gsi2sk = :log_when, gsi3sk = :log_when, logged = :logged, logged_at = :now"
# The agent chosen, with the key of that agent's log (table.py: gsi3pk goes wherever agent_id goes)
_CHOICE_SET = ("agent_id = :agent, agent_name = :name, #position = :position, group_id = :group, "
               "gsi3pk = :log_agent")


def _choice_values(subdomain: str, choice: Choice) -> dict[str, Any]:
    return {":agent": choice.agent.id, ":name": choice.agent.name, ":position": choice.position,
            ":group": choice.group_id, ":log_agent": log_agent_partition(subdomain, choice.agent.id)}


def choice_attributes(subdomain: str, agent: Member, position: int, group_id: str) -> dict[str, Any]:
    """The attributes that record the agent chosen for a ticket (selection.py's writes), with its agent log's key."""
    return {"agent_id": agent.id, "agent_name": agent.name, "position": position, "group_id": group_id,
            "gsi3pk": log_agent_partition(subdomain, agent.id)}


# What forgets the agent chosen (selection.py's give_back): the record leaves that agent's log with it
CHOICE_FIELDS = ("agent_id", "agent_name", "position", "group_id", "gsi3pk")


def _finish_update(subdomain: str, claim: Claim, outcome: Outcome, now: float) -> tuple[str, dict[str, Any]]:
    """The update that records an outcome (`finish`), and its values."""
    values: dict[str, Any] = {":status": outcome.status, ":now": now, ":reason": outcome.reason or outcome.status}
    values.update(_log_values(subdomain, outcome.status, now))
    update = f"SET #status = :status, finished_at = :now, updated_at = :now, reason = :reason, {_LOG_SET}"
    if outcome.status in INDEXED:  # the latest assignments, the parked tickets, the waiting ones oldest first
        # waiting: by group, then received time (table.py); the others by finish time
        when = waiting_sort_key(outcome.group_id, claim.received_at) if outcome.status == WAITING \
            else time_sort_key(now)
        update += ", gsi1pk = :index, gsi1sk = :when"
        values.update({":index": outcome_partition(outcome.status, subdomain), ":when": when})
    if outcome.status == WAITING and outcome.group_id:
        update += ", group_id = :group"
        values[":group"] = outcome.group_id
    if outcome.status == WAITING and outcome.wake_at is not None:
        update += ", wake_at = :wake"
        values[":wake"] = outcome.wake_at
    if outcome.reassigned_from is not None:
        update += ", reassigned_from = :from, reassigned_at = :now"
        values[":from"] = outcome.reassigned_from
    if outcome.counted_at is not None:  # an event applied first holds a time at least as new: kept
        update += ", counted_at = if_not_exists(counted_at, :counted_at)"
        values[":counted_at"] = outcome.counted_at
    if outcome.choice is not None:
        update += f", {_CHOICE_SET}"
        values.update(_choice_values(subdomain, outcome.choice))
    return update + " REMOVE lease_until", values



_LOG_KEYS = {LOG_INDEX: ("gsi2pk", "gsi2sk"), LOG_AGENT_INDEX: ("gsi3pk", "gsi3sk")}


def _log_request(table: str, index: str, partition: str, since: float, until: float, outcome: str | None,
                 group_id: str | None, limit: int, read_size: int, columns: tuple[str, ...]) -> dict[str, Any]:
    """The Query of one read of a log index: its key range, the filters that apply after the read, the columns."""
    pk, sk = _LOG_KEYS[index]
    wanted = dict.fromkeys((*columns, "logged_at", "ticket_id"))  # the cursor needs these two
    names = {f"#{n}": n for n in wanted}
    values: dict[str, Any] = {":index": partition, ":first": time_sort_key(since), ":last": time_sort_key(until)}
    filters = []
    for field, value in (("logged", outcome), ("group_id", group_id)):
        if value is not None:
            filters.append(f"#{field} = :{field}")
            names[f"#{field}"] = field
            values[f":{field}"] = value
    request: dict[str, Any] = {
        "TableName": table, "IndexName": index, "ScanIndexForward": False,
        "Limit": read_size if filters else limit + 1,  # unfiltered: one more says whether there is a next page
        "KeyConditionExpression": f"{pk} = :index AND {sk} BETWEEN :first AND :last",
        "ProjectionExpression": ", ".join(f"#{n}" for n in wanted), "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize(values)}
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    return request


def _log_values(subdomain: str, outcome: str, now: float) -> dict[str, Any]:
    return {":log_index": log_partition(subdomain), ":log_when": time_sort_key(now), ":logged": outcome}
