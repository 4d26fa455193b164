"""Console sessions, stored server side: a `SESSION#<sha256 of the id>` item that lives 8 hours (table.py).

The session id is the cookie's only content; only its SHA-256 is stored, so whoever reads the table cannot
present a session. The CSRF token is derived from the id (HMAC), so it is never stored either and is different
for every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from round_robin.aws.clients import storage_error
from round_robin.aws.dynamo import deserialize, serialize
from round_robin.table import SESSION_SK, session_pk

SESSION_LIFETIME = 8 * 3600  # seconds, from sign-in; no sliding renewal
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Session:
    """Who is signed in, to which account, until when; `csrf_token` goes into every form."""

    subdomain: str
    user_id: int
    name: str
    csrf_token: str
    expires_at: int


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def csrf_token_for(session_id: str) -> str:
    """The session's CSRF token: HMAC-SHA256 keyed by the session id (never stored)."""
    digest = hmac.new(session_id.encode("ascii"), b"round-robin console csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SessionStore:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._dynamodb = dynamodb

    def create(self, *, subdomain: str, user_id: int, name: str, now: float) -> tuple[str, Session]:
        """Start a session (always a new id: no fixation); return the id (the cookie's value) and the session."""
        session_id = secrets.token_urlsafe(32)
        expires_at = int(now) + SESSION_LIFETIME
        item = {"pk": session_pk(_hash(session_id)), "sk": SESSION_SK, "subdomain": subdomain, "user_id": user_id,
                "name": name, "created_at": int(now), "expires_at": expires_at, "ttl": expires_at}
        try:
            self._dynamodb.put_item(TableName=self._table, Item=serialize(item),
                                    ConditionExpression="attribute_not_exists(pk)")
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "saving the session") from exc
        return session_id, Session(subdomain, user_id, name, csrf_token_for(session_id), expires_at)

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session with this id, or None (no id, malformed, unknown, signed out or expired)."""
        if not session_id or not _ID_PATTERN.fullmatch(session_id):
            return None
        try:
            answer = self._dynamodb.get_item(TableName=self._table, Key=self._key(session_id), ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "reading the session") from exc
        item = deserialize(answer.get("Item"))
        # TTL deletion is lazy (up to days late): the expiry is checked here.
        if item is None or now >= item["expires_at"]:
            return None
        return Session(item["subdomain"], int(item["user_id"]), item["name"], csrf_token_for(session_id),
                       int(item["expires_at"]))

    def delete(self, session_id: str | None) -> None:
        """End a session (sign-out, or a new sign-in in the same browser); unknown ids are ignored."""
        if not session_id or not _ID_PATTERN.fullmatch(session_id):
            return
        try:
            self._dynamodb.delete_item(TableName=self._table, Key=self._key(session_id))
        except (ClientError, BotoCoreError) as exc:
            raise storage_error(exc, "ending the session") from exc

    @staticmethod
    def _key(session_id: str) -> dict[str, Any]:
        return serialize({"pk": session_pk(_hash(session_id)), "sk": SESSION_SK})
