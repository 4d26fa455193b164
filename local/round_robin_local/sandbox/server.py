"""The Zendesk sandbox server: a WSGI app that behaves as Zendesk documents for everything the service uses.

Accounts live under a path prefix: the URL template is `http://127.0.0.1:<port>/{subdomain}`, so OAuth is at
`/<sub>/oauth/...` and the API at `/<sub>/api/v2/...`. Test and demo controls live under `/_sandbox/...`; the
service itself never calls them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.demo_data import DEMO_SUBDOMAIN
from round_robin_local.sandbox.model import (
    CODE_LIFETIME,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Account,
    AuthCode,
    Fault,
    OAuthClientRecord,
    Sandbox,
    Token,
)
from round_robin_local.sandbox.webhooks import Dispatcher, validate_trigger
from round_robin_local.serving import LoopbackServer

KNOWN_SCOPES = {"read", "write", "impersonate"} | {
    f"{resource}:{access}"
    for resource in ("tickets", "users", "auditlogs", "organizations", "hc", "apps", "triggers", "automations",
                     "targets", "webhooks", "macros", "requests", "satisfaction_ratings", "dynamic_content")
    for access in ("read", "write")
}
# Resources with their own scope; everything else (groups, memberships, search, job statuses) needs read/write.
SCOPED_RESOURCES = {"tickets", "users", "webhooks", "triggers"}
ADMIN_ONLY = {"webhooks", "triggers", "oauth"}
MAX_PAGE = 100
SEARCH_LIMIT = 1000  # results one search query can return (see SandboxApp.search)
TICKET_STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json; charset=utf-8")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html><head><meta charset=utf-8><title>{escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}"
            "button{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}td,th{padding:.2rem .6rem;text-align:left}"
            f"</style></head><body><p><em>Zendesk sandbox</em></p><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _record_invalid(description: str, field: str = "base", error: str | None = None) -> ApiError:
    detail = {"description": description, **({"error": error} if error else {})}
    return ApiError(422, {"error": "RecordInvalid", "description": "Record validation errors",
                          "details": {field: [detail]}})


def _forbidden() -> ApiError:
    """Zendesk's 403 for a token that lacks the scope (captured in Zendesk community post 6224176367002)."""
    return ApiError(403, {"error": {"title": "Forbidden",
                                    "message": "You do not have access to this page. Please contact the "
                                               "account owner of this help desk for further help."}})


def _not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def _pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class SandboxApp:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.dispatcher = Dispatcher(sandbox)

    # -- WSGI ------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.route(request)
        except ApiError as exc:
            body = exc.body
            response = (_json(body, exc.status, exc.headers) if isinstance(body, dict)
                        else Response(body, status=exc.status, headers=exc.headers, content_type="text/plain"))
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return self.index()
        if parts[0] == "_sandbox":
            return self.control(request, parts[1:])
        with self.sandbox.lock:
            account = self.sandbox.accounts.get(parts[0])
        if account is None:
            raise ApiError(404, {"error": "NoSuchAccount", "description": f"No Zendesk account {parts[0]!r}"})
        rest = parts[1:]
        if rest[:2] == ["oauth", "authorizations"] and rest[2:] == ["new"]:
            return self.authorize(request, account)
        if rest == ["oauth", "tokens"]:
            return self.token(request, account)
        if rest[:2] == ["api", "v2"]:
            return self.api(request, account, rest[2:])
        if rest == ["tickets", "new"]:
            return self.new_ticket_page(request, account)
        if not rest:
            return self.account_page(account)
        raise _not_found()

    # -- OAuth -----------------------------------------------------------------------------------------

    def authorize(self, request: Request, account: Account) -> Response:
        params = request.form if request.method == "POST" else request.args
        client = account.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None:
            return _page("Invalid OAuth client", "<p>The client_id is not an OAuth client of this account.</p>", 400)
        if not self._redirect_allowed(client.redirect_uris, redirect_uri):
            return _page("Invalid redirect URL", "<p>The redirect_uri is not registered for this client.</p>", 400)
        state = params.get("state")

        def back(**query: str) -> Response:
            if state is not None:
                query["state"] = state
            sep = "&" if urlsplit(redirect_uri).query else "?"
            return Response(status=302, headers={"Location": f"{redirect_uri}{sep}{urlencode(query)}"})

        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="Only response_type=code is supported")
        scopes = params.get("scope", "").split()
        # An unknown scope is not refused here: "The endpoint returns an access token even if you specify an
        # invalid scope ... Any request you make with the token will return a "Forbidden" error"
        # (developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/); see _authorize_scope.
        if not scopes:
            return back(error="invalid_scope", error_description="The requested scope is invalid")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge and method != "S256":
            return back(error="invalid_request", error_description="code_challenge_method must be S256")
        if client.kind == "public" and not challenge:
            return back(error="invalid_request", error_description="Public clients must use PKCE")

        if request.method == "GET" and not self.sandbox.auto_approve:
            return self.consent_page(request, account, client.name, scopes)
        if request.method == "POST" and params.get("decision") != "allow":
            return back(error="access_denied", error_description="The end-user or authorization server denied the request")
        with self.sandbox.lock:
            user_id = int(params.get("user_id") or account.signed_in_user_id or 0)
            if user_id not in account.users:
                return _page("Not signed in", "<p>No such user in this account.</p>", 400)
            code = secrets.token_urlsafe(24)
            account.codes[code] = AuthCode(code, client.identifier, user_id, redirect_uri, scopes, challenge, method,
                                           self.sandbox.clock.now() + CODE_LIFETIME)
        return back(code=code)

    @staticmethod
    def _redirect_allowed(registered: list[str], redirect_uri: str) -> bool:
        if registered:
            return redirect_uri in registered
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")

    def consent_page(self, request: Request, account: Account, client_name: str, scopes: list[str]) -> Response:
        hidden = "".join(f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in request.args.items())
        with self.sandbox.lock:
            people = [u for u in account.users.values() if u["role"] in ("agent", "admin") and u["active"]]
            options = "".join(
                f'<option value="{u["id"]}"{" selected" if u["id"] == account.signed_in_user_id else ""}>'
                f'{escape(u["name"])} ({u["role"]})</option>' for u in people
            )
        body = (
            f"<p><strong>{escape(client_name)}</strong> asks for access to <strong>{escape(account.subdomain)}"
            f"</strong>: {escape(', '.join(scopes))}.</p>"
            f'<form method=post>{hidden}<p><label>Signed in as <select name=user_id>{options}</select></label></p>'
            '<button name=decision value=allow>Allow</button><button name=decision value=deny>Deny</button></form>'
        )
        return _page("Allow access?", body)

    def token(self, request: Request, account: Account) -> Response:
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        grant = data.get("grant_type") if isinstance(data, dict) else None
        try:
            response = self._token(request, account, data)
        except ApiError as exc:
            error = exc.body.get("error") if isinstance(exc.body, dict) else None
            self._log_token_request(account, grant, exc.status, error)
            raise
        self._log_token_request(account, grant, response.status_code, None)
        return response

    def _log_token_request(self, account: Account, grant: Any, status: int, error: Any) -> None:
        """What was asked of the token endpoint (grant type, answer), never a code or token."""
        with self.sandbox.lock:
            account.token_log.append({"grant_type": str(grant), "status": status, "error": error, "at": time.time()})

    def _token(self, request: Request, account: Account, data: Any) -> Response:
        if request.method != "POST":
            raise ApiError(405, {"error": "MethodNotAllowed"})
        if not isinstance(data, dict):
            raise ApiError(400, {"error": "invalid_request", "error_description": "Malformed body"})
        with self.sandbox.lock:
            client = account.clients.get(str(data.get("client_id", "")))
            if client is None or (client.kind == "confidential" and data.get("client_secret") != client.secret):
                raise ApiError(401, {"error": "invalid_client",
                                     "error_description": "Client authentication failed due to unknown client, "
                                                          "no client authentication included, or unsupported "
                                                          "authentication method."})
            _check_lifetimes(data)
            grant = data.get("grant_type")
            if grant == "authorization_code":
                token = self._grant_code(account, client.identifier, data)
            elif grant == "refresh_token":
                token = self._grant_refresh(account, client.identifier, data)
            else:
                raise ApiError(400, {"error": "unsupported_grant_type",
                                     "error_description": "The authorization grant type is not supported."})
            now = self.sandbox.clock.now()
            answer = {
                "access_token": token.access_token,
                "token_type": "bearer",
                "scope": " ".join(token.scopes),
                "refresh_token": token.refresh_token,
                "refresh_token_expires_in": int(token.refresh_expires_at - now) if token.refresh_expires_at else None,
            }
            # For clients whose token expiry is enforced, Zendesk has been seen to omit `expires_in` unless the
            # request sends `expires_in` (NangoHQ/nango issue 6775, July 2026; the OAS: "expires_in ... Defaults
            # to null"); the expiry is enforced all the same (tokens/current.json shows it).
            if _int(data.get("expires_in")) is not None and token.expires_at:
                answer["expires_in"] = int(token.expires_at - now)
            return _json(answer)

    def _grant_code(self, account: Account, client: str, data: dict[str, Any]) -> Token:
        invalid = ApiError(400, {"error": "invalid_grant",
                                 "error_description": "The provided authorization grant is invalid, expired, revoked, "
                                                      "does not match the redirection URI used in the authorization "
                                                      "request, or was issued to another client."})
        code = account.codes.pop(str(data.get("code", "")), None)  # single use, even when it fails below
        if code is None or code.client != client or code.expires_at < self.sandbox.clock.now():
            raise invalid
        if data.get("redirect_uri") != code.redirect_uri:
            raise invalid
        if code.challenge and _pkce_s256(str(data.get("code_verifier", ""))) != code.challenge:
            raise invalid
        return self.sandbox.issue_token(account, client, code.user_id, code.scopes,
                                        expires_in=_int(data.get("expires_in")) or account.access_token_lifetime,
                                        refresh_expires_in=_int(data.get("refresh_token_expires_in")))

    def _grant_refresh(self, account: Account, client: str, data: dict[str, Any]) -> Token:
        old = account.refresh_tokens.get(str(data.get("refresh_token", "")))
        now = self.sandbox.clock.now()
        if old is None or old.client != client or (old.refresh_expires_at and old.refresh_expires_at < now):
            raise ApiError(400, {"error": "invalid_grant",
                                 "error_description": "The provided authorization grant is invalid, expired, "
                                                      "revoked, or was issued to another client."})
        # Rotation: the previous access AND refresh tokens are deleted.
        self.sandbox.revoke(account, old)
        return self.sandbox.issue_token(account, client, old.user_id, old.scopes,
                                        expires_in=_int(data.get("expires_in")) or account.access_token_lifetime,
                                        refresh_expires_in=_int(data.get("refresh_token_expires_in")))

    # -- API -------------------------------------------------------------------------------------------

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
        fault = self._take_fault(account, request.method, path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                raise ApiError(fault.status, {"error": "InjectedFault", "description": "sandbox fault injection"},
                               headers)
        with self.sandbox.lock:
            user, scopes = self._authenticate(request, account)
            retry = account.account_window.take(self.sandbox.clock.now())
            limit_headers = {"X-Rate-Limit": str(account.account_window.limit),
                             "X-Rate-Limit-Remaining": str(account.account_window.remaining())}
            if retry is not None:
                raise ApiError(429, "Too Many Requests", {**limit_headers, "Retry-After": str(int(retry + 0.999))})
            self._authorize_scope(request.method, parts, user, scopes)
            response = self.dispatch(request, account, user, parts)
            for key, value in limit_headers.items():
                response.headers.setdefault(key, value)
            self._log_request(account, request.method, path, response)
            return response

    def _log_request(self, account: Account, method: str, path: str, response: Response) -> None:
        """What the service asked of Zendesk and when (for tests and the benchmark's call counts)."""
        account.request_log.append({"method": method, "path": path, "status": response.status_code,
                                    "at": time.time(), "retry_after": response.headers.get("Retry-After")})

    def _take_fault(self, account: Account, method: str, path: str) -> Fault | None:
        with self.sandbox.lock:
            for fault in account.faults:
                if fault.count > 0 and fault.method in (method, "*") and path.startswith(fault.path_prefix):
                    fault.count -= 1
                    return fault
        return None

    def _authenticate(self, request: Request, account: Account) -> tuple[dict[str, Any], list[str]]:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = account.tokens.get(header[len("Bearer "):])
            if token is None or (token.expires_at is not None and token.expires_at < self.sandbox.clock.now()):
                raise ApiError(401, {"error": "invalid_token",
                                     "error_description": "The access token provided is expired, revoked, "
                                                          "malformed or invalid for other reasons."})
            user = account.users.get(token.user_id)
            if user and user["active"] and not user["suspended"]:
                return user, token.scopes
        elif header.startswith("Basic "):
            try:
                login, _, password = base64.b64decode(header[len("Basic "):]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                login, password = "", ""
            email, _, kind = login.partition("/")
            user_id = account.api_tokens.get(password) if kind == "token" else None
            user = account.users.get(user_id) if user_id else None
            if user and user["email"] == email and user["active"] and not user["suspended"]:
                return user, ["read", "write"]
        raise ApiError(401, {"error": "Couldn't authenticate you"})

    @staticmethod
    def _authorize_scope(method: str, parts: list[str], user: dict[str, Any], scopes: list[str]) -> None:
        if any(s not in KNOWN_SCOPES for s in scopes):
            raise _forbidden()  # a token issued with an unknown scope is refused everywhere (see authorize)
        resource = parts[0] if parts else ""
        access = "read" if method in ("GET", "HEAD") else "write"
        # OAuth tokens are not a scopable resource (developer.zendesk.com/api-reference/ticketing/oauth/
        # oauth_tokens/, "Available scopes"), so showing one needs `read` and revoking one the broad `write`:
        # a token scoped `read tickets:write webhooks:write triggers:write` gets 403 on DELETE (Zendesk developer
        # advocacy, support.zendesk.com/hc/en-us/community/posts/4627188332186). The 403 body is the one captured
        # in community post 6224176367002.
        allowed = access in scopes or (resource in SCOPED_RESOURCES and f"{resource}:{access}" in scopes)
        if not allowed:
            raise ApiError(403, {"error": {"title": "Forbidden",
                                           "message": "You do not have access to this page. Please contact the "
                                                      "account owner of this help desk for further help."}})
        if resource == "oauth" and parts[1:2] == ["tokens"] and method != "POST":
            return  # Show/Revoke Token: "Allowed for: Admins, Agents, End Users" (ownership checked in _revoke)
        if resource in ADMIN_ONLY and user["role"] != "admin":
            raise ApiError(403, {"error": "Forbidden", "description": "You do not have access to this page."})
        if user["role"] == "end-user":
            raise ApiError(403, {"error": "Forbidden", "description": "You do not have access to this page."})

    def dispatch(self, request: Request, account: Account, user: dict[str, Any], parts: list[str]) -> Response:
        method = request.method
        match parts:
            case ["users", "me"] if method == "GET":
                return _json({"user": user})
            case ["users"] if method == "GET":
                roles = request.args.getlist("role[]") or request.args.getlist("role")
                users = [u for u in account.users.values() if not roles or u["role"] in roles]
                return self._list(request, account, "users", users)
            case ["users", "show_many"] if method == "GET":
                ids = {i.strip() for i in (request.args.get("ids") or "").split(",") if i.strip()}
                if len(ids) > 100:
                    raise ApiError(400, {"error": "TooManyValues", "description": "ids: too many values (max 100)"})
                return _json({"users": [u for u in account.users.values() if str(u["id"]) in ids]})
            case ["users", user_id] if method == "GET":
                found = account.users.get(_int(user_id) or -1)
                if found is None:
                    raise _not_found()
                return _json({"user": found})
            case ["groups", group_id] if method == "GET":
                group = account.groups.get(_int(group_id) or -1)
                if group is None or group["deleted"]:
                    raise _not_found()
                return _json({"group": group})
            case ["groups"] if method == "GET":
                return self._list(request, account, "groups", [g for g in account.groups.values() if not g["deleted"]])
            case ["group_memberships"] if method == "GET":
                return self._list(request, account, "group_memberships", list(account.memberships.values()))
            case ["groups", group_id, "memberships"] if method == "GET":
                members = [m for m in account.memberships.values() if str(m["group_id"]) == group_id]
                return self._list(request, account, "group_memberships", members)
            # List Assignable Memberships: only memberships whose agent can take tickets, cursor or offset
            # paginated, 100 a page (developer.zendesk.com/api-reference/ticketing/groups/group_memberships/
            # #list-assignable-memberships).
            case ["group_memberships", "assignable"] if method == "GET":
                return self._list(request, account, "group_memberships", account.assignable_memberships())
            case ["groups", group_id, "memberships", "assignable"] if method == "GET":
                return self._list(request, account, "group_memberships",
                                  account.assignable_memberships(_int(group_id) or -1))
            case ["oauth", "tokens", "current"] if method == "GET":
                return _json({"token": self._token_view(account, self._current_token(request, account))})
            case ["oauth", "tokens", "current"] if method == "DELETE":
                # Documented to revoke (developer.zendesk.com/documentation/api-basics/authentication/
                # revoking-oauth-token), but reported to answer 204 and leave the token valid, with full write
                # access (community posts 4627188332186 and 5537132288282, 2022-2023): the sandbox does the
                # reported thing, so nothing relying on it passes here. Revoke by id instead.
                self._current_token(request, account)
                return Response(status=204)
            case ["oauth", "tokens", token_id] if method == "DELETE":
                return self._revoke(request, account, user, token_id)
            case ["oauth", "tokens"] if method == "POST":
                return self._create_token(request, account, user)
            case ["oauth", "clients"] if method == "GET":
                return self._list(request, account, "clients", [self._client_view(c) for c in account.clients.values()])
            case ["oauth", "clients"] if method == "POST":
                return self._create_client(request, account, user)
            case ["webhooks", *rest]:
                return self.webhooks(request, account, user, rest)
            case ["triggers", *rest]:
                return self.triggers(request, account, rest)
            case ["tickets", *rest]:
                return self.tickets(request, account, user, rest)
            case ["job_statuses", job_id] if method == "GET":
                job = account.jobs.get(job_id)
                if job is None:
                    raise _not_found()
                return _json({"job_status": job})
            case ["search"] if method == "GET":
                return self.search(request, account)
        raise ApiError(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _current_token(self, request: Request, account: Account) -> Token:
        header = request.headers.get("Authorization", "")
        token = account.tokens.get(header[len("Bearer "):]) if header.startswith("Bearer ") else None
        if token is None:
            raise _not_found()
        return token

    def _token_view(self, account: Account, token: Token) -> dict[str, Any]:
        clock = self.sandbox.clock
        return {
            "id": token.id,
            "client_id": account.clients[token.client].id if token.client in account.clients else None,
            "user_id": token.user_id,
            "scopes": token.scopes,
            "token": token.access_token[:10],
            "created_at": clock.iso(token.created_at),
            "expires_at": clock.iso(token.expires_at) if token.expires_at else None,
            "refresh_token_expires_at": clock.iso(token.refresh_expires_at) if token.refresh_expires_at else None,
            "used_at": clock.iso(),
        }

    def _revoke(self, request: Request, account: Account, user: dict[str, Any], token_id: str) -> Response:
        target = next((t for t in account.tokens.values() if str(t.id) == token_id), None)
        if target is None:
            raise _not_found()
        if target.user_id != user["id"] and user["role"] != "admin":
            raise ApiError(403, {"error": "Forbidden", "description": "You do not have access to this page."})
        self.sandbox.revoke(account, target)
        return Response(status=204)

    @staticmethod
    def _client_view(client: OAuthClientRecord) -> dict[str, Any]:
        return {"id": client.id, "identifier": client.identifier, "name": client.name, "kind": client.kind,
                "redirect_uri": client.redirect_uris}

    def _create_client(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        spec = self._body(request, "client")
        identifier, name = str(spec.get("identifier") or "").strip(), str(spec.get("name") or "").strip()
        if not identifier or not name:
            raise _record_invalid("Name and identifier are required", "identifier")
        if identifier in account.clients:
            raise _record_invalid("Identifier: has already been taken", "identifier")
        kind = spec.get("kind", "confidential")
        if kind not in ("public", "confidential"):
            raise _record_invalid("Kind: is invalid", "kind")
        client = OAuthClientRecord(id=self.sandbox.next_id(), identifier=identifier, name=name, kind=kind,
                                   secret=secrets.token_hex(32), redirect_uris=list(spec.get("redirect_uri") or []))
        account.clients[identifier] = client
        return _json({"client": {**self._client_view(client), "secret": client.secret, "user_id": user["id"]}}, 201)

    def _create_token(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        """The OAuth Tokens API: an access token for a client, no refresh token, no expiry (admins only)."""
        if user["role"] != "admin":
            raise ApiError(403, {"error": "Forbidden", "description": "You do not have access to this page."})
        spec = self._body(request, "token")
        client = next((c for c in account.clients.values() if c.id == _int(spec.get("client_id"))), None)
        if client is None:
            raise _record_invalid("Client: is invalid", "client_id")
        scopes = [str(s) for s in spec.get("scopes") or ["read", "write"]]
        token = self.sandbox.issue_token(account, client.identifier, user["id"], scopes, with_refresh=False,
                                         expires=False)
        if account.created_token_lifetime:  # the doc says they don't expire; tests check the service copes if they do
            token.expires_at = token.created_at + account.created_token_lifetime
        view = self._token_view(account, token)
        return _json({"token": {**view, "full_token": token.access_token, "refresh_token": None}}, 201)

    def _list(self, request: Request, account: Account, key: str, records: list[dict[str, Any]]) -> Response:
        """Cursor pagination (page[size], page[after]) or, without page[...] parameters, offset pagination."""
        records = sorted(records, key=lambda r: str(r["id"]) if isinstance(r["id"], str) else f"{r['id']:020d}")
        base = f"{request.host_url.rstrip('/')}/{account.subdomain}{request.path[len(account.subdomain) + 1:]}"
        cursor_mode = any(k.startswith("page[") for k in request.args)
        if cursor_mode:
            size = min(MAX_PAGE, max(1, _int(request.args.get("page[size]")) or MAX_PAGE))
            after = request.args.get("page[after]")
            start = 0
            if after:
                try:
                    last = json.loads(base64.urlsafe_b64decode(after.encode()))["after"]
                except (ValueError, KeyError):
                    raise ApiError(400, {"error": "InvalidPaginationParameter",
                                         "description": "page[after] is not a valid cursor"}) from None
                start = next((i + 1 for i, r in enumerate(records) if str(r["id"]) == str(last)), len(records))
            chunk = records[start:start + size]
            has_more = start + size < len(records)
            after_cursor = (base64.urlsafe_b64encode(json.dumps({"after": chunk[-1]["id"]}).encode()).decode()
                            if chunk else None)
            before_cursor = (base64.urlsafe_b64encode(json.dumps({"before": chunk[0]["id"]}).encode()).decode()
                             if chunk else None)
            keep = [(k, v) for k, v in request.args.items(multi=True) if not k.startswith("page[")]
            next_link = f"{base}?{urlencode([*keep, ('page[after]', after_cursor), ('page[size]', size)])}" \
                if has_more else None
            return _json({key: chunk, "meta": {"has_more": has_more, "after_cursor": after_cursor,
                                                "before_cursor": before_cursor},
                          "links": {"prev": None, "next": next_link}})
        page = max(1, _int(request.args.get("page")) or 1)
        per_page = min(MAX_PAGE, max(1, _int(request.args.get("per_page")) or MAX_PAGE))
        chunk = records[(page - 1) * per_page: page * per_page]
        more = page * per_page < len(records)
        return _json({key: chunk, "count": len(records),
                      "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
                      "previous_page": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None})

    # -- webhooks and triggers -------------------------------------------------------------------------

    def webhooks(self, request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
        method = request.method
        if not rest and method == "GET":
            contains = (request.args.get("filter[name_contains]") or "").lower()
            found = [w for w in account.webhooks.values() if contains in w["name"].lower()]
            return self._list(request, account, "webhooks", found)
        if not rest and method == "POST":
            spec = self._body(request, "webhook")
            webhook = self._webhook_from(spec, None, user)
            account.webhooks[webhook["id"]] = webhook
            account.webhook_secrets[webhook["id"]] = base64.b64encode(secrets.token_bytes(32)).decode()
            return _json({"webhook": webhook}, 201)
        webhook = account.webhooks.get(rest[0]) if rest else None
        if webhook is None:
            raise _not_found()
        if rest[1:] == ["signing_secret"]:
            if method == "GET":
                return _json({"signing_secret": {"algorithm": "SHA256", "secret": account.webhook_secrets[webhook["id"]]}})
            if method == "POST":
                # Reset Webhook Signing Secret answers 201 with the new secret (developer.zendesk.com/api-reference/
                # webhooks/webhooks-api/webhooks/#reset-webhook-signing-secret).
                secret = account.webhook_secrets[webhook["id"]] = base64.b64encode(secrets.token_bytes(32)).decode()
                return _json({"signing_secret": {"algorithm": "SHA256", "secret": secret}}, 201)
        if rest[1:]:
            raise _not_found()
        if method == "GET":
            return _json({"webhook": webhook})
        if method in ("PUT", "PATCH"):
            spec = self._body(request, "webhook")
            merged = {**webhook, **spec} if method == "PATCH" else spec
            updated = self._webhook_from(merged, webhook, user)
            if updated["subscriptions"] != webhook["subscriptions"] and (
                    "conditional_ticket_events" in webhook["subscriptions"]) != (
                    "conditional_ticket_events" in updated["subscriptions"]):
                raise _record_invalid("A webhook cannot change between trigger-connected and event-subscribed",
                                      "subscriptions")
            account.webhooks[webhook["id"]] = updated
            return Response(status=204)
        if method == "DELETE":
            if any(a.get("field") == "notification_webhook" and a["value"][0] == webhook["id"]
                   for t in account.triggers.values() for a in t["actions"]):
                raise _record_invalid("Webhook is in use by a trigger")
            del account.webhooks[webhook["id"]]
            return Response(status=204)
        raise ApiError(405, {"error": "MethodNotAllowed"})

    def _webhook_from(self, spec: dict[str, Any], existing: dict[str, Any] | None, user: dict[str, Any]) -> dict[str, Any]:
        for name in ("name", "endpoint", "http_method", "request_format", "status", "subscriptions"):
            if not spec.get(name):
                raise _record_invalid(f"{name} is required", name)
        endpoint = urlsplit(str(spec["endpoint"]))
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise _record_invalid("endpoint must be a valid URL", "endpoint")
        if spec["http_method"] not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise _record_invalid("http_method is invalid", "http_method")
        if spec["request_format"] not in ("json", "xml", "form_encoded"):
            raise _record_invalid("request_format is invalid", "request_format")
        if spec["status"] not in ("active", "inactive"):
            raise _record_invalid("status is invalid", "status")
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

    def triggers(self, request: Request, account: Account, rest: list[str]) -> Response:
        method = request.method
        if not rest and method == "GET":
            found = list(account.triggers.values())
            if "active" in request.args:
                found = [t for t in found if t["active"] == (request.args["active"] == "true")]
            return self._list(request, account, "triggers", found)
        if not rest and method == "POST":
            spec = self._body(request, "trigger")
            problem = validate_trigger(account, spec)
            if problem:
                raise _record_invalid(problem)
            now = self.sandbox.clock.iso()
            trigger = self._trigger_from(spec, self.sandbox.next_id(), now, now, len(account.triggers) + 1)
            account.triggers[trigger["id"]] = trigger
            return _json({"trigger": trigger}, 201)
        trigger = account.triggers.get(_int(rest[0]) or -1) if len(rest) == 1 else None
        if trigger is None:
            raise _not_found()
        if method == "GET":
            return _json({"trigger": trigger})
        if method == "PUT":
            spec = {**trigger, **self._body(request, "trigger")}
            problem = validate_trigger(account, spec)
            if problem:
                raise _record_invalid(problem)
            updated = self._trigger_from(spec, trigger["id"], trigger["created_at"], self.sandbox.clock.iso(),
                                         trigger["position"])
            account.triggers[trigger["id"]] = updated
            return _json({"trigger": updated})
        if method == "DELETE":
            del account.triggers[trigger["id"]]
            return Response(status=204)
        raise ApiError(405, {"error": "MethodNotAllowed"})

    @staticmethod
    def _trigger_from(spec: dict[str, Any], trigger_id: int, created: str, updated: str, position: int) -> dict[str, Any]:
        conditions = spec["conditions"]
        return {
            "id": trigger_id, "title": spec["title"], "active": spec.get("active", True),
            "description": spec.get("description"), "position": spec.get("position", position),
            "conditions": {"all": list(conditions.get("all") or []), "any": list(conditions.get("any") or [])},
            "actions": list(spec["actions"]), "created_at": created, "updated_at": updated,
        }

    # -- tickets ---------------------------------------------------------------------------------------

    def tickets(self, request: Request, account: Account, user: dict[str, Any], rest: list[str]) -> Response:
        method = request.method
        if not rest and method == "POST":
            ticket = self.create_ticket(account, self._body(request, "ticket"), user["id"], channel="api")
            return _json({"ticket": ticket}, 201)
        if rest == ["show_many"] and method == "GET":
            ids = [_int(i) for i in (request.args.get("ids") or "").split(",") if i.strip()]
            if len(ids) > 100:
                raise ApiError(400, {"error": "TooManyValues", "description": "ids: too many values (max 100)"})
            return _json({"tickets": [account.tickets[i] for i in ids if i in account.tickets]})
        if rest == ["update_many"] and method == "PUT":
            return self.update_many(request, account, user)
        ticket = account.tickets.get(_int(rest[0]) or -1) if len(rest) == 1 else None
        if ticket is None:
            raise _not_found()
        if method == "GET":
            return _json({"ticket": ticket})
        if method == "PUT":
            retry = account.update_window.take(self.sandbox.clock.now())
            if retry is not None:
                raise ApiError(429, "Rate limit for ticket updates exceeded, please wait before updating this ticket "
                                    "again", {"Retry-After": str(int(retry + 0.999)),
                                              "X-Rate-Limit": str(account.update_window.limit),
                                              "X-Rate-Limit-Remaining": "0"})
            changes = self._body(request, "ticket")
            updated = self.update_ticket(account, ticket, changes, user["id"])
            return _json({"ticket": updated, "audit": {"ticket_id": updated["id"], "author_id": user["id"]}})
        raise ApiError(405, {"error": "MethodNotAllowed"})

    def create_ticket(self, account: Account, spec: dict[str, Any], author_id: int, *, channel: str) -> dict[str, Any]:
        """Create a ticket (API or the sandbox's page) and run the triggers on it."""
        group_id = _int(spec.get("group_id"))
        if group_id is not None and group_id not in account.groups:
            raise _record_invalid("Group: is invalid", "group_id")
        assignee_id = _int(spec.get("assignee_id"))
        if assignee_id is not None:
            self._check_assignee(account, assignee_id, group_id)
        status = spec.get("status") or ("open" if assignee_id else "new")
        if status not in TICKET_STATUSES:
            raise _record_invalid("Status: is invalid", "status")
        now = self.sandbox.clock.iso()
        ticket_id = max(account.tickets, default=0) + 1
        comment = spec.get("comment") or {}
        ticket = {
            "id": ticket_id, "url": "", "subject": spec.get("subject") or "(no subject)",
            "description": comment.get("body") or spec.get("description") or "",
            "status": status, "priority": spec.get("priority"), "type": spec.get("type"),
            "requester_id": _int(spec.get("requester_id")) or author_id, "submitter_id": author_id,
            "assignee_id": assignee_id, "group_id": group_id, "brand_id": 360000000001,
            "tags": sorted(set(spec.get("tags") or [])), "created_at": now, "updated_at": now,
            "via": {"channel": channel}, "_created_epoch": self.sandbox.clock.now(),
        }
        account.tickets[ticket_id] = ticket
        self.dispatcher.ticket_changed(account, ticket, "Create")
        return self._public(ticket)

    def update_ticket(self, account: Account, ticket: dict[str, Any], changes: dict[str, Any],
                      author_id: int) -> dict[str, Any]:
        """PUT semantics: safe_update with updated_stamp (409), validation (422), triggers on success."""
        if changes.get("safe_update") and changes.get("updated_stamp") != ticket["updated_at"]:
            raise ApiError(409, {"error": "UpdateConflict",
                                 "description": "Safe Update prevented the update due to outdated ticket data. "
                                                "Please fetch the latest ticket data and try again."})
        if ticket["status"] == "closed":
            raise _record_invalid("Status: closed prevents ticket update", "status")
        group_id = _int(changes["group_id"]) if "group_id" in changes else ticket["group_id"]
        if group_id is not None and group_id not in account.groups:
            raise _record_invalid("Group: is invalid", "group_id")
        if "assignee_id" in changes and changes["assignee_id"] is not None:
            assignee_id = _int(changes["assignee_id"])
            self._check_assignee(account, assignee_id, group_id)
            if group_id is None:
                group_id = account.users[assignee_id]["default_group_id"]
            ticket["assignee_id"] = assignee_id
            if ticket["status"] == "new" and "status" not in changes:
                ticket["status"] = "open"
        elif "assignee_id" in changes:
            ticket["assignee_id"] = None
        ticket["group_id"] = group_id
        if "status" in changes:
            if changes["status"] not in TICKET_STATUSES:
                raise _record_invalid("Status: is invalid", "status")
            ticket["status"] = changes["status"]
        if "tags" in changes:
            ticket["tags"] = sorted(set(changes["tags"] or []))
        ticket["updated_at"] = self.sandbox.clock.iso()
        self.dispatcher.ticket_changed(account, ticket, "Change")
        return self._public(ticket)

    def _check_assignee(self, account: Account, assignee_id: int | None, group_id: int | None) -> None:
        # 422 RecordInvalid with `details.assignee`, as captured from Zendesk (facetoe/zenpy issue #628). A light
        # agent, chat-only agent or contributor "cannot be assigned tickets" (support.zendesk.com/hc/en-us/
        # articles/4408821536794: reassignment skips "light agents and agents lacking permissions required to be
        # assigned the tickets"), even in their own group.
        if assignee_id is None or not account.eligible_assignee(assignee_id):
            raise _record_invalid("Assignee: is invalid", "assignee", "InvalidValue")
        if group_id is not None and not account.member_of(assignee_id, group_id):
            raise _record_invalid("Assignee: is not a member of the group", "assignee")

    def update_many(self, request: Request, account: Account, user: dict[str, Any]) -> Response:
        body = request.get_json(silent=True)
        updates = body.get("tickets") if isinstance(body, dict) else None
        if not isinstance(updates, list) or not updates:
            raise ApiError(400, {"error": "InvalidValue", "description": "tickets: an array of tickets is required"})
        if len(updates) > 100:
            raise ApiError(400, {"error": "TooManyValues", "description": "tickets: too many values (max 100)"})
        in_flight = sum(1 for j in account.jobs.values() if j["status"] in ("queued", "working"))
        if in_flight >= 30:
            raise ApiError(429, {"error": "TooManyJobs", "description": "Too many jobs in flight"}, {"Retry-After": "10"})
        job_id = "V3-" + secrets.token_hex(16)
        job = {"id": job_id, "url": f"{request.host_url}{account.subdomain}/api/v2/job_statuses/{job_id}.json",
               "total": len(updates), "progress": 0, "status": "queued", "message": None, "results": None}
        account.jobs[job_id] = job
        threading.Thread(target=self._run_job, args=(account, job, updates, user["id"]), daemon=True).start()
        return _json({"job_status": dict(job)})

    def _run_job(self, account: Account, job: dict[str, Any], updates: list[dict[str, Any]], author_id: int) -> None:
        results = []
        with self.sandbox.lock:
            job["status"] = "working"
            for spec in updates:
                ticket = account.tickets.get(_int(spec.get("id")) or -1)
                try:
                    if ticket is None:
                        raise _not_found()
                    self.update_ticket(account, ticket, {k: v for k, v in spec.items() if k != "id"}, author_id)
                    results.append({"action": "update", "id": ticket["id"], "status": "Updated", "success": True})
                except ApiError as exc:
                    detail = exc.body if isinstance(exc.body, dict) else {"description": exc.body}
                    results.append({"action": "update", "id": spec.get("id"), "success": False,
                                    "status": "Failed", "error": detail.get("error"),
                                    "details": detail.get("description")})
                job["progress"] = len(results)
            job.update(status="completed", results=results,
                       message=f"Completed at {self.sandbox.clock.iso()}")

    def search(self, request: Request, account: Account) -> Response:
        """GET /api/v2/search: offset pagination only, at most 100 results a page and 1,000 a query.

        Zendesk: "The Search API returns up to 1,000 results per query, with a maximum of 100 results per page.
        [...] If you request a page past the limit (page=11 at 100 results per page), a 422 Insufficient Resource
        Error is returned." `count` is the real number of matches. `sort_by` (created_at, updated_at) with
        `sort_order` (default desc); without it the order is relevance (here: by id). New tickets take a while to
        be indexed (`search_lag`). Source: developer.zendesk.com/api-reference/ticketing/ticket-management/search/
        (#results-limit, "List Search Results" parameters).
        """
        query = request.args.get("query", "")
        page, per_page = (_int(request.args.get(name)) for name in ("page", "per_page"))
        for name, value in (("page", page), ("per_page", per_page)):
            if request.args.get(name) is not None and value is None:
                # The answer Zendesk gives a non-integer page (community post 5981990015514).
                raise ApiError(400, {"error": {"title": "Invalid attribute", "message": (
                    f"You passed an invalid value for the {name} attribute. Invalid parameter: {name} must be an "
                    "integer from api/v2/search/index")}})
        page, per_page = max(1, page or 1), min(MAX_PAGE, max(1, per_page or MAX_PAGE))
        if page * per_page > SEARCH_LIMIT:
            # The body Zendesk answers past the limit (captured in several clients' issue threads).
            raise ApiError(422, {"error": "invalid", "description": "Invalid search: Requested response size was "
                                                                    "greater than Search Response Limits"})
        now = self.sandbox.clock.now()
        tickets = [t for t in account.tickets.values() if t["_created_epoch"] <= now - account.search_lag]
        for term in query.split():
            tickets = _search_filter(term, tickets)
            if tickets is None:
                raise ApiError(400, {"error": "InvalidSearch", "description": f"Unsupported search term {term!r}"})
        tickets.sort(key=lambda t: t["id"])
        sort_by = request.args.get("sort_by")
        if sort_by in ("created_at", "updated_at"):
            tickets.sort(key=lambda t: t[sort_by], reverse=request.args.get("sort_order", "desc") != "asc")
        chunk = tickets[(page - 1) * per_page: page * per_page]
        base = f"{request.host_url.rstrip('/')}/{account.subdomain}/api/v2/search.json"
        keep = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page")]

        def link(number: int) -> str:
            return f"{base}?{urlencode([*keep, ('page', number), ('per_page', per_page)])}"

        # next_page whenever more results match, even past the 1,000 that can be read: Zendesk's docs do not say
        # it stops there, so a client must stop by itself (the strict reading).
        return _json({"results": [{**self._public(t), "result_type": "ticket"} for t in chunk],
                      "count": len(tickets), "next_page": link(page + 1) if page * per_page < len(tickets) else None,
                      "previous_page": link(page - 1) if page > 1 else None, "facets": None})

    @staticmethod
    def _public(ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if not k.startswith("_")}

    @staticmethod
    def _body(request: Request, key: str) -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise ApiError(400, {"error": "InvalidValue", "description": f"the body must be {{\"{key}\": {{...}}}}"})
        return body[key]

    # -- pages -----------------------------------------------------------------------------------------

    def index(self) -> Response:
        with self.sandbox.lock:
            links = "".join(f'<li><a href="/{s}/">{escape(s)}</a></li>' for s in self.sandbox.accounts)
        return _page("Accounts", f"<ul>{links}</ul>")

    def account_page(self, account: Account) -> Response:
        with self.sandbox.lock:
            names = {u["id"]: u["name"] for u in account.users.values()}
            groups = {g["id"]: g["name"] for g in account.groups.values()}
            rows = "".join(
                f"<tr><td>#{t['id']}</td><td>{escape(t['subject'])}</td><td>{escape(groups.get(t['group_id'], '-'))}</td>"
                f"<td>{escape(t['status'])}</td><td>{escape(names.get(t['assignee_id'], 'unassigned'))}</td></tr>"
                for t in sorted(account.tickets.values(), key=lambda t: -t["id"])
            )
        body = (f'<p><a href="/{account.subdomain}/tickets/new">New ticket</a></p>'
                f"<table><tr><th>Ticket</th><th>Subject</th><th>Group</th><th>Status</th><th>Assignee</th></tr>"
                f"{rows}</table>")
        return _page(f"{account.subdomain} tickets", body)

    def new_ticket_page(self, request: Request, account: Account) -> Response:
        if request.method == "POST":
            with self.sandbox.lock:
                spec = {"subject": request.form.get("subject"), "comment": {"body": request.form.get("body", "")},
                        "group_id": request.form.get("group_id") or None}
                self.create_ticket(account, spec, account.signed_in_user_id or 0, channel="web")
            return Response(status=303, headers={"Location": f"/{account.subdomain}/"})
        with self.sandbox.lock:
            options = "".join(f'<option value="{g["id"]}">{escape(g["name"])}</option>'
                              for g in account.groups.values() if not g["deleted"])
        body = ("<form method=post><p><label>Subject <input name=subject required></label></p>"
                f"<p><label>Group <select name=group_id><option value=''>(none)</option>{options}</select></label></p>"
                "<p><label>Description<br><textarea name=body rows=4 cols=50></textarea></label></p>"
                "<button>Submit</button></form>")
        return _page("New ticket", body)

    # -- controls (tests and demo only) ------------------------------------------------------------------

    def control(self, request: Request, parts: list[str]) -> Response:
        body = request.get_json(silent=True) or {}
        sandbox = self.sandbox
        with sandbox.lock:
            match parts:
                case ["health"]:
                    return _json({"ok": True})
                case ["clock"] if request.method == "POST":
                    sandbox.clock.offset += float(body.get("advance", 0))
                    return _json({"now": sandbox.clock.iso()})
                case ["accounts"] if request.method == "POST":
                    try:
                        account = sandbox.create_account(str(body["subdomain"]), seed=body.get("seed", "demo"))
                    except (KeyError, ValueError) as exc:
                        raise ApiError(400, {"error": str(exc)}) from None
                    return _json(self._summary(account), 201)
                case ["accounts", sub, *rest]:
                    account = sandbox.accounts.get(sub)
                    if account is None:
                        raise _not_found()
                    return self._account_control(request, account, rest, body)
        raise _not_found()

    def _account_control(self, request: Request, account: Account, rest: list[str], body: dict[str, Any]) -> Response:
        match rest:
            case [] if request.method == "GET":
                return _json(self._summary(account))
            case ["faults"] if request.method == "POST":
                account.faults.append(Fault(method=body.get("method", "*"), path_prefix=body.get("path", "/api/v2/"),
                                            status=body.get("status"), count=int(body.get("count", 1)),
                                            delay=float(body.get("delay", 0)), retry_after=body.get("retry_after")))
                return _json({"faults": len(account.faults)}, 201)
            case ["delivery-faults"] if request.method == "POST":
                for key in ("drop", "duplicate"):
                    account.delivery_faults[key] += int(body.get(key, 0))
                return _json(account.delivery_faults)
            case ["deliveries"] if request.method == "GET":
                return _json({"deliveries": account.deliveries})
            case ["requests"] if request.method == "GET":
                return _json({"requests": account.request_log})
            case ["token-requests"] if request.method == "GET":
                return _json({"token_requests": account.token_log})
            case ["expire-tokens"] if request.method == "POST":
                return _json({"expired": self.sandbox.expire_access_tokens(account)})
            case ["api-tokens"] if request.method == "POST":
                # Admin Center's "add API token", for tests and the demo of the migration.
                user_id = int(body["user_id"])
                if user_id not in account.users:
                    raise _not_found()
                token = secrets.token_hex(20)
                account.api_tokens[token] = user_id
                return _json({"api_token": token, "email": account.users[user_id]["email"]}, 201)
            case ["session"] if request.method == "POST":
                account.signed_in_user_id = int(body["user_id"])
                return _json({"signed_in_user_id": account.signed_in_user_id})
            case ["limits"] if request.method == "POST":
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
                return _json({"account": account.account_window.limit, "ticket_updates": account.update_window.limit})
        raise _not_found()

    @staticmethod
    def _summary(account: Account) -> dict[str, Any]:
        return {
            "subdomain": account.subdomain, "id": account.id,
            "users": list(account.users.values()), "groups": list(account.groups.values()),
            "group_memberships": list(account.memberships.values()),
            "tickets": [{k: v for k, v in t.items() if not k.startswith("_")} for t in account.tickets.values()],
            "webhooks": list(account.webhooks.values()), "triggers": list(account.triggers.values()),
            "oauth_tokens": len(account.tokens),
        }


ACCESS_LIFETIME_BOUNDS = (300, 172_800)
REFRESH_LIFETIME_BOUNDS = (604_800, 7_776_000)


def _check_lifetimes(data: dict[str, Any]) -> None:
    """The token endpoint's lifetime parameters (developer.zendesk.com/api-reference/ticketing/oauth/
    grant_type_tokens/): `expires_in` "Must be more than 300 seconds (5 minutes) and less than 172,800 seconds
    (2 days), or less than refresh_token_expires_in"; `refresh_token_expires_in` "Must be more than 604,800
    seconds (7 days) or expires_in (if given), and less than 7,776,000 seconds (90 days)". The bounds themselves
    are the minimum and maximum of support.zendesk.com/hc/en-us/articles/10212201463962, so they are allowed."""
    access, refresh = data.get("expires_in"), data.get("refresh_token_expires_in")
    for name, value, (low, high) in (("expires_in", access, ACCESS_LIFETIME_BOUNDS),
                                     ("refresh_token_expires_in", refresh, REFRESH_LIFETIME_BOUNDS)):
        if value is not None and (_int(value) is None or not low <= _int(value) <= high):
            raise ApiError(400, {"error": "invalid_request",
                                 "error_description": f"{name} must be between {low} and {high} seconds"})
    if access is not None and refresh is not None and _int(access) >= _int(refresh):
        raise ApiError(400, {"error": "invalid_request",
                             "error_description": "expires_in must be less than refresh_token_expires_in"})


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _search_filter(term: str, tickets: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """One term of the ticket search syntax the service uses (type, status, assignee, group, created)."""
    order = ["new", "open", "pending", "hold", "solved", "closed"]
    for op in ("<=", ">=", "<", ">", ":"):
        key, sep, value = term.partition(op)
        if sep:
            break
    else:
        return None
    if key == "type":
        return tickets if value == "ticket" else []
    if key == "status" and value in order:
        rank = order.index(value)
        compare = {"<": lambda r: r < rank, ">": lambda r: r > rank, "<=": lambda r: r <= rank,
                   ">=": lambda r: r >= rank, ":": lambda r: r == rank}[op]
        return [t for t in tickets if compare(order.index(t["status"]))]
    if key == "assignee" and op == ":":
        return [t for t in tickets if (t["assignee_id"] is None if value == "none" else str(t["assignee_id"]) == value)]
    if key == "group" and op == ":":
        return [t for t in tickets if (t["group_id"] is None if value == "none" else str(t["group_id"]) == value)]
    if key == "created" and op in ("<", ">"):
        return [t for t in tickets if (t["created_at"] < value if op == "<" else t["created_at"] > value)]
    return None


class SandboxServer:
    """The sandbox on a loopback port, served by threads; `start()` returns once it accepts connections."""

    def __init__(self, port: int = 0, *, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, auto_approve: bool = False,
                 demo_account: bool = True) -> None:
        self.sandbox = Sandbox(client_id=client_id, client_secret=client_secret, auto_approve=auto_approve)
        if demo_account:
            self.sandbox.create_account(DEMO_SUBDOMAIN)
        self.app = SandboxApp(self.sandbox)
        self._server = LoopbackServer(self.app, port, name="zendesk-sandbox")
        self.port = self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def url_template(self) -> str:
        return f"{self.url}/{{subdomain}}"

    def start(self) -> SandboxServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self.app.dispatcher.shutdown()
        self._server.stop()
