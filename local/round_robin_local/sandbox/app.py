"""The Zendesk sandbox as a WSGI app: it routes each request to its resource and turns errors into answers.

Accounts live under a path prefix: the URL template is `http://127.0.0.1:<port>/{subdomain}`, so OAuth is at
`/<sub>/oauth/...` and the API at `/<sub>/api/v2/...`. Test and demo controls live under `/_sandbox/...`; the
service itself never calls them.

Every API request goes, in order, through: injected faults, authentication, the account's rate limit, the
token's scopes and the user's role (access.py, limits.py), then its resource's module.
"""

from __future__ import annotations

import time
from typing import Any

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox import agent_statuses, controls, groups, pages, schedules, user_fields, users
from round_robin_local.sandbox.access import authenticate, authorize_scope
from round_robin_local.sandbox.answers import ApiError, error_answer, invalid_endpoint, not_found
from round_robin_local.sandbox.deliveries import Dispatcher
from round_robin_local.sandbox.events import Events
from round_robin_local.sandbox.limits import inject_fault, take_request
from round_robin_local.sandbox.model import Account, Sandbox
from round_robin_local.sandbox.oauth import OAuthServer
from round_robin_local.sandbox.oauth_tokens import OAuthTokensApi
from round_robin_local.sandbox.search import search
from round_robin_local.sandbox.tickets import Tickets
from round_robin_local.sandbox.triggers import TriggersApi
from round_robin_local.sandbox.webhooks import WebhooksApi


class SandboxApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.dispatcher = Dispatcher(sandbox)
        self.events = Events(sandbox, self.dispatcher)
        self.oauth = OAuthServer(sandbox)
        self.oauth_tokens = OAuthTokensApi(sandbox)
        self.tickets = Tickets(sandbox, self.dispatcher, self.events)
        self.webhooks = WebhooksApi(sandbox)
        self.triggers = TriggersApi(sandbox)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.route(request)
        except ApiError as exc:
            response = error_answer(exc)
        return response(environ, start_response)

    def create_ticket(self, account: Account, spec: dict[str, Any], author_id: int, *, channel: str) -> dict[str, Any]:
        """Create a ticket as a customer or agent would (tests and the demo), running the triggers on it."""
        return self.tickets.create(account, spec, author_id, channel=channel)

    def route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return pages.index(self.sandbox)
        if parts[0] == "_sandbox":
            return controls.control(self.sandbox, self.events, request, parts[1:], self.tickets)
        with self.sandbox.lock:
            account = self.sandbox.accounts.get(parts[0])
        if account is None:
            raise ApiError(404, {"error": "NoSuchAccount", "description": f"No Zendesk account {parts[0]!r}"})
        rest = parts[1:]
        if rest[:2] == ["oauth", "authorizations"] and rest[2:] == ["new"]:
            return self.oauth.authorize(request, account)
        if rest == ["oauth", "tokens"]:
            return self.oauth.token(request, account)
        if rest[:2] == ["api", "v2"]:
            return self.api(request, account, rest[2:])
        if rest == ["tickets", "new"]:
            return pages.new_ticket_page(self.sandbox, self.tickets, request, account)
        if not rest:
            return pages.account_page(self.sandbox, account)
        raise not_found()

    def api(self, request: Request, account: Account, parts: list[str]) -> Response:
        path = "/api/v2/" + "/".join(parts)
        try:
            return self._api(request, account, parts, path)
        except ApiError as exc:
            with self.sandbox.lock:
                account.request_log.append({"method": request.method, "path": path, "status": exc.status,
                                            "at": time.time(), "retry_after": exc.headers.get("Retry-After")})
            raise

    def _api(self, request: Request, account: Account, parts: list[str], path: str) -> Response:
        if parts and parts[-1].endswith(".json"):
            parts = [*parts[:-1], parts[-1][: -len(".json")]]
        inject_fault(self.sandbox, account, request.method, path)
        with self.sandbox.lock:
            user, scopes = authenticate(self.sandbox, request, account)
            limit_headers = take_request(self.sandbox, account)
            try:
                authorize_scope(request.method, parts, user, scopes)
                response = self.dispatch(request, account, user, parts)
            except ApiError as exc:  # an error answer carries the account's rate-limit headers too
                exc.headers = {**limit_headers, **exc.headers}
                raise
            for key, value in limit_headers.items():
                response.headers.setdefault(key, value)
            # What the service asked of Zendesk and when (for tests and the benchmark's call counts).
            account.request_log.append({"method": request.method, "path": path, "status": response.status_code,
                                        "at": time.time(), "retry_after": response.headers.get("Retry-After")})
            return response

    def dispatch(self, request: Request, account: Account, user: dict[str, Any], parts: list[str]) -> Response:
        """The resource module that answers `/api/v2/<parts>`."""
        match parts:
            case ["users", *rest]:
                return users.route(request, self.sandbox, account, user, rest, self.events)
            case ["groups" | "group_memberships", *_]:
                return groups.route(request, self.sandbox, account, user, parts, self.events)
            case ["user_fields", *rest]:
                return user_fields.route(request, account, rest)
            case ["agent_availabilities", *rest]:
                return agent_statuses.route(request, account, rest)
            case ["business_hours", "schedules", *rest]:
                return schedules.route(request, self.sandbox, account, user, rest)
            case ["oauth", *rest]:
                return self.oauth_tokens.route(request, account, user, rest)
            case ["webhooks", *rest]:
                return self.webhooks.route(request, account, user, rest)
            case ["triggers", *rest]:
                return self.triggers.route(request, account, rest)
            case ["tickets", *rest]:
                return self.tickets.route(request, account, user, rest)
            case ["job_statuses", job_id] if request.method == "GET":
                return self.tickets.job_status(account, job_id)
            case ["search"] if request.method == "GET":
                return search(self.sandbox, request, account)
        raise invalid_endpoint()
