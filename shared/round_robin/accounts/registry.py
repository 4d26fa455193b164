"""The account registry: one DynamoDB item per connected Zendesk account (no secrets in it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, query_all, serialize
from round_robin.table import ACCOUNT_SK, ACCOUNTS_PARTITION, INDEX, account_pk

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"
MAX_ERRORS = 5  # of a maintenance run's errors kept on the account
ERROR_LENGTH = 300


@dataclass(frozen=True)
class Account:
    subdomain: str
    status: str
    auth_method: str
    connected_user_id: int | None
    connected_user_name: str | None
    connected_at: int
    updated_at: int
    first_connected_at: int | None = None
    webhook_id: str | None = None
    trigger_id: str | None = None
    events_webhook_id: str | None = None  # the event-subscribed webhook (zendesk/hooks.py)
    excluded_agent_ids: tuple[int, ...] = ()  # account setting: never in rotation
    broken_reason: str | None = None  # why the account needs reconnecting (cleared by connecting)
    broken_at: int | None = None
    last_refresh_at: int | None = None  # maintenance facts, written by record_maintenance only
    health: str | None = None
    health_checked_at: int | None = None
    last_maintenance: dict[str, int] | None = None  # the last maintenance run's counts (swept, requeued, ...)
    last_maintenance_errors: tuple[str, ...] = ()  # the last run's errors (the first few, shortened)
    expiry_warned_for: int | None = None  # the expiry of a token without refresh token the operators were told of
    admin_event_at: int | None = None  # when the operators were told the connecting admin changed
    # The log's agent index filled in for records logged before it existed (maintenance.py, step 9), written by
    # record_log_index only: where the next run reads on (DynamoDB's LastEvaluatedKey: keys, nothing secret;
    # None: from the newest), and when the whole log had been read (then the step never runs again)
    log_index_cursor: dict[str, Any] | None = None
    log_index_filled_at: int | None = None


class AccountRegistry:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def get(self, subdomain: str) -> Account | None:
        """The account's record, or None if it was never connected."""
        try:
            answer = self._dynamodb.get_item(
                TableName=self._table, Key=serialize({"pk": account_pk(subdomain), "sk": ACCOUNT_SK}),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the account") from exc
        item = deserialize(answer.get("Item"))
        if item is None:
            return None
        return _account(subdomain, item)

    def save(self, account: Account) -> None:
        """Write the account's record; `first_connected_at` survives reconnects."""
        # Settings (excluded agents) are changed by set_excluded only, so a reconnect keeps them.
        kept = ("subdomain", "first_connected_at", "excluded_agent_ids", "last_refresh_at", "health",
                "health_checked_at", "last_maintenance", "last_maintenance_errors", "expiry_warned_for",
                "admin_event_at", "log_index_cursor", "log_index_filled_at")
        values = {k: v for k, v in asdict(account).items() if k not in kept}
        names = {f"#{k}": k for k in values}
        expression = ", ".join(f"#{k} = :{k}" for k in values if values[k] is not None)
        removed = [f"#{k}" for k in values if values[k] is None]
        update = (
            f"SET {expression}, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, "
            "first_connected_at = if_not_exists(first_connected_at, :connected_at)"
        )
        if removed:
            update += " REMOVE " + ", ".join(removed)
        attribute_values = {f":{k}": v for k, v in values.items() if v is not None}
        attribute_values.update({":gsi1pk": ACCOUNTS_PARTITION, ":gsi1sk": account.subdomain})
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=serialize({"pk": account_pk(account.subdomain), "sk": ACCOUNT_SK}),
                UpdateExpression=update,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(attribute_values),
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the account") from exc

    def set_events_webhook(self, subdomain: str, webhook_id: str, now: float) -> bool:
        """Record the events webhook that the maintenance made for an account connected before it existed; False
        if the account has one already (a connect recorded its own meanwhile) or is gone."""
        return self._change(subdomain, "SET events_webhook_id = :id, updated_at = :now",
                            "attribute_exists(pk) AND attribute_not_exists(events_webhook_id)",
                            {":id": webhook_id, ":now": int(now)}, "recording the events webhook")

    def set_excluded(self, subdomain: str, agent_ids: list[int], now: float) -> None:
        """The account setting: agents kept out of every rotation (applied at the next roster import)."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=serialize({"pk": account_pk(subdomain), "sk": ACCOUNT_SK}),
                UpdateExpression="SET excluded_agent_ids = :ids, updated_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize({":ids": sorted(set(agent_ids)), ":now": int(now)}),
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the account's settings") from exc

    def list(self) -> list[Account]:
        """Every account ever connected (the gsi1 index, partition ACCOUNTS), by subdomain."""
        items = query_all(self._dynamodb, "listing the accounts", TableName=self._table, IndexName=INDEX,
                          KeyConditionExpression="gsi1pk = :accounts",
                          ExpressionAttributeValues=serialize({":accounts": ACCOUNTS_PARTITION}))
        return [_account(item["gsi1sk"], item) for item in items]

    def mark_needs_reconnect(self, subdomain: str, reason: str, now: float, *, since: float | None = None) -> bool:
        """Flag a connected account as broken; True if this call changed it (so alert once, not per ticket).

        `since`: when the work that found the connection broken began. An account (re)connected after that is
        left alone: the failure was about the credentials the reconnect replaced. (`connected_at` is whole
        seconds: only a reconnect within the same second as the work's start can still be flagged.)
        """
        condition = "#status = :connected"
        values = {":broken": NEEDS_RECONNECT, ":connected": CONNECTED, ":reason": reason, ":now": int(now)}
        if since is not None:
            condition += " AND connected_at < :since"
            values[":since"] = since
        return self._change(subdomain, "SET #status = :broken, broken_reason = :reason, broken_at = :now, "
                            "updated_at = :now", condition, values, "flagging the account", {"#status": "status"})

    def mark_expiry_warned(self, subdomain: str, deadline: float, now: float) -> bool:
        """Note that the operators were warned of the credential expiring at `deadline`; True the first time."""
        return self._change(subdomain, "SET expiry_warned_for = :deadline, expiry_warned_at = :now",
                            "attribute_exists(pk) AND "
                            "(attribute_not_exists(expiry_warned_for) OR expiry_warned_for <> :deadline)",
                            {":deadline": int(deadline), ":now": int(now)}, "noting the expiry warning")

    def mark_admin_event(self, subdomain: str, event_id: str, now: float) -> bool:
        """Note that the operators were told of Zendesk event `event_id` about the connecting admin; True the
        first time (a redelivery of the same event is not told twice)."""
        return self._change(subdomain, "SET admin_event_id = :event, admin_event_at = :now",
                            "attribute_exists(pk) AND "
                            "(attribute_not_exists(admin_event_id) OR admin_event_id <> :event)",
                            {":event": event_id, ":now": int(now)}, "noting the admin alert")

    def record_maintenance(self, subdomain: str, now: float, *, refreshed: bool, health: str,
                           outcome: dict[str, int] | None = None, errors: Sequence[str] | None = None) -> None:
        """What the scheduled run found: last refresh time and health, and the run's counts and errors when given
        (the first MAX_ERRORS, each cut to ERROR_LENGTH characters: the console's Health page shows them)."""
        update = "SET health = :health, health_checked_at = :now"
        values: dict[str, Any] = {":health": health, ":now": int(now)}
        if refreshed:
            update += ", last_refresh_at = :now"
        if outcome is not None:
            update += ", last_maintenance = :outcome"
            values[":outcome"] = outcome
        if errors is not None:
            update += ", last_maintenance_errors = :errors"
            values[":errors"] = [e[:ERROR_LENGTH] for e in errors[:MAX_ERRORS]]
        self._change(subdomain, update, "attribute_exists(pk)", values, "recording the maintenance")

    def record_log_index(self, subdomain: str, cursor: dict[str, Any] | None, now: float) -> None:
        """How far the log's agent index has been filled in (maintenance.py, step 9): the cursor the next run reads
        on from, or, with None, that the whole log has been read (the cursor is then removed)."""
        if cursor is None:
            update = "SET log_index_filled_at = :now REMOVE log_index_cursor"
            values: dict[str, Any] = {":now": int(now)}
        else:  # as JSON text: the key as DynamoDB gave it back, whatever its fields
            update = "SET log_index_cursor = :cursor"
            values = {":cursor": json.dumps(cursor, sort_keys=True)}
        self._change(subdomain, update, "attribute_exists(pk)", values, "recording the log index's progress")

    def _change(self, subdomain: str, update: str, condition: str, values: dict[str, Any], action: str,
                names: dict[str, str] | None = None) -> bool:
        """A conditional update of the account's item; False when `condition` did not hold (or it is gone)."""
        return conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table,
            Key=serialize({"pk": account_pk(subdomain), "sk": ACCOUNT_SK}),
            UpdateExpression=update, ConditionExpression=condition,
            ExpressionAttributeValues=serialize(values), **({"ExpressionAttributeNames": names} if names else {}),
        ), action) is not None


def _account(subdomain: str, item: dict[str, Any]) -> Account:
    fields = Account.__dataclass_fields__
    values = {k: v for k, v in item.items() if k in fields and k != "subdomain"}
    values["excluded_agent_ids"] = tuple(values.get("excluded_agent_ids", ()))
    values["last_maintenance_errors"] = tuple(values.get("last_maintenance_errors", ()))
    values["log_index_cursor"] = _cursor(values.get("log_index_cursor"))
    return Account(subdomain=subdomain, **values)


def _cursor(stored: Any) -> dict[str, Any] | None:
    """The log index's stored cursor; one that cannot be read starts the pass again from the newest record (what
    is done is skipped by the read's filter), rather than failing every run."""
    try:
        cursor = json.loads(stored) if isinstance(stored, str) else None
    except ValueError:
        return None
    return cursor if isinstance(cursor, dict) else None
