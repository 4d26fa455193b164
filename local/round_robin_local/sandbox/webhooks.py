"""The Webhooks API: create, list, show, update and delete webhooks, and their signing secrets.

How a webhook is invoked: triggers.py (trigger-connected webhooks), events.py (event-subscribed webhooks) and
deliveries.py (signed delivery).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import body_of, json_answer, method_not_allowed, not_found, record_invalid
from round_robin_local.sandbox.events import is_event_subscribed, subscription_problem
from round_robin_local.sandbox.model import Account, Sandbox
from round_robin_local.sandbox.pagination import paginate


class WebhooksApi:
    """`/api/v2/webhooks/...`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def route(self, request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
        method = request.method
        if not rest and method == "GET":
            contains = (request.args.get("filter[name_contains]") or "").lower()
            found = [w for w in account.webhooks.values() if contains in w["name"].lower()]
            return paginate(request, account, "webhooks", found)
        if not rest and method == "POST":
            webhook = self._webhook_from(body_of(request, "webhook"), None, user)
            account.webhooks[webhook["id"]] = webhook
            account.webhook_secrets[webhook["id"]] = _new_secret()
            return json_answer({"webhook": webhook}, 201)
        webhook = account.webhooks.get(rest[0]) if rest else None
        if webhook is None:
            raise not_found()
        if rest[1:] == ["signing_secret"]:
            if method == "GET":
                return _secret_answer(account.webhook_secrets[webhook["id"]])
            if method == "POST":
                # Reset Webhook Signing Secret answers 201 with the new secret (developer.zendesk.com/api-reference/
                # webhooks/webhooks-api/webhooks/#reset-webhook-signing-secret).
                secret = account.webhook_secrets[webhook["id"]] = _new_secret()
                return _secret_answer(secret, 201)
        if rest[1:]:
            raise not_found()
        if method == "GET":
            return json_answer({"webhook": webhook})
        if method in ("PUT", "PATCH"):
            return self._update(request, account, user, webhook)
        if method == "DELETE":
            if any(a.get("field") == "notification_webhook" and a["value"][0] == webhook["id"]
                   for t in account.triggers.values() for a in t["actions"]):
                raise record_invalid("Webhook is in use by a trigger")
            del account.webhooks[webhook["id"]]
            return Response(status=204)
        raise method_not_allowed()

    def _update(self, request: Request, account: Account, user: dict[str, Any], webhook: dict[str, Any]) -> Response:
        spec = body_of(request, "webhook")
        merged = {**webhook, **spec} if request.method == "PATCH" else spec
        updated = self._webhook_from(merged, webhook, user)
        # "You can't change an existing webhook's connection method" (support.zendesk.com/hc/en-us/articles/
        # 1260803996569).
        if is_event_subscribed(updated) != is_event_subscribed(webhook):
            raise record_invalid("A webhook cannot change between trigger-connected and event-subscribed",
                                 "subscriptions")
        account.webhooks[webhook["id"]] = updated
        return Response(status=204)

    def _webhook_from(self, spec: dict[str, Any], existing: dict[str, Any] | None, user: dict[str, Any]) -> dict[str, Any]:
        for name in ("name", "endpoint", "http_method", "request_format", "status", "subscriptions"):
            if not spec.get(name):
                raise record_invalid(f"{name} is required", name)
        endpoint = urlsplit(str(spec["endpoint"]))
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise record_invalid("endpoint must be a valid URL", "endpoint")
        if spec["http_method"] not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise record_invalid("http_method is invalid", "http_method")
        if spec["request_format"] not in ("json", "xml", "form_encoded"):
            raise record_invalid("request_format is invalid", "request_format")
        if spec["status"] not in ("active", "inactive"):
            raise record_invalid("status is invalid", "status")
        problem = subscription_problem(spec["subscriptions"])
        if problem:
            raise record_invalid(problem, "subscriptions")
        # "To subscribe the webhook to Zendesk events, this must be "POST"" / "... must be "json"" (the Webhooks
        # API's http_method and request_format fields).
        if is_event_subscribed(spec) and (spec["http_method"], spec["request_format"]) != ("POST", "json"):
            raise record_invalid("A webhook subscribed to Zendesk events must use POST and json", "http_method")
        now = self.sandbox.clock.iso()
        return {
            "id": existing["id"] if existing else "01" + secrets.token_hex(12).upper(),
            "name": spec["name"], "description": spec.get("description", ""), "endpoint": spec["endpoint"],
            "http_method": spec["http_method"], "request_format": spec["request_format"], "status": spec["status"],
            "subscriptions": list(spec["subscriptions"]),
            "created_at": existing["created_at"] if existing else now,
            "created_by": existing["created_by"] if existing else str(user["id"]),
            "updated_at": now, "updated_by": str(user["id"]),
        }


def _new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _secret_answer(secret: str, status: int = 200) -> Response:
    return json_answer({"signing_secret": {"algorithm": "SHA256", "secret": secret}}, status)
