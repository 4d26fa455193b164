"""Small helpers over the low-level DynamoDB client: (de)serialisation and error translation."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.errors import StorageError

T = TypeVar("T")

CONDITION_FAILED = "ConditionalCheckFailed"  # TransactWriteItems' cancellation reason codes
CONFLICT = "TransactionConflict"  # another transaction was writing the same item: try again
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems (docs.aws.amazon.com/amazondynamodb/latest/APIReference/
# API_TransactWriteItems.html: "up to 100 action requests")
BATCH_GET_LIMIT = 100  # keys in one BatchGetItem
CONFLICT_ROUNDS = 3  # transactions tried again after a conflict, before the caller is told storage failed

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(attributes: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values to DynamoDB attribute values (None values are left out)."""
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in attributes.items() if v is not None}


def deserialize(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """DynamoDB attribute values to plain Python values (ints stay ints)."""
    if item is None:
        return None
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def conditional_write(call: Callable[[], T], action: str) -> T | None:
    """Run a conditional DynamoDB request: its answer, or None when its condition did not hold.

    Any other failure becomes StorageError naming `action`.
    """
    return conditional_write_seen(call, action)[0]


def conditional_write_seen(call: Callable[[], T], action: str) -> tuple[T | None, dict[str, Any]]:
    """As conditional_write, for a request sent with `ReturnValuesOnConditionCheckFailure="ALL_OLD"`: (its answer,
    {}) or, when its condition did not hold, (None, the item as that condition found it, deserialised)."""
    try:
        return call(), {}
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None, deserialize(exc.response.get("Item")) or {}
        raise storage_error(exc, action) from exc
    except BotoCoreError as exc:
        raise storage_error(exc, action) from exc


def query_all(dynamodb: Any, action: str, *, limit: int | None = None, **query: Any) -> list[dict[str, Any]]:
    """Every item a Query matches (following LastEvaluatedKey), deserialised; at most `limit` when given."""
    if limit:
        query["Limit"] = limit
    items: list[dict[str, Any]] = []
    try:
        while True:
            page = dynamodb.query(**query)
            items += [deserialize(i) or {} for i in page.get("Items", [])]
            if limit or "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc


def get_all(dynamodb: Any, table: str, keys: list[dict[str, Any]], action: str,
            **options: Any) -> list[dict[str, Any]]:
    """The items of `keys` (serialised keys of one table), read consistently with BatchGetItem, 100 keys a call,
    following UnprocessedKeys; deserialised, in no particular order. `options`: ProjectionExpression and its
    ExpressionAttributeNames. StorageError naming `action` on a failure."""
    items: list[dict[str, Any]] = []
    try:
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request: dict[str, Any] = {table: {"Keys": keys[start:start + BATCH_GET_LIMIT], "ConsistentRead": True,
                                               **options}}
            while request:
                answer = dynamodb.batch_get_item(RequestItems=request)
                items += [deserialize(i) or {} for i in answer.get("Responses", {}).get(table, [])]
                request = answer.get("UnprocessedKeys") or {}
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(exc, action) from exc
    return items


def transact(dynamodb: Any, items: list[dict[str, Any]], action: str, *,
             conflicts_ok: bool = False) -> list[str] | None:
    """One TransactWriteItems: None when it was applied. When it was cancelled by a failed condition or by a
    concurrent transaction on one of its items, each item's cancellation code (CONDITION_FAILED, CONFLICT, or
    "" where it did not fail) if `conflicts_ok`; any other failure is StorageError."""
    try:
        dynamodb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        reasons = exc.response.get("CancellationReasons")
        if conflicts_ok and exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and reasons:
            codes = [r.get("Code", "") if r.get("Code") != "None" else "" for r in reasons]
            if any(c in (CONDITION_FAILED, CONFLICT) for c in codes):
                return codes
        raise storage_error(exc, action) from exc
    except BotoCoreError as exc:
        raise storage_error(exc, action) from exc
    return None


def update_each(dynamodb: Any, updates: list[dict[str, Any]], action: str,
                sleep: Callable[[float], None] = time.sleep) -> list[bool]:
    """Apply many conditional updates (UpdateItem's parameters, each its own item) in as few calls as DynamoDB
    allows: transactions of up to 100, each update applied only if its own condition holds. Whether each was.

    A transaction is all or nothing, so one whose conditions do not all hold is cancelled with a reason per item;
    it is sent again without the updates whose condition failed (their items may have changed since, which is the
    same as a single update arriving later). A conflict with another transaction is tried again; StorageError after
    CONFLICT_ROUNDS of them, with nothing of the unapplied transaction written."""
    held = [False] * len(updates)
    for start in range(0, len(updates), TRANSACTION_LIMIT):
        pending = list(range(start, min(start + TRANSACTION_LIMIT, len(updates))))
        conflicts = 0
        while pending:
            codes = transact(dynamodb, [{"Update": updates[i]} for i in pending], action, conflicts_ok=True)
            if codes is None:
                for i in pending:
                    held[i] = True
                break
            if CONFLICT in codes:
                conflicts += 1
                if conflicts > CONFLICT_ROUNDS:
                    raise StorageError(f"{action} failed: {CONFLICT}")
                sleep(random.uniform(0.5, 1.0) * 0.05 * 2 ** conflicts)  # the other transaction finishes first
            pending = [i for i, code in zip(pending, codes, strict=True) if code != CONDITION_FAILED]
    return held
