"""Rotation rosters: for each Zendesk group, the eligible agents in a stable order, plus the account-wide
roster (key `*`) used for tickets without a group.

Eligible means an active, unsuspended agent or admin who can be assigned tickets and holds an assignable
membership of the group (Zendesk's List Assignable Memberships). The account-wide roster holds the eligible agents
with at least one such membership: Zendesk requires every agent to belong to a group ("All team members must belong
to at least one group", support.zendesk.com/hc/en-us/articles/4408821536794), so an agent with no assignable
membership is one whose role cannot take tickets. Re-importing keeps the rotation's place and the order of the
agents who stay; newcomers join at the end.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.assignment.rotation import (
    ACCOUNT_WIDE,
    Member,
    Roster,
    Rotation,
    last_from_position,
    merge_members,
    rebase_last,
)
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, get_all, query_all, serialize
from round_robin.errors import StorageError
from round_robin.table import ROSTER_PREFIX, account_pk, roster_sk, rotation_sk

_ROLES = {"agent", "admin"}
# role_type 1 light agent, 2 chat-only agent, 3 contributor: role "agent", yet Zendesk refuses them as assignees
# (developer.zendesk.com/api-reference/ticketing/users/users/#json-format). 0 (custom role) may or may not take
# tickets: the assignable memberships decide. Null is a plain agent; 4 and 5 are admins.
_CANNOT_TAKE_TICKETS = {1, 2, 3}


def is_eligible(user: dict[str, Any]) -> bool:
    """An active, unsuspended agent or admin whose role can take tickets."""
    return (user.get("role") in _ROLES and user.get("role_type") not in _CANNOT_TAKE_TICKETS
            and user.get("active") is True and not user.get("suspended", False))


def build_rosters(
    users: Iterable[dict[str, Any]], groups: Iterable[dict[str, Any]], memberships: Iterable[dict[str, Any]],
    excluded: Iterable[int] = (),
) -> list[Roster]:
    """Rosters from Zendesk users, groups and assignable group memberships (pure; members ordered by user id).

    `memberships` are the assignable ones (`/group_memberships/assignable`): an eligible user without one in a
    live group is in no roster, not even the account-wide one. `excluded` are agents the account's settings keep
    out of every rotation.
    """
    return list(iter_rosters(users, groups, memberships, excluded))


def iter_rosters(
    users: Iterable[dict[str, Any]], groups: Iterable[dict[str, Any]], memberships: Iterable[dict[str, Any]],
    excluded: Iterable[int] = (),
) -> Iterator[Roster]:
    """build_rosters, one roster at a time (the account-wide one last), consuming each input once as it goes:
    users, groups and memberships may be streams of Zendesk pages, and only the eligible agents (as Members) and
    each group's member ids are kept, never the pages themselves."""
    left_out = set(excluded)
    eligible = eligible_members(users, left_out)
    live_groups = {str(g["id"]): g.get("name") or str(g["id"]) for g in groups if not g.get("deleted", False)}
    yield from rosters_of(eligible, live_groups, ((m["user_id"], m["group_id"]) for m in memberships))


def eligible_members(users: Iterable[dict[str, Any]], excluded: set[int]) -> dict[int, Member]:
    """The rotation's candidates among `users`, by id."""
    return {u["id"]: Member(u["id"], u.get("name") or str(u["id"]))
            for u in users if is_eligible(u) and u["id"] not in excluded}


def rosters_of(eligible: dict[int, Member], live_groups: dict[str, str],
               memberships: Iterable[tuple[int, int | str]]) -> Iterator[Roster]:
    """Each live group's roster from (user id, group id) assignable memberships, then the account-wide one."""
    by_group: dict[str, set[int]] = {gid: set() for gid in live_groups}
    for user_id, group_id in memberships:
        gid = str(group_id)
        if gid in by_group and user_id in eligible:
            by_group[gid].add(user_id)
    assignable: set[int] = set()
    for gid in sorted(live_groups, key=_group_sort_key):
        ids = by_group.pop(gid)
        assignable |= ids
        yield Roster(gid, live_groups[gid], tuple(eligible[uid] for uid in sorted(ids)))
    yield Roster(ACCOUNT_WIDE, "All agents", tuple(eligible[uid] for uid in sorted(assignable)))


def _ordered(rosters: Iterable[Roster]) -> builtins.list[Roster]:
    """Rosters by group id, account-wide last (how every reader lists them)."""
    return sorted(rosters, key=lambda r: (r.group_id == ACCOUNT_WIDE, _group_sort_key(r.group_id)))


def _group_sort_key(group_id: str) -> tuple[int, str]:
    return (int(group_id), "") if group_id.isdigit() else (0, group_id)


@dataclass
class RosterSync:
    """What RosterStore.sync stored: the rosters, and the memberships added (`joined`) and removed (`left`)."""

    rosters: list[Roster]
    joined: int = 0
    left: int = 0

    def count(self, before: Iterable[Member], after: Iterable[Member]) -> None:
        old, new = {m.id for m in before}, {m.id for m in after}
        self.joined += len(new - old)
        self.left += len(old - new)


CACHED_ACCOUNTS = 20  # accounts whose rosters `current` keeps (~150 KB an account of 5,000 agents)


class RosterStore:
    """Rosters in DynamoDB: `ROSTER#<group>` holds the ordered members (written only when they change) and
    `ROTATION#<group>` the rotation state (selection.py moves it); see round_robin/table.py."""

    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb
        # current(): the rosters this warm container read, by account then group (a few accounts: the console's)
        self._read: dict[str, dict[str, Roster]] = {}

    def list(self, subdomain: str) -> list[Roster]:
        """Every roster of the account, account-wide last."""
        return _ordered(roster_from_item(i) for i in self._query(subdomain, ROSTER_PREFIX))

    def current(self, subdomain: str) -> builtins.list[Roster]:
        """What `list` returns, without reading again the rosters this container has read: one consistent Query of
        every roster's group and version (a few bytes a roster), then only the rosters whose version moved, are
        new, or have no version (stored before rosters had one) are read. A roster's version moves with every
        change of its members or name (`_write`), so a roster of the same version is the same roster."""
        versions = {str(i["group_id"]): int(i.get("version", 0)) for i in query_all(
            self._dynamodb, "reading the rosters' versions", TableName=self._table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", ProjectionExpression="group_id, #version",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": ROSTER_PREFIX}))}
        known = self._read.pop(subdomain, {})  # popped: the accounts read last are kept (see below)
        kept = {g: known[g] for g, v in versions.items() if v and g in known and known[g].version == v}
        fresh = {r.group_id: r for r in self._get_many(subdomain, [g for g in versions if g not in kept])}
        current = {**kept, **fresh}
        self._read[subdomain] = {g: r for g, r in current.items() if r.version}
        while len(self._read) > CACHED_ACCOUNTS:
            del self._read[next(iter(self._read))]
        return _ordered(current.values())

    def _get_many(self, subdomain: str, group_ids: builtins.list[str]) -> builtins.list[Roster]:
        """These groups' rosters, read consistently (BatchGetItem: 100 keys a call); a group whose roster is gone
        meanwhile is left out."""
        keys = [serialize({"pk": account_pk(subdomain), "sk": roster_sk(g)}) for g in group_ids]
        return [roster_from_item(item) for item in get_all(self._dynamodb, self._table, keys, "reading the rosters")]

    def group_names(self, subdomain: str) -> dict[str, str]:
        """Each roster's group name by group id, without the members (a projection: a few bytes a roster)."""
        items = query_all(
            self._dynamodb, "reading the group names", TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", ProjectionExpression="group_id, group_name",
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": ROSTER_PREFIX}))
        return {str(i["group_id"]): str(i.get("group_name", "")) for i in items}

    def rotations(self, subdomain: str) -> dict[str, Rotation]:
        """Every group's rotation state (who was assigned last), by group id: one Query of small items."""
        return {str(i["group_id"]): rotation_from_item(i) for i in self._query(subdomain, "ROTATION#")}

    def get(self, subdomain: str, group_id: str, *, consistent: bool = True) -> Roster | None:
        """One group's roster; None if it has none."""
        item = self._get(subdomain, roster_sk(group_id), consistent)
        return roster_from_item(item) if item else None

    def start_rotation(self, subdomain: str, group_id: str) -> tuple[Roster, Rotation] | None:
        """A roster without a rotation item (stored before rotations had their own): create its rotation, where its
        counter stood (the agent who got `position` was the last one), unless another worker just did."""
        item = self._get(subdomain, roster_sk(group_id), True)
        if item is None:
            return None
        roster = roster_from_item(item)
        rotation = Rotation(last_from_position(roster.members, item.get("position", 0)), item.get("position", 0),
                            roster.version)
        conditional_write(lambda: self._dynamodb.put_item(
            TableName=self._table, Item=_rotation_item(subdomain, group_id, rotation),
            ConditionExpression="attribute_not_exists(pk)"), "starting the rotation")
        return roster, rotation

    def sync(self, subdomain: str, imported: Iterable[Roster], now: float, *, prune: bool = True) -> RosterSync:
        """Store freshly imported rosters, keeping the order of staying members and the rotation's place.

        `imported` is consumed one roster at a time, each compared with its stored roster read just then, so a
        re-sync of a large account holds one group's stored roster at a time, never the account's twice. With
        `prune`, rosters of groups that are not in `imported` are deleted (a full import); without it only the
        given rosters are written (one group refreshed). Unchanged rosters are not written. Returns the rosters
        as stored and how many memberships were added and removed.
        """
        result = RosterSync([])
        try:
            for roster in imported:
                old = self.get(subdomain, roster.group_id)
                stored = self._store(subdomain, roster, old, now)
                result.count(old.members if old else (), stored.members)
                result.rosters.append(stored)
            kept = {r.group_id for r in result.rosters}
            for group_id in self._group_ids(subdomain) if prune else ():
                if group_id in kept:
                    continue
                gone = self.get(subdomain, group_id)
                result.count(gone.members if gone else (), ())
                for sk in (roster_sk(group_id), rotation_sk(group_id)):
                    self._dynamodb.delete_item(TableName=self._table,
                                               Key=serialize({"pk": account_pk(subdomain), "sk": sk}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the rosters") from exc
        return result

    def _group_ids(self, subdomain: str) -> builtins.list[str]:
        """The groups that have a stored roster (keys only)."""
        items = query_all(
            self._dynamodb, "reading the rosters", TableName=self._table, ConsistentRead=True,
            ProjectionExpression="sk", KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": ROSTER_PREFIX}),
        )
        return [i["sk"][len(ROSTER_PREFIX):] for i in items]

    def _store(self, subdomain: str, roster: Roster, old: Roster | None, now: float, attempts: int = 5) -> Roster:
        """Write one roster and re-point its rotation in one transaction, if anything changed. The rotation must not
        have moved since we read it (a concurrent assignment makes us read again and retry)."""
        for _ in range(attempts):
            members = merge_members(old.members, roster.members) if old else roster.members
            if old is not None and members == old.members and roster.group_name == old.group_name:
                return old  # nothing changed: no write (a re-sync of 5,000 agents costs no roster writes)
            stored = self._write(subdomain, Roster(roster.group_id, roster.group_name, members), old, now)
            if stored is not None:
                return stored
            old = self.get(subdomain, roster.group_id)  # the rotation moved (or the roster changed): read again
        raise StorageError("the rotation kept moving while the roster was being updated")

    def set_member(self, subdomain: str, group_id: str, member: Member, present: bool, now: float, *,
                   read: Roster | None = None, attempts: int = 5) -> bool | None:
        """Make one agent a member of a group's roster (appended at the end, or renamed) or not (`present`), with
        the roster's version compare-and-set; the others keep their order and the rotation its place. True if the
        roster changed, False if it already agreed, None if the group has no roster (the caller imports it).
        `read`: the roster as just read (saves a read; a stale one only costs a retry)."""
        for attempt in range(attempts):
            old = read if attempt == 0 and read is not None else self.get(subdomain, group_id)
            if old is None:
                return None
            if present:
                listed = any(m.id == member.id for m in old.members)
                members = tuple(member if m.id == member.id else m for m in old.members) if listed \
                    else (*old.members, member)
            else:
                members = tuple(m for m in old.members if m.id != member.id)
            if members == old.members:
                return False
            if self._write(subdomain, Roster(group_id, old.group_name, members), old, now) is not None:
                return True
        raise StorageError("the roster kept changing while one member was being updated")

    def _write(self, subdomain: str, roster: Roster, old: Roster | None, now: float) -> Roster | None:
        """One attempt at storing `roster` (its final members) in place of `old`, re-pointing the rotation, in one
        transaction conditional on `old`'s version and the rotation's sequence; None if either moved."""
        try:
            version = (old.version if old else 0) + 1
            rotation_item = self._get(subdomain, rotation_sk(roster.group_id), True)
            if rotation_item is None and old is not None:  # a roster stored before rotations had their own item
                self.start_rotation(subdomain, roster.group_id)
                rotation_item = self._get(subdomain, rotation_sk(roster.group_id), True)
            rotation = rotation_from_item(rotation_item) if rotation_item else Rotation()
            members = roster.members
            last = rebase_last(old.members, rotation.last_agent_id, members) if old else None
            stored = Roster(roster.group_id, roster.group_name, members, version)
            writes = [
                {"Put": {"TableName": self._table, "Item": _roster_item(subdomain, stored, now),
                         "ConditionExpression": _version_is(old.version) if old else "attribute_not_exists(pk)",
                         **({"ExpressionAttributeNames": {"#version": "version"},
                             "ExpressionAttributeValues": serialize({":version": old.version})} if old else {})}},
                {"Put": {"TableName": self._table,
                         "Item": _rotation_item(subdomain, roster.group_id, Rotation(last, rotation.sequence, version)),
                         "ConditionExpression": ("#sequence = :sequence" if rotation_item
                                                 else "attribute_not_exists(pk)"),
                         **({"ExpressionAttributeNames": {"#sequence": "sequence"},
                             "ExpressionAttributeValues": serialize({":sequence": rotation.sequence})}
                            if rotation_item else {})}},
            ]
            self._dynamodb.transact_write_items(TransactItems=writes)
            return stored
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise storage_error(exc, "saving the roster") from exc
            return None
        except BotoCoreError as exc:
            raise storage_error(exc, "saving the roster") from exc

    def _query(self, subdomain: str, prefix: str) -> builtins.list[dict[str, Any]]:
        return query_all(
            self._dynamodb, "reading the rosters", TableName=self._table, ConsistentRead=True,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=serialize({":pk": account_pk(subdomain), ":prefix": prefix}),
        )

    def _get(self, subdomain: str, sk: str, consistent: bool) -> dict[str, Any] | None:
        try:
            answer = self._dynamodb.get_item(TableName=self._table, ConsistentRead=consistent,
                                             Key=serialize({"pk": account_pk(subdomain), "sk": sk}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the roster") from exc
        return deserialize(answer.get("Item"))


def roster_from_item(item: dict[str, Any]) -> Roster:
    """A ROSTER item (deserialised) as a Roster."""
    return Roster(
        group_id=item["group_id"],
        group_name=item.get("group_name", ""),
        members=tuple(Member(m["id"], m.get("name", "")) for m in item.get("members", [])),
        version=item.get("version", 0),
    )


def _version_is(version: int) -> str:
    # Rosters stored before they had a version have none: version 0.
    return "(attribute_not_exists(#version) OR #version = :version)" if version == 0 else "#version = :version"


def _roster_item(subdomain: str, roster: Roster, now: float) -> dict[str, Any]:
    return serialize({"pk": account_pk(subdomain), "sk": roster_sk(roster.group_id), "group_id": roster.group_id,
                      "group_name": roster.group_name, "version": roster.version, "updated_at": int(now),
                      "members": [{"id": m.id, "name": m.name} for m in roster.members]})


def rotation_from_item(item: dict[str, Any]) -> Rotation:
    """A ROTATION item (deserialised) as a Rotation."""
    return Rotation(item.get("last_agent_id"), item.get("sequence", 0), item.get("roster_version", 0))


def _rotation_item(subdomain: str, group_id: str, rotation: Rotation) -> dict[str, Any]:
    return serialize({"pk": account_pk(subdomain), "sk": rotation_sk(group_id), "group_id": group_id,
                      "last_agent_id": rotation.last_agent_id, "sequence": rotation.sequence,
                      "roster_version": rotation.roster_version})
