"""The agents of an account as the rotation sees them, and their ticket counts (see round_robin/table.py).

One small item per agent (`AGENT#<id>`, well under 1 KB): the availability inputs, per-agent caps, the open and
daily ticket counts. An agent without an item is in rotation, available, with nothing counted: roster imports
never write agent items, so an import of 5,000 agents costs no agent writes. Every availability change bumps the
agent's `version` and, in the same transaction, the account's availability stamp (`AVAILABILITY`, which also
holds the account's policy and schedules): a warm worker caches agent states and reads the stamp beside the
rotation to know when they are stale (selection.py). Counts never bump either: the assignment's transaction
checks the chosen agent's true counts against the caps.

Counts are idempotent per ticket: the ticket's record (`TICKET#<id>`, claims.py) says whose counts hold it
(`counted_agent_id`, `counted_open`, `counted_date`), and every change of counts rewrites that marker in the same
transaction, on the condition that it is still as read. Moving a ticket to another agent moves both counts; a
ticket that stops being open keeps its daily count (it was assigned that day). Ticket events carry a snapshot of the
ticket: the marker keeps the `updated_at` of the last snapshot it applied (`counted_at`), so an older or repeated
snapshot changes nothing (`count(..., as_of=...)`).

Events that set an availability input carry their own order (Zendesk's status `version`, the time of an Out of
Office change): `change_unless_older` applies one unless the order stored beside it is newer (a redelivery of the
event applied last is applied again, the same values, so that what follows from it runs again after a failure).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.availability.errors import UnknownTimeZoneError
from round_robin.availability.localtime import local_date
from round_robin.availability.model import AgentState
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import (
    CONDITION_FAILED,
    conditional_write,
    deserialize,
    get_all,
    query_all,
    serialize,
    transact,
)
from round_robin.errors import StorageError
from round_robin.table import AGENT_PREFIX, AVAILABILITY_SK, TICKET_PREFIX, account_pk, agent_sk, ticket_sk

# The fields an operator or an event changes (each change bumps `version`); the counts are not among them.
AVAILABILITY_FIELDS = ("in_rotation", "status", "ooo_from", "ooo_until", "backup_id", "zendesk_status", "ooo_app",
                       "time_zone", "open_cap", "daily_cap")
MARKER_FIELDS = ("counted_agent_id", "counted_open", "counted_date")
BATCH_SIZE = 100  # BatchGetItem's limit
MARKER_TTL = 400 * 86400  # a ticket counted without a claim (a person assigned it) keeps its marker this long
ATTEMPTS = 5


AgentRecord = AgentState  # one agent as stored is what the eligibility rule reads
# What an overview of the agents (the console's Agents page) reads of each: all but `version`, which only a change
# needs (it reads the agent again), and `id`, which the key holds
OVERVIEW_FIELDS = tuple(f.name for f in dataclasses.fields(AgentRecord) if f.name not in ("id", "version"))


@dataclass(frozen=True)
class Marker:
    """Whose counts hold a ticket: `agent_id` (None: nobody's), its open count too if `open`, and the day (in
    that agent's time zone) its daily count was taken."""

    agent_id: int | None = None
    open: bool = False
    date: str | None = None
    at: float | None = dataclass_field(default=None, compare=False)  # `updated_at` of the ticket snapshot applied last


def local_day(time_zone: str, now: float) -> str:
    """The date (YYYY-MM-DD) at `now` in an IANA time zone (UTC for an unknown name): what a daily count counts."""
    try:
        return local_date(now, time_zone)
    except UnknownTimeZoneError:
        return local_date(now, "UTC")


def agent_from_item(item: Mapping[str, Any], name: str = "") -> AgentRecord:
    """An AGENT item (deserialised) as a record; unknown attributes are ignored."""
    known = {f.name for f in dataclasses.fields(AgentRecord)}
    values = {k: v for k, v in item.items() if k in known}
    values.setdefault("id", int(str(item["sk"]).rsplit("#", 1)[1]))
    values.setdefault("name", name or str(values["id"]))
    return AgentRecord(**values)


def marker_of(item: Mapping[str, Any] | None) -> Marker:
    item = item or {}
    return Marker(item.get("counted_agent_id"), bool(item.get("counted_open", False)), item.get("counted_date"),
                  item.get("counted_at"))


class CountChange:
    """Builds the transaction items that change an account's agent counts (for one TransactWriteItems)."""

    def __init__(self, table: str, subdomain: str) -> None:
        self._table = table
        self._subdomain = subdomain

    def key(self, sk: str) -> dict[str, Any]:
        return serialize({"pk": account_pk(self._subdomain), "sk": sk})

    def release(self, agent: AgentRecord, marker: Marker, *, daily: bool = True) -> dict[str, Any] | None:
        """Take a ticket out of `agent`'s counts: open if held, daily if held and still the agent's day."""
        adds, conditions = [], []
        values: dict[str, Any] = {":minus": -1}
        if marker.open:
            adds.append("open_count :minus")
        if daily and marker.date is not None and marker.date == agent.daily_date:
            adds.append("daily_count :minus")
            conditions.append("daily_date = :day")
            values[":day"] = marker.date
        if not adds:
            return None
        return self._update(agent.id, "ADD " + ", ".join(adds), conditions, values, {})

    def take(self, agent: AgentRecord, day: str, *, is_open: bool, daily: bool = True,
             caps: tuple[int | None, int | None] | None = None, tickets: int = 1,
             at: float | None = None) -> dict[str, Any]:
        """Add a ticket (or `tickets` of them) to `agent`'s counts (open if `is_open`, daily on `day`); with `caps`
        (open, daily), only if the agent's `version` is still the one read and each count stays within its cap:
        the atomic check-and-increment. `at`: the service assigned it then (`last_assigned_at`, shown by the
        console)."""
        sets, adds, conditions = ["#id = :id"], [], []
        values: dict[str, Any] = {":id": agent.id}
        if at is not None:
            sets.append("last_assigned_at = :at")
            values[":at"] = at
        if is_open:
            adds.append("open_count :one")
        if daily and agent.daily_date == day:
            adds.append("daily_count :one")
            conditions.append("daily_date = :day")
        elif daily:  # the agent's first ticket of a new day: the count starts again
            sets += ["daily_count = :one", "daily_date = :day"]
            conditions.append("(attribute_not_exists(daily_date) OR daily_date <> :day)")
        if daily:
            values[":day"] = day
        if is_open or daily:
            values[":one"] = tickets
        names = {"#id": "id"}
        if caps is not None:
            open_cap, daily_cap = caps
            names["#version"] = "version"
            conditions.append("(attribute_not_exists(#version) OR #version = :version)" if agent.version == 0
                              else "#version = :version")
            values[":version"] = agent.version
            if open_cap is not None and is_open:  # count + tickets <= cap
                conditions.append("(attribute_not_exists(open_count) OR open_count < :open_cap)")
                values[":open_cap"] = open_cap - tickets + 1
            if daily_cap is not None and daily and agent.daily_date == day:
                conditions.append("daily_count < :daily_cap")
                values[":daily_cap"] = daily_cap - tickets + 1
        update = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        return self._update(agent.id, update, conditions, values, names)

    def mark(self, ticket_id: int, read: Marker, new: Marker, now: float, *,
             fence: tuple[str, dict[str, Any]] | None = None, also_set: Mapping[str, Any] | None = None,
             also_remove: tuple[str, ...] = (), as_of: float | None = None) -> dict[str, Any]:
        """Rewrite a ticket's marker to `new`, on the condition that it is still `read` (and `fence`, if given);
        `also_set` and `also_remove` change other attributes of the record in the same write. With `as_of` (a
        snapshot's time), `counted_at` must also still be as read, and becomes `as_of`."""
        values: dict[str, Any] = {}
        conditions = []
        if as_of is not None:
            also_set = {**(also_set or {}), "counted_at": as_of}
            if read.at is None:
                conditions.append("attribute_not_exists(counted_at)")
            else:
                conditions.append("counted_at = :was_counted_at")
                values[":was_counted_at"] = read.at
        for field, was in zip(MARKER_FIELDS, (read.agent_id, read.open, read.date), strict=True):
            if was is None:
                conditions.append(f"attribute_not_exists({field})")
            elif was is False:
                conditions.append(f"(attribute_not_exists({field}) OR {field} = :was_{field})")
                values[f":was_{field}"] = was
            else:
                conditions.append(f"{field} = :was_{field}")
                values[f":was_{field}"] = was
        sets = ["updated_at = :now"]
        removes = [f"#{field}" for field in also_remove]
        if new.agent_id is None:
            removes += MARKER_FIELDS
        else:
            sets += ["counted_agent_id = :agent", "counted_open = :open", "counted_date = :date"]
            values.update({":agent": new.agent_id, ":open": new.open, ":date": new.date})
        kept = new.agent_id is not None or as_of is not None  # a record that may exist only for its marker
        if kept:
            sets += ["ticket_id = :ticket", "#ttl = if_not_exists(#ttl, :ttl)"]
            values.update({":ticket": ticket_id, ":ttl": int(now + MARKER_TTL)})
        names = {"#ttl": "ttl"} if kept else {}
        names.update({f"#{field}": field for field in also_remove})
        for field, value in (also_set or {}).items():
            sets.append(f"#{field} = :set_{field}")
            names[f"#{field}"] = field
            values[f":set_{field}"] = value
        values[":now"] = now
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        if fence is not None:
            conditions.append(fence[0])
            values.update(fence[1])
            names["#status"] = "status"
        return {"Update": {"TableName": self._table, "Key": self.key(ticket_sk(ticket_id)),
                           "UpdateExpression": update, "ConditionExpression": " AND ".join(conditions),
                           **({"ExpressionAttributeNames": names} if names else {}),
                           "ExpressionAttributeValues": serialize(values)}}

    def _update(self, agent_id: int, update: str, conditions: list[str], values: dict[str, Any],
                names: dict[str, str]) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self._table, "Key": self.key(agent_sk(agent_id)),
                                   "UpdateExpression": update, "ExpressionAttributeValues": serialize(values)}
        if names:
            request["ExpressionAttributeNames"] = names
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": request}


class AgentStore:
    """Agent items, the account's availability stamp, and the per-ticket counts (see the module docstring)."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def agents(self, subdomain: str, names: Mapping[int, str]) -> dict[int, AgentRecord]:
        """The agents with these ids (consistent reads, 100 a call); one without an item gets the defaults."""
        ids = list(names)
        found: dict[int, AgentRecord] = {}
        for start in range(0, len(ids), BATCH_SIZE):
            keys = [serialize({"pk": account_pk(subdomain), "sk": agent_sk(i)}) for i in ids[start:start + BATCH_SIZE]]
            for item in self.batch_get(keys, "reading the agents"):
                agent = agent_from_item(item)
                found[agent.id] = dataclasses.replace(agent, name=names.get(agent.id) or agent.name)
        return {i: found.get(i) or AgentRecord(i, names[i] or str(i)) for i in ids}

    def batch_get(self, keys: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        """Consistent BatchGetItem of these keys (aws/dynamo.py `get_all`); the items deserialised."""
        return get_all(self._dynamodb, self._table, keys, action)

    def change(self, subdomain: str, agent_id: int, changes: Mapping[str, Any], now: float) -> None:
        """Change an agent's availability inputs (AVAILABILITY_FIELDS; None removes one): bumps the agent's
        `version` and the account's availability stamp in one transaction."""
        unknown = set(changes) - set(AVAILABILITY_FIELDS)
        if unknown:
            raise ValueError(f"not an availability field: {', '.join(sorted(unknown))}")
        keys = CountChange(self._table, subdomain)
        self.transact([self._change_item(keys, agent_id, changes, now), self._stamp_item(keys)],
                      "changing an agent's availability")

    def _change_item(self, keys: CountChange, agent_id: int, changes: Mapping[str, Any], now: float,
                     order: tuple[str, float] | None = None) -> dict[str, Any]:
        """The update of an AGENT item that sets `changes` (None removes) and bumps its version; with `order`
        (field, value), only if the stored value of that field is absent or smaller, and it becomes `value`."""
        fields = {**changes, **({order[0]: order[1]} if order else {})}
        sets = [f"#{k} = :{k}" for k, v in fields.items() if v is not None]
        removes = [f"#{k}" for k, v in fields.items() if v is None]
        names = {f"#{k}": k for k in fields}
        names.update({"#id": "id", "#version": "version"})
        values = serialize({f":{k}": v for k, v in fields.items() if v is not None})
        values.update(serialize({":id": agent_id, ":one": 1, ":now": now}))
        update = "SET " + ", ".join(["#id = :id", "updated_at = :now", *sets]) + " ADD #version :one"
        if removes:
            update += " REMOVE " + ", ".join(removes)
        request = {"TableName": self._table, "Key": keys.key(agent_sk(agent_id)), "UpdateExpression": update,
                   "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if order is not None:
            request["ConditionExpression"] = f"attribute_not_exists(#{order[0]}) OR #{order[0]} <= :{order[0]}"
        return {"Update": request}

    def _stamp_item(self, keys: CountChange) -> dict[str, Any]:
        return {"Update": {"TableName": self._table, "Key": keys.key(AVAILABILITY_SK),
                           "UpdateExpression": "ADD #version :one", "ExpressionAttributeNames": {"#version": "version"},
                           "ExpressionAttributeValues": serialize({":one": 1})}}

    def count(self, subdomain: str, ticket_id: int, agent_id: int | None, *, is_open: bool, now: float,
              names: Mapping[int, str] | None = None, as_of: float | None = None,
              read: Marker | None = None) -> Marker | None:
        """Make a ticket count for `agent_id` (open if `is_open`; daily once per holder), or for nobody (None).

        Idempotent per ticket: for ticket events (a person assigned it, it was solved, reopened) and to give back
        what an assignment counted. Moving a ticket between agents moves its counts. Caps are not checked: a
        person may assign past them. With `as_of` (the `updated_at` of the ticket snapshot this comes from), a
        snapshot older than the last one applied changes nothing and returns None; one of the same time is applied
        if it says something else (Zendesk's `updated_at` has whole seconds: two changes within one second), and
        changes nothing if not; otherwise returns the marker it replaced (or found). `read` is the marker the
        caller has just read (saves reading it again).
        """
        change = CountChange(self._table, subdomain)
        for _ in range(ATTEMPTS):
            marker = read if read is not None else self.marker(subdomain, ticket_id)
            read = None  # a retry after a conflict reads it again
            if as_of is not None and marker.at is not None and marker.at > as_of:
                return None  # an older snapshot: outdated
            if (agent_id, is_open) == (marker.agent_id, marker.open) and (as_of is None or marker.at == as_of):
                return marker  # nothing new (a repeated snapshot, or the service's own assignment's events)
            ids = {i for i in (marker.agent_id, agent_id) if i is not None}
            agents = self.agents(subdomain, {i: (names or {}).get(i, "") for i in ids})
            items, new = [], Marker()
            if agent_id is not None and agent_id == marker.agent_id:  # the same holder: only `open` may change
                new = Marker(agent_id, is_open, marker.date)
                if marker.open and not is_open:
                    items.append(change.release(agents[agent_id], Marker(agent_id, True), daily=False))
                elif is_open and not marker.open:
                    items.append(change.take(agents[agent_id], "", is_open=True, daily=False))
            else:
                if marker.agent_id is not None:
                    items.append(change.release(agents[marker.agent_id], marker))
                if agent_id is not None:
                    agent = agents[agent_id]
                    day = local_day(agent.time_zone, now)
                    items.append(change.take(agent, day, is_open=is_open))
                    new = Marker(agent_id, is_open, day)
            if new == marker and (as_of is None or marker.at == as_of):
                return marker  # nothing new (a repeated snapshot, or the service's own assignment's events)
            # Even an unchanged count records a newer snapshot's time, so that an older one arriving later is
            # recognised as older.
            writes = [i for i in items if i is not None] + [change.mark(ticket_id, marker, new, now, as_of=as_of)]
            if self.transact(writes, "counting a ticket", conflicts_ok=True) is None:
                return marker
        raise StorageError("counting a ticket kept conflicting with other writers")

    def absent_agents(self, subdomain: str) -> list[tuple[AgentRecord, str | None]]:
        """The agents that may be out of office (own status ooo, or the app's field on) or whose absence was
        handled (assignment/absence.py), with the key of that absence (`reassigned_for`)."""
        items = query_all(
            self._dynamodb, "reading the absent agents", TableName=self._table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :agents)",
            FilterExpression="#status = :ooo OR ooo_app = :yes OR attribute_exists(reassigned_for)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":agents": AGENT_PREFIX,
                                                 ":ooo": "ooo", ":yes": True}))
        return [(agent_from_item(item), item.get("reassigned_for")) for item in items]

    def reassigned_for(self, subdomain: str, agent_id: int) -> str | None:
        """The key of the agent's absence whose tickets were last queued for reassignment (None: none)."""
        try:
            answer = self._dynamodb.get_item(
                TableName=self._table, ConsistentRead=True, ProjectionExpression="reassigned_for",
                Key=serialize({"pk": account_pk(subdomain), "sk": agent_sk(agent_id)}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading an agent's absence") from exc
        return (deserialize(answer.get("Item")) or {}).get("reassigned_for")

    def mark_reassigned(self, subdomain: str, agent_id: int, key: str | None, was: str | None) -> bool:
        """Record that the absence `key` was handled (None: forget it), if the record still says `was`; False if
        another run changed it first. Not an availability change: neither version moves."""
        condition = "attribute_not_exists(reassigned_for)" if was is None else "reassigned_for = :was"
        update = "SET #id = :id, reassigned_for = :key" if key is not None else "REMOVE reassigned_for"
        values = {k: v for k, v in {":was": was, ":key": key, ":id": agent_id if key is not None else None}.items()
                  if v is not None}
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": agent_sk(agent_id)}),
            UpdateExpression=update, ConditionExpression=condition,
            **({"ExpressionAttributeNames": {"#id": "id"}} if key is not None else {}),
            **({"ExpressionAttributeValues": serialize(values)} if values else {})), "marking an absence handled")
        return answer is not None

    def change_unless_older(self, subdomain: str, agent_id: int, changes: Mapping[str, Any], order_field: str,
                        order_value: float, now: float) -> bool:
        """Like `change`, unless the agent's stored `order_field` is greater than `order_value` (absent: applied),
        which becomes `order_value`: last writer wins by the event's own order. False for an older event; a
        redelivery of the event applied last is applied again (True), so that its follow-ups (a wake, an absence)
        run again if they failed the first time (they are idempotent)."""
        unknown = set(changes) - set(AVAILABILITY_FIELDS)
        if unknown or order_field in AVAILABILITY_FIELDS or order_field in MARKER_FIELDS:
            raise ValueError(f"not an availability field, or not an order field: {sorted(unknown) or order_field}")
        keys = CountChange(self._table, subdomain)
        for _ in range(ATTEMPTS):
            update = self._change_item(keys, agent_id, {**changes}, now, order=(order_field, order_value))
            codes = self.transact([update, self._stamp_item(keys)], "changing an agent's availability",
                                  conflicts_ok=True)
            if codes is None:
                return True
            if codes[0] == CONDITION_FAILED:
                return False
        raise StorageError("changing an agent's availability kept conflicting with other writers")

    def marker(self, subdomain: str, ticket_id: int) -> Marker:
        try:
            answer = self._dynamodb.get_item(
                TableName=self._table, ConsistentRead=True,
                ProjectionExpression=", ".join((*MARKER_FIELDS, "counted_at")),
                Key=serialize({"pk": account_pk(subdomain), "sk": ticket_sk(ticket_id)}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading a ticket's counts") from exc
        return marker_of(deserialize(answer.get("Item")))

    def marker_and_availability(self, subdomain: str, ticket_id: int) -> tuple[Marker, dict[str, Any]]:
        """A ticket's marker and the account's AVAILABILITY item (its policy, assignment/policy.py) in one read:
        what a ticket event needs."""
        items = self.batch_get([serialize({"pk": account_pk(subdomain), "sk": sk})
                                for sk in (ticket_sk(ticket_id), AVAILABILITY_SK)], "reading a ticket's counts")
        by_sk = {item.get("sk"): item for item in items}
        return marker_of(by_sk.get(ticket_sk(ticket_id))), by_sk.get(AVAILABILITY_SK, {})

    def records(self, subdomain: str, ticket_ids: list[int]) -> dict[int, tuple[Marker, int | None]]:
        """The markers and `ttl` of these tickets' records (consistent, 100 a call); a ticket without one is absent."""
        found: dict[int, tuple[Marker, int | None]] = {}
        for start in range(0, len(ticket_ids), BATCH_SIZE):
            keys = [serialize({"pk": account_pk(subdomain), "sk": ticket_sk(t)})
                    for t in ticket_ids[start:start + BATCH_SIZE]]
            for item in self.batch_get(keys, "reading tickets' counts"):
                ttl = item.get("ttl")
                found[int(str(item["sk"]).rsplit("#", 1)[1])] = (marker_of(item), int(ttl) if ttl else None)
        return found

    def listed(self, subdomain: str, fields: tuple[str, ...] | None = None) -> dict[int, AgentRecord]:
        """Every agent item of the account (consistent; one Query of items under 1 KB, 1 MB a page). With `fields`
        (e.g. OVERVIEW_FIELDS), only those attributes are read (a read costs per attribute returned); the others
        take their defaults."""
        projection: dict[str, Any] = {}
        if fields is not None:
            names = {f"#{n}": n for n in dict.fromkeys(("sk", *fields))}
            projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        items = query_all(self._dynamodb, "listing the agents", TableName=self._table, ConsistentRead=True,
                          KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", **projection,
                          ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": AGENT_PREFIX}))
        return {agent.id: agent for agent in map(agent_from_item, items)}

    def held_open(self, subdomain: str, agent_ids: list[int]) -> dict[int, list[int]]:
        """The tickets whose markers count open for these agents, by agent.

        Cost: the marker has no index, so this Query reads every TICKET record of the account (the filter applies
        after the read): about 300 bytes a record, records live 90 days (400 without a claim), so 100,000 tickets
        are ~30 MB, ~4,000 read units eventually consistent. The reconciliation asks it only when a count does not
        match what Zendesk's search shows, at most once a run.
        """
        held: dict[int, list[int]] = {i: [] for i in agent_ids}
        for start in range(0, len(agent_ids), BATCH_SIZE):  # an IN list takes at most 100 values
            chunk = agent_ids[start:start + BATCH_SIZE]
            values: dict[str, Any] = {f":a{n}": i for n, i in enumerate(chunk)}
            listed = ", ".join(values)
            values.update({":pk": account_pk(subdomain), ":prefix": TICKET_PREFIX, ":open": True})
            items = query_all(
                self._dynamodb, "finding the tickets counted open", TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                FilterExpression=f"counted_open = :open AND counted_agent_id IN ({listed})",
                ProjectionExpression="sk, counted_agent_id", ExpressionAttributeValues=serialize(values))
            for item in items:
                held[int(item["counted_agent_id"])].append(int(str(item["sk"]).rsplit("#", 1)[1]))
        return held

    def keep(self, subdomain: str, ticket_id: int, until: float) -> bool:
        """Make an existing ticket record live until `until` (DynamoDB's TTL) unless it already does; whether it
        was written."""
        return conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": ticket_sk(ticket_id)}),
            UpdateExpression="SET #ttl = :until", ConditionExpression="attribute_exists(pk) AND #ttl < :until",
            ExpressionAttributeNames={"#ttl": "ttl"}, ExpressionAttributeValues=serialize({":until": int(until)})),
            "keeping a ticket's record") is not None

    def set_open_count(self, subdomain: str, agent_id: int, read: int, right: int, now: float) -> bool:
        """Set an agent's open count to `right` if it is still `read` (a count no ticket explains); whether it was."""
        return conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": agent_sk(agent_id)}),
            UpdateExpression="SET open_count = :right, updated_at = :now",
            ConditionExpression="open_count = :read" if read else
                                "attribute_not_exists(open_count) OR open_count = :read",
            ExpressionAttributeValues=serialize({":right": right, ":read": read, ":now": now})),
            "correcting an open count") is not None

    def transact(self, items: list[dict[str, Any]], action: str, *,
                 conflicts_ok: bool = False) -> list[str] | None:
        """One TransactWriteItems (aws/dynamo.py `transact`)."""
        return transact(self._dynamodb, items, action, conflicts_ok=conflicts_ok)


def effective_caps(agent: AgentRecord, policy: Any) -> tuple[int | None, int | None]:
    """The agent's caps: its own overrides, else the account's defaults (`policy.open_cap`, `policy.daily_cap`)."""
    open_cap = agent.open_cap if agent.open_cap is not None else getattr(policy, "open_cap", None)
    daily_cap = agent.daily_cap if agent.daily_cap is not None else getattr(policy, "daily_cap", None)
    return open_cap, daily_cap


def uncounted(agent: AgentRecord, marker: Marker) -> AgentRecord:
    """The agent as if this ticket were not in its counts (to ask whether it may still take the ticket)."""
    if marker.agent_id != agent.id:
        return agent
    return dataclasses.replace(
        agent, open_count=agent.open_count - (1 if marker.open else 0),
        daily_count=agent.daily_count - (1 if marker.date is not None and marker.date == agent.daily_date else 0))


