"""Single-use OAuth `state`: bound to the subdomain (and, by derivation, to the PKCE verifier), valid 10 minutes.

Only the state's SHA-256 is stored; TTL removes abandoned items, and expiry is also checked on read because
DynamoDB's TTL deletion is lazy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import conditional_write, deserialize, serialize
from round_robin.connect.pkce import check_state_format, new_state, state_key
from round_robin.errors import StateError, StateReplayedError
from round_robin.table import STATE_SK, state_pk

STATE_LIFETIME = 600  # seconds
REPLAY_WINDOW = 120  # a state spent this recently is a replay of the same approval (a code lives 120 s)
CONNECT = "connect"  # a state's purpose: connecting the account (connector.py)
SIGN_IN = "signin"  # signing an admin into the console (console/signin.py); the same callback URL finishes both


@dataclass(frozen=True)
class PendingAuthorization:
    """What a state stands for: the account being connected and when the link was issued."""

    subdomain: str
    created_at: int
    expires_at: int
    purpose: str = CONNECT
    browser: str | None = None  # a sign-in's browser binding: the SHA-256 of its sign-in cookie (console/signin.py)
    landing: str | None = None  # a sign-in's console page to open after it (console/signin.py LANDING_PAGES)

    @property
    def signs_in(self) -> bool:
        """A console sign-in (console/signin.py), not a connect."""
        return self.purpose == SIGN_IN


class StateStore:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def create(self, subdomain: str, now: float, purpose: str = CONNECT, browser: str | None = None,
               landing: str | None = None) -> str:
        """Store a new state for `subdomain` and `purpose` and return it (the only copy of the raw value);
        `browser`: the hash that binds a sign-in to the browser that started it."""
        state = new_state()
        created = int(now)
        item = {
            "pk": state_pk(state_key(state)),
            "sk": STATE_SK,
            "subdomain": subdomain,
            "purpose": purpose,
            "created_at": created,
            "expires_at": created + STATE_LIFETIME,
            "ttl": created + STATE_LIFETIME,
        }
        if browser is not None:
            item["browser"] = browser
        if landing is not None:
            item["landing"] = landing
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=serialize(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the sign-in state") from exc
        return state

    def consume(self, state: str | None, now: float) -> PendingAuthorization:
        """Spend the state and return what it stood for; raise StateError if unknown, used or expired, and
        StateReplayedError if it was spent within REPLAY_WINDOW (the same approval arriving twice).

        The spent state stays, as its hash marked `used_at`, until its TTL (10 minutes), so that a replay is
        recognised; it holds no secret and nothing of the account."""
        check_state_format(state)
        assert state is not None
        key = serialize({"pk": state_pk(state_key(state)), "sk": STATE_SK})
        answer = conditional_write(lambda: self._dynamodb.update_item(
            TableName=self._table, Key=key, UpdateExpression="SET used_at = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
            ExpressionAttributeValues=serialize({":now": now}), ReturnValues="ALL_OLD",
        ), "reading the sign-in state")
        if answer is None:
            self._refuse_spent(key, now)
        item = deserialize(answer.get("Attributes")) or {}
        if now >= item.get("expires_at", 0):
            raise StateError("this sign-in link has expired (links are valid for 10 minutes)")
        return PendingAuthorization(item["subdomain"], item["created_at"], item["expires_at"],
                                    item.get("purpose", CONNECT), item.get("browser"), item.get("landing"))

    def _refuse_spent(self, key: dict[str, Any], now: float) -> NoReturn:
        try:
            answer = self._dynamodb.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the sign-in state") from exc
        item = deserialize(answer.get("Item")) or {}
        used_at = item.get("used_at")
        if used_at is not None and now - used_at <= REPLAY_WINDOW:
            raise StateReplayedError(item["subdomain"], used_at, item.get("purpose", CONNECT))
        raise StateError("this sign-in link is unknown or was already used")
