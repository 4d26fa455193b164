"""Single-use OAuth `state`: bound to the subdomain (and, by derivation, to the PKCE verifier), valid 10 minutes.

Only the state's SHA-256 is stored; TTL removes abandoned items, and expiry is also checked on read because
DynamoDB's TTL deletion is lazy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, serialize
from round_robin.connect.pkce import check_state_format, new_state, state_key
from round_robin.errors import StateError
from round_robin.table import STATE_SK, state_pk

STATE_LIFETIME = 600  # seconds


@dataclass(frozen=True)
class PendingAuthorization:
    """What a state stands for: the account being connected and when the link was issued."""

    subdomain: str
    created_at: int
    expires_at: int


class StateStore:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def create(self, subdomain: str, now: float) -> str:
        """Store a new state for `subdomain` and return it (the only copy of the raw value)."""
        state = new_state()
        created = int(now)
        item = {
            "pk": state_pk(state_key(state)),
            "sk": STATE_SK,
            "subdomain": subdomain,
            "created_at": created,
            "expires_at": created + STATE_LIFETIME,
            "ttl": created + STATE_LIFETIME,
        }
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the sign-in state") from exc
        return state

    def consume(self, state: str | None, now: float) -> PendingAuthorization:
        """Delete the state and return what it stood for; raise StateError if unknown, used or expired."""
        check_state_format(state)
        assert state is not None
        answer = conditional_write(lambda: self._dynamodb.delete_item(
            TableName=self._table,
            Key=serialize({"pk": state_pk(state_key(state)), "sk": STATE_SK}),
            ConditionExpression="attribute_exists(pk)",
            ReturnValues="ALL_OLD",
        ), "reading the sign-in state")
        if answer is None:
            raise StateError("this sign-in link is unknown or was already used")
        item = deserialize(answer.get("Attributes")) or {}
        if now >= item.get("expires_at", 0):
            raise StateError("this sign-in link has expired (links are valid for 10 minutes)")
        return PendingAuthorization(item["subdomain"], item["created_at"], item["expires_at"])
