"""Small helpers over the low-level DynamoDB client: (de)serialisation and error translation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error

T = TypeVar("T")

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
    try:
        return call()
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
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
