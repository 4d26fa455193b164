"""The sandbox's OAuth authorization server: the authorization endpoint with its consent page, and the token
endpoint (authorization code with PKCE, rotating refresh tokens, requested lifetimes)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from round_robin_local.sandbox.answers import ApiError, json_answer, method_not_allowed, to_int
from round_robin_local.sandbox.model import CODE_LIFETIME, Account, AuthCode, Sandbox, Token
from round_robin_local.sandbox.pages import page

ACCESS_LIFETIME_BOUNDS = (300, 172_800)
REFRESH_LIFETIME_BOUNDS = (604_800, 7_776_000)


class OAuthServer:
    """`/<sub>/oauth/authorizations/new` and `/<sub>/oauth/tokens`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def authorize(self, request: Request, account: Account) -> Response:
        params = request.form if request.method == "POST" else request.args
        client = account.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None:
            return page("Invalid OAuth client", "<p>The client_id is not an OAuth client of this account.</p>", 400)
        if not _redirect_allowed(client.redirect_uris, redirect_uri):
            return page("Invalid redirect URL", "<p>The redirect_uri is not registered for this client.</p>", 400)
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
        # (developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/); see access.authorize_scope.
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
                return page("Not signed in", "<p>No such user in this account.</p>", 400)
            code = secrets.token_urlsafe(24)
            account.codes[code] = AuthCode(code, client.identifier, user_id, redirect_uri, scopes, challenge, method,
                                           self.sandbox.clock.now() + CODE_LIFETIME)
        return back(code=code)

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
        return page("Allow access?", body)

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
            raise method_not_allowed()
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
            if to_int(data.get("expires_in")) is not None and token.expires_at:
                answer["expires_in"] = int(token.expires_at - now)
            return json_answer(answer)

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
        return self._issue(account, client, code.user_id, code.scopes, data)

    def _grant_refresh(self, account: Account, client: str, data: dict[str, Any]) -> Token:
        old = account.refresh_tokens.get(str(data.get("refresh_token", "")))
        now = self.sandbox.clock.now()
        if old is None or old.client != client or (old.refresh_expires_at and old.refresh_expires_at < now):
            raise ApiError(400, {"error": "invalid_grant",
                                 "error_description": "The provided authorization grant is invalid, expired, "
                                                      "revoked, or was issued to another client."})
        # Rotation: the previous access AND refresh tokens are deleted.
        self.sandbox.revoke(account, old)
        return self._issue(account, client, old.user_id, old.scopes, data)

    def _issue(self, account: Account, client: str, user_id: int, scopes: list[str], data: dict[str, Any]) -> Token:
        return self.sandbox.issue_token(account, client, user_id, scopes,
                                        expires_in=to_int(data.get("expires_in")) or account.access_token_lifetime,
                                        refresh_expires_in=to_int(data.get("refresh_token_expires_in")))


def _redirect_allowed(registered: list[str], redirect_uri: str) -> bool:
    if registered:
        return redirect_uri in registered
    parts = urlsplit(redirect_uri)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _check_lifetimes(data: dict[str, Any]) -> None:
    """The token endpoint's lifetime parameters (developer.zendesk.com/api-reference/ticketing/oauth/
    grant_type_tokens/): `expires_in` "Must be more than 300 seconds (5 minutes) and less than 172,800 seconds
    (2 days), or less than refresh_token_expires_in"; `refresh_token_expires_in` "Must be more than 604,800
    seconds (7 days) or expires_in (if given), and less than 7,776,000 seconds (90 days)". The bounds themselves
    are the minimum and maximum of support.zendesk.com/hc/en-us/articles/10212201463962, so they are allowed."""
    access, refresh = data.get("expires_in"), data.get("refresh_token_expires_in")
    for name, value, (low, high) in (("expires_in", access, ACCESS_LIFETIME_BOUNDS),
                                     ("refresh_token_expires_in", refresh, REFRESH_LIFETIME_BOUNDS)):
        if value is not None and (to_int(value) is None or not low <= to_int(value) <= high):
            raise ApiError(400, {"error": "invalid_request",
                                 "error_description": f"{name} must be between {low} and {high} seconds"})
    if access is not None and refresh is not None and to_int(access) >= to_int(refresh):
        raise ApiError(400, {"error": "invalid_request",
                             "error_description": "expires_in must be less than refresh_token_expires_in"})
