"""The sandbox's test and demo controls under `/_sandbox/...` (Zendesk has none of them; the service never calls
them): health, the clock, accounts, faults, limits, sessions, API tokens, a bulk of agents, a burst of new tickets,
how many webhook deliveries are made at once, and what the sandbox recorded (among it every webhook delivery, with
its event type). Changes to people, agent statuses, the Out of Office app and
schedules: state_controls.py."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import ApiError, json_answer, not_found
from round_robin_local.sandbox.demo_data import seed_bulk
from round_robin_local.sandbox.limits import Fault
from round_robin_local.sandbox.model import Account, Sandbox
from round_robin_local.sandbox.state_controls import state_control
from round_robin_local.sandbox.tickets import public

if TYPE_CHECKING:
    from round_robin_local.sandbox.events import Events
    from round_robin_local.sandbox.tickets import Tickets

MAX_BURST = 5000  # tickets one burst control creates


def control(sandbox: Sandbox, events: Events, request: Request, parts: list[str], tickets: Tickets) -> Response:
    """`/_sandbox/<parts>`."""
    body = request.get_json(silent=True) or {}
    with sandbox.lock:
        match parts:
            case ["health"]:
                return json_answer({"ok": True})
            case ["deliveries"] if request.method == "POST":
                try:
                    events.dispatcher.set_concurrency(int(body["concurrency"]))
                except (KeyError, TypeError, ValueError) as exc:
                    raise ApiError(400, {"error": f"concurrency: {exc}"}) from None
                return json_answer({"concurrency": events.dispatcher.concurrency})
            case ["clock"] if request.method == "POST":
                sandbox.clock.offset += float(body.get("advance", 0))
                return json_answer({"now": sandbox.clock.iso()})
            case ["accounts"] if request.method == "POST":
                try:
                    account = sandbox.create_account(str(body["subdomain"]), seed=body.get("seed", "demo"))
                except (KeyError, ValueError) as exc:
                    raise ApiError(400, {"error": str(exc)}) from None
                return json_answer(_summary(account), 201)
            case ["accounts", sub, *rest]:
                account = sandbox.accounts.get(sub)
                if account is None:
                    raise not_found()
                if rest == ["tickets"] and request.method == "POST":
                    return _burst(account, tickets, body)
                answer = state_control(sandbox, events, request, account, rest, body)
                return answer if answer is not None else _account_control(sandbox, request, account, rest, body)
    raise not_found()


def _account_control(sandbox: Sandbox, request: Request, account: Account, rest: list[str],
                     body: dict[str, Any]) -> Response:
    match rest:
        case [] if request.method == "GET":
            return json_answer(_summary(account))
        case ["faults"] if request.method == "POST":
            account.faults.append(Fault(method=body.get("method", "*"), path_prefix=body.get("path", "/api/v2/"),
                                        status=body.get("status"), count=int(body.get("count", 1)),
                                        delay=float(body.get("delay", 0)), retry_after=body.get("retry_after")))
            return json_answer({"faults": len(account.faults)}, 201)
        case ["delivery-faults"] if request.method == "POST":
            for key in ("drop", "duplicate"):
                account.delivery_faults[key] += int(body.get(key, 0))
            return json_answer(account.delivery_faults)
        case ["deliveries"] if request.method == "GET":
            kind = request.args.get("type")  # e.g. zen:event-type:user.active_changed, conditional_ticket_events
            return json_answer({"deliveries": [d for d in account.deliveries if not kind or d["type"] == kind]})
        case ["requests"] if request.method == "GET":
            return json_answer({"requests": account.request_log})
        case ["token-requests"] if request.method == "GET":
            return json_answer({"token_requests": account.token_log})
        case ["expire-tokens"] if request.method == "POST":
            return json_answer({"expired": sandbox.expire_access_tokens(account)})
        case ["api-tokens"] if request.method == "POST":
            # Admin Center's "add API token", for tests and the demo of the migration.
            user_id = int(body["user_id"])
            if user_id not in account.users:
                raise not_found()
            token = secrets.token_hex(20)
            account.api_tokens[token] = user_id
            return json_answer({"api_token": token, "email": account.users[user_id]["email"]}, 201)
        case ["session"] if request.method == "POST":
            account.signed_in_user_id = int(body["user_id"])
            return json_answer({"signed_in_user_id": account.signed_in_user_id})
        case ["limits"] if request.method == "POST":
            return json_answer(_set_limits(account, body))
        case ["bulk-agents"] if request.method == "POST":
            try:
                return json_answer(seed_bulk(sandbox, account, int(body["agents"]), int(body.get("group_size", 1000))),
                                   201)
            except (KeyError, TypeError, ValueError) as exc:
                raise ApiError(400, {"error": str(exc)}) from None
    raise not_found()


def _burst(account: Account, tickets: Tickets, body: dict[str, Any]) -> Response:
    """`{"count", "group_id", "subject"}`: `count` new tickets at once, as customers' emails would bring them; each
    runs the triggers, and their webhook deliveries go out together once the sandbox's lock is released."""
    count = body.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BURST:
        raise ApiError(400, {"error": f"count must be a whole number from 1 to {MAX_BURST}"})
    group_id = body.get("group_id")
    if group_id is not None and group_id not in account.groups:
        raise ApiError(400, {"error": f"no group {group_id!r}"})
    subject = str(body.get("subject") or "Burst")
    created = [tickets.create(account, {"subject": f"{subject} {n}", "group_id": group_id},
                              account.signed_in_user_id or 0, channel="email")["id"] for n in range(count)]
    return json_answer({"ticket_ids": created}, 201)


def _set_limits(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    if "account" in body:
        account.account_window.limit = int(body["account"])
    if "ticket_updates" in body:
        account.update_window.limit = int(body["ticket_updates"])
    if "search_lag" in body:
        account.search_lag = float(body["search_lag"])
    if "access_token_lifetime" in body:
        account.access_token_lifetime = int(body["access_token_lifetime"])
    if "created_token_lifetime" in body:
        account.created_token_lifetime = int(body["created_token_lifetime"]) or None
    if "window" in body:
        account.account_window.window = account.update_window.window = float(body["window"])
    return {"account": account.account_window.limit, "ticket_updates": account.update_window.limit}


def _summary(account: Account) -> dict[str, Any]:
    return {
        "subdomain": account.subdomain, "id": account.id,
        "users": list(account.users.values()), "groups": list(account.groups.values()),
        "group_memberships": list(account.memberships.values()),
        "tickets": [public(t) for t in account.tickets.values()],
        "webhooks": list(account.webhooks.values()), "triggers": list(account.triggers.values()),
        "oauth_tokens": len(account.tokens), "jobs": [dict(j) for j in account.jobs.values()],
    }
