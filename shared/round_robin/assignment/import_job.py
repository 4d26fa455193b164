"""A connect's agent import, in steps that outlive a request: Zendesk's lists (groups, agents, assignable
memberships) are read one cursor page at a time and each page is staged in DynamoDB with the cursor link to the
next, so the OAuth callback can stop at its deadline (API Gateway cuts a request at 29 s) and maintenance jobs go on
from the same page, as many invocations as the account needs. Once every page is read, the rosters are built from
the staged pages, streamed back, and stored by RosterStore.sync.

An import is known by a random 256-bit id that only the admin's browser gets (the progress link,
`/oauth/import?id=...`); only its SHA-256 is stored, as for sign-in states (connect/states.py), so the table holds
nothing that opens the progress page, and an id tells nothing about any account. Items: round_robin/table.py.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.assignment.rosters import RosterStore, RosterSync, is_eligible, rosters_of
from round_robin.assignment.rotation import Member
from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, serialize
from round_robin.aws.queue import IMPORT, MaintenanceJob, MaintenanceQueue
from round_robin.errors import StorageError
from round_robin.table import IMPORT_SK, import_page_sk, import_pk
from round_robin.zendesk import users
from round_robin.zendesk.client import ZendeskClient

RUNNING, DONE = "running", "done"
# The lists in the order they are read, then the build. Groups first: one page for most accounts.
PHASES = ("groups", "users", "memberships")
BUILD = "build"
_LISTINGS = {"groups": users.GROUPS, "users": users.AGENTS, "memberships": users.ASSIGNABLE_MEMBERSHIPS}
LIFETIME = 86_400  # seconds an import's items are kept (TTL): its progress page works for a day
STALLED_AFTER = 900  # a running import that has not moved for this long has stopped (its job dead-lettered)
SUMMARY_ROSTERS = 50  # groups listed on the finished import's page
_READ_PAGES = 20  # staged pages per DynamoDB query when building (~80 KB), so no list is read whole
_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def import_key(import_id: str) -> str:
    """The stored form of an import id (its SHA-256, hex): what jobs carry and the table holds."""
    return hashlib.sha256(import_id.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ImportProgress:
    """Where an import stands, for its progress page and the logs."""

    subdomain: str
    status: str
    phase: str
    pages: int
    agents: int
    groups: int
    memberships: int
    started_at: int
    updated_at: int
    finished_at: int | None = None
    error: str | None = None
    rosters: tuple[tuple[str, int], ...] = ()  # done: (group, agents in rotation), at most SUMMARY_ROSTERS
    roster_count: int = 0  # done: the groups with a roster
    in_rotation: int = 0  # done: agents in the account-wide roster
    joined: int = 0
    left: int = 0

    @property
    def done(self) -> bool:
        return self.status == DONE

    def stalled(self, now: float) -> bool:
        """Still running but unmoved for STALLED_AFTER seconds: its job gave up (the dead-letter queue)."""
        return not self.done and now - self.updated_at >= STALLED_AFTER


class AccountImport:
    """Imports and their staged pages in DynamoDB (see the module docstring)."""

    def __init__(self, *, table_name: str, dynamodb: Any, rosters: RosterStore,
                 clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._dynamodb = dynamodb
        self._rosters = rosters
        self._clock = clock

    def __repr__(self) -> str:
        return "AccountImport()"

    def start(self, subdomain: str, excluded: Iterable[int] = ()) -> str:
        """A new import of `subdomain`'s agents (nothing read yet); returns its id, the only copy of the raw value."""
        import_id = secrets.token_urlsafe(32)
        now = int(self._clock())
        item = {"pk": import_pk(import_key(import_id)), "sk": IMPORT_SK, "subdomain": subdomain, "status": RUNNING,
                "phase": PHASES[0], "pages": 0, "agents": 0, "groups": 0, "memberships": 0,
                "excluded": sorted(set(excluded)), "started_at": now, "updated_at": now, "ttl": now + LIFETIME}
        try:
            self._dynamodb.put_item(TableName=self._table, Item=serialize(item),
                                    ConditionExpression="attribute_not_exists(pk)")
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "starting the agent import") from exc
        return import_id

    def progress(self, import_id: str | None) -> ImportProgress | None:
        """The import an id names, or None for any id that names none (malformed, unknown, expired): one answer
        for all, so the progress page tells a stranger nothing."""
        if not import_id or not _ID.fullmatch(import_id):
            return None
        return self.get(import_key(import_id))

    def get(self, key: str) -> ImportProgress | None:
        """The import stored under `key` (import_key), unless expired."""
        item = self._item(key)
        return _progress(item) if item is not None else None

    def fetch(self, key: str, client: ZendeskClient, stop: Callable[[], bool]) -> ImportProgress | None:
        """Read and stage Zendesk's pages from where the import stands until every list is read or `stop()` says
        so (asked before each page); `client` must be the import's account's. None if the import is unknown."""
        item = self._item(key)
        while item is not None and item["phase"] in PHASES and not stop():
            item = self._read_page(key, item, client) or self._item(key)
        return _progress(item) if item is not None else None

    def build_or_defer(self, subdomain: str, key: str, progress: ImportProgress | None,
                       jobs: MaintenanceQueue | None) -> RosterSync | None:
        """After a time-boxed `fetch`: the rosters built and stored when every page was read; else the rest left to
        an import job on the maintenance queue (None). StorageError if the rest has no queue to go to."""
        synced = self.build(key) if progress is not None and progress.phase == BUILD else None
        if synced is None:
            if jobs is None:  # a caller without a queue reads every page (no deadline): not reached
                raise StorageError("the agent import was not finished and no maintenance queue can finish it")
            jobs.send(MaintenanceJob(subdomain, self._clock(), kind=IMPORT, import_key=key))
        return synced

    def build(self, key: str) -> RosterSync | None:
        """Once every page is read: the rosters built from the staged pages and stored, and the import marked done;
        None if it is not ready (or already done)."""
        item = self._item(key)
        if item is None or item["phase"] != BUILD or item["status"] != RUNNING:
            return None
        eligible = {int(agent_id): Member(int(agent_id), str(name)) for agent_id, name in self._rows(key, "users")}
        groups = {str(group_id): str(name) for group_id, name in self._rows(key, "groups")}
        memberships = ((int(user_id), group_id) for user_id, group_id in self._rows(key, "memberships"))
        synced = self._rosters.sync(item["subdomain"], rosters_of(eligible, groups, memberships), self._clock())
        groups_only = synced.rosters[:-1]
        summary = [{"name": r.group_name, "agents": len(r.members)} for r in groups_only[:SUMMARY_ROSTERS]]
        self._update(key, "SET #status = :done, finished_at = :now, updated_at = :now, rosters = :rosters, "
                     "roster_count = :count, in_rotation = :in_rotation, joined = :joined, #left = :left",
                     {":done": DONE, ":now": int(self._clock()), ":rosters": summary, ":count": len(groups_only),
                      ":in_rotation": len(synced.rosters[-1].members) if synced.rosters else 0,
                      ":joined": synced.joined, ":left": synced.left, ":running": RUNNING},
                     condition="#status = :running", names={"#status": "status", "#left": "left"})
        return synced

    def run(self, key: str, client: ZendeskClient, stop: Callable[[], bool]) -> ImportProgress | None:
        """fetch, then build if every page was read before `stop()`."""
        progress = self.fetch(key, client, stop)
        if progress is not None and progress.phase == BUILD and not progress.done and not stop():
            self.build(key)
            progress = self.get(key)
        return progress

    def discard(self, key: str) -> None:
        """Delete an import and its staged pages (a connect that failed keeps nothing of it)."""
        query: dict[str, Any] = {"TableName": self._table, "ProjectionExpression": "pk, sk",
                                 "KeyConditionExpression": "pk = :pk",
                                 "ExpressionAttributeValues": serialize({":pk": import_pk(key)})}
        try:
            while True:
                answer = self._dynamodb.query(**query)
                for item in answer.get("Items", []):
                    self._dynamodb.delete_item(TableName=self._table, Key=item)
                if "LastEvaluatedKey" not in answer:
                    return
                query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "discarding the agent import") from exc

    def failed(self, key: str, error: str) -> None:
        """Record a step's failure (it is retried) for the progress page."""
        self._update(key, "SET #error = :error, updated_at = :now",
                     {":error": error[:300], ":now": int(self._clock())}, names={"#error": "error"})

    def _read_page(self, key: str, item: dict[str, Any], client: ZendeskClient) -> dict[str, Any] | None:
        """Read the phase's next page, stage it, and move the import on; the new item, or None if another runner
        moved the import first (the caller reads it again)."""
        phase, number = item["phase"], int(item["pages"])
        listing = _LISTINGS[phase]
        if item.get("next_url"):
            records, next_url = client.page(item["next_url"], listing.key)
        else:
            records, next_url = client.page(listing.path, listing.key, listing.first_page())
        rows = _rows_of(phase, records, set(item.get("excluded", [])))
        try:
            # Written before the import moves on: a runner that dies here reads the same page again and overwrites it.
            self._dynamodb.put_item(TableName=self._table, Item=serialize({
                "pk": import_pk(key), "sk": import_page_sk(phase, number), "rows": rows,
                "ttl": int(item["started_at"]) + LIFETIME}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "staging the imported page") from exc
        next_phase = phase if next_url else (PHASES + (BUILD,))[PHASES.index(phase) + 1]
        counted = {"groups": "groups", "users": "agents", "memberships": "memberships"}[phase]
        return self._update(
            key, "SET #phase = :phase, #pages = :next, updated_at = :now, #counted = #counted + :rows"
            + (", next_url = :url" if next_url else " REMOVE next_url"),
            {":phase": next_phase, ":next": number + 1, ":now": int(self._clock()), ":rows": len(rows),
             ":pages": number, ":running": RUNNING, **({":url": next_url} if next_url else {})},
            condition="#pages = :pages AND #status = :running",
            names={"#status": "status", "#phase": "phase", "#pages": "pages", "#counted": counted})

    def _rows(self, key: str, phase: str) -> Iterator[list[Any]]:
        """The staged rows of one list, page after page, _READ_PAGES pages per query."""
        query: dict[str, Any] = {
            "TableName": self._table, "ConsistentRead": True, "Limit": _READ_PAGES,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": serialize({":pk": import_pk(key), ":prefix": f"PAGE#{phase}#"}),
        }
        while True:
            try:
                answer = self._dynamodb.query(**query)
            except (ClientError, BotoCoreError) as exc:
                raise storage_error(exc, "reading the imported pages") from exc
            for page in answer.get("Items", []):
                yield from (deserialize(page) or {}).get("rows", [])
            if "LastEvaluatedKey" not in answer:
                return
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _item(self, key: str) -> dict[str, Any] | None:
        try:
            answer = self._dynamodb.get_item(TableName=self._table, ConsistentRead=True,
                                             Key=serialize({"pk": import_pk(key), "sk": IMPORT_SK}))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the agent import") from exc
        item = deserialize(answer.get("Item"))
        if item is None or item.get("ttl", 0) <= self._clock():  # TTL deletes lazily
            return None
        return item

    def _update(self, key: str, expression: str, values: dict[str, Any], *, condition: str | None = None,
                names: dict[str, str] | None = None) -> dict[str, Any] | None:
        """Update the import item; its new attributes, or None if `condition` did not hold."""
        request: dict[str, Any] = {
            "TableName": self._table, "Key": serialize({"pk": import_pk(key), "sk": IMPORT_SK}),
            "UpdateExpression": expression, "ExpressionAttributeValues": serialize(values), "ReturnValues": "ALL_NEW",
            **({"ConditionExpression": condition} if condition else {}),
            **({"ExpressionAttributeNames": names} if names else {}),
        }
        answer = conditional_write(lambda: self._dynamodb.update_item(**request), "saving the agent import")
        return deserialize(answer.get("Attributes")) if answer is not None else None


def _rows_of(phase: str, records: list[dict[str, Any]], excluded: set[int]) -> list[list[Any]]:
    """What the rosters need of one page (rosters.py's rules: live groups, eligible agents)."""
    if phase == "groups":
        return [[str(g["id"]), g.get("name") or str(g["id"])] for g in records if not g.get("deleted", False)]
    if phase == "users":
        return [[u["id"], u.get("name") or str(u["id"])] for u in records
                if is_eligible(u) and u["id"] not in excluded]
    return [[m["user_id"], str(m["group_id"])] for m in records]


def _progress(item: dict[str, Any]) -> ImportProgress:
    return ImportProgress(
        subdomain=item["subdomain"], status=item["status"], phase=item["phase"], pages=item.get("pages", 0),
        agents=item.get("agents", 0), groups=item.get("groups", 0), memberships=item.get("memberships", 0),
        started_at=item["started_at"], updated_at=item.get("updated_at", item["started_at"]),
        finished_at=item.get("finished_at"), error=item.get("error"),
        rosters=tuple((r["name"], r["agents"]) for r in item.get("rosters", [])),
        roster_count=item.get("roster_count", 0), in_rotation=item.get("in_rotation", 0),
        joined=item.get("joined", 0), left=item.get("left", 0),
    )
