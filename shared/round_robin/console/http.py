"""What the console's route handlers share: the session cookie, form bodies, CSRF checks, and HTML responses
with the security headers. No route logic here: functions/admin_console/app.py maps requests to pages."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from round_robin.console.layout import STYLE_HASH
from round_robin.console.sessions import SESSION_LIFETIME, Session, SessionStore
from round_robin.errors import RoundRobinError

# `__Host-`: the browser keeps it only when Secure, Path=/ and without Domain, so no subdomain can set or read it
# (RFC 6265bis section 4.1.3.2). Browsers treat http://127.0.0.1 as a secure context and accept it there too.
SESSION_COOKIE = "__Host-rr_session"
SIGN_IN_COOKIE = "__Host-rr_signin"  # binds a sign-in to the browser that started it (console/signin.py)
SIGN_IN_COOKIE_LIFETIME = 600  # a sign-in state's lifetime (connect/states.py)
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200

# No script at all; the one inline stylesheet by its hash; never framed (clickjacking); forms post to us only
# or to the sign-in redirect's target (form-action also applies to redirects, so it is not restricted here).
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP Level 2
}


class SignInRequiredError(RoundRobinError):
    """No live session: the request is sent to the sign-in page."""


class CsrfError(RoundRobinError):
    """A state-changing request without this session's CSRF token."""


class FormError(RoundRobinError):
    """A form body that is not a urlencoded form the console can read."""


class Form:
    """An `application/x-www-form-urlencoded` body: the last value of a field, or all of them."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's last value, or `default` when absent."""
        values = self._fields.get(name)
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes), in order."""
        return list(self._fields.get(name, []))

    def __contains__(self, name: str) -> bool:
        return name in self._fields


def parse_form(body: str | None, *, base64_encoded: bool = False, content_type: str | None = None) -> Form:
    """Parse a urlencoded form body; raise FormError for another content type, a too large or malformed body."""
    if content_type and content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise FormError("the form must be sent as application/x-www-form-urlencoded")
    raw = body or ""
    if base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormError("the form is not readable text") from exc
    if len(raw) > MAX_FORM_BYTES:
        raise FormError("the form is too large")
    try:
        fields = parse_qs(raw, keep_blank_values=True, strict_parsing=False, errors="strict",
                          max_num_fields=MAX_FORM_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormError("the form could not be read") from exc
    return Form(fields)


def cookie_value(cookies: Iterable[str] | None, wanted: str) -> str | None:
    """A cookie's value among a request's cookies (payload 2.0 `cookies`: `name=value` strings)."""
    for cookie in cookies or ():
        name, _, value = cookie.partition("=")
        if name.strip() == wanted:
            return value.strip()
    return None


def session_id_from(cookies: Iterable[str] | None) -> str | None:
    """The session cookie's value among a request's cookies."""
    return cookie_value(cookies, SESSION_COOKIE)


def require_session(store: SessionStore, cookies: Iterable[str] | None, now: float) -> Session:
    """The request's live session; raise SignInRequiredError when there is none or it expired."""
    session = store.get(session_id_from(cookies), now)
    if session is None:
        raise SignInRequiredError("sign in to continue")
    return session


def check_csrf(form: Form, session: Session) -> None:
    """Raise CsrfError unless the form carries this session's CSRF token (constant-time comparison)."""
    token = form.get("csrf_token") or ""
    if not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise CsrfError("this form has expired or did not come from this page")


def session_cookie(session_id: str) -> Cookie:
    """The Set-Cookie of a new session: HttpOnly, Secure, SameSite=Lax, Path=/, for the session's lifetime."""
    return Cookie(name=SESSION_COOKIE, value=session_id, path="/", secure=True, http_only=True,
                  max_age=SESSION_LIFETIME, same_site=SameSite.LAX_MODE)


def cleared_cookie(name: str = SESSION_COOKIE) -> Cookie:
    """The Set-Cookie that removes a cookie (the session at sign-out, the sign-in binding once used)."""
    return Cookie(name=name, value="", path="/", secure=True, http_only=True, max_age=0,
                  same_site=SameSite.LAX_MODE)


def sign_in_cookie(browser: str) -> Cookie:
    """The Set-Cookie of a sign-in's browser binding: sent back on Zendesk's top-level redirect (Lax)."""
    return Cookie(name=SIGN_IN_COOKIE, value=browser, path="/", secure=True, http_only=True,
                  max_age=SIGN_IN_COOKIE_LIFETIME, same_site=SameSite.LAX_MODE)


def html_response(status: int, document: str, *, cookies: list[Cookie] | None = None) -> Response:
    """An HTML page with the console's security headers."""
    return Response(status_code=status, body=document, headers=dict(HEADERS), cookies=cookies or [])


def csv_response(text: str, filename: str) -> Response:
    """A CSV download (an attachment) with the console's security headers; `filename` is ASCII without quotes."""
    headers = dict(HEADERS)
    headers.update({"Content-Type": "text/csv; charset=utf-8",
                    "Content-Disposition": f'attachment; filename="{filename}"'})
    return Response(status_code=200, body=text, headers=headers)


def see_other(location: str, *, cookies: list[Cookie] | None = None) -> Response:
    """A 303 redirect (after a POST, or to sign in), never cached, never leaking the URL as a referrer."""
    return Response(status_code=303, body="", cookies=cookies or [],
                    headers={"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
