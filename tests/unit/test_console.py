"""The console's pure parts: the page frame, escaping, forms, the session cookie and the CSRF check."""

import base64
import hashlib
import re

import pytest

from round_robin.console import settings_page
from round_robin.console.http import (
    CONTENT_SECURITY_POLICY,
    SESSION_COOKIE,
    CsrfError,
    FormError,
    check_csrf,
    parse_form,
    session_cookie,
    session_id_from,
)
from round_robin.console.layout import STYLE_HASH, esc, page
from round_robin.console.sessions import Session, csrf_token_for


def session(session_id: str = "s" * 43) -> Session:
    return Session("acme", 7, "Ada", csrf_token_for(session_id), 2_000_000_000)


def test_esc_escapes_markup_and_quotes_and_shows_none_as_empty():
    assert esc('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
    assert esc(None) == "" and esc(42) == "42"


def test_a_console_page_has_the_navigation_the_active_entry_and_the_sign_out_form():
    html = page("Agents <1>", "<p>body</p>", account="acme", csrf_token="tok\"en", active="agents")
    assert "<title>Agents &lt;1&gt; - Round Robin for Zendesk</title>" in html
    assert '<a href="/admin/agents" class=active>Agents</a>' in html
    assert all(f'href="/admin/{name}"' in html for name in ("settings", "agents", "assignments", "health"))
    assert re.search(r'<form method=post action="/admin/signout"><input type=hidden name=csrf_token '
                     r'value="tok&quot;en"><button type=submit>Sign out</button></form>', html)
    assert "<script" not in html


def test_a_page_outside_the_console_has_no_navigation():
    html = page("Sign in", "", account=None, csrf_token=None)
    assert "/admin/agents" not in html and "Sign out" not in html


def test_the_policy_allows_exactly_the_inline_stylesheet_and_no_script():
    html = page("x", "", account=None, csrf_token=None)
    style = html[html.index("<style>") + 7:html.index("</style>")]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert STYLE_HASH == f"sha256-{digest}" and f"style-src '{STYLE_HASH}'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY


def test_a_form_body_gives_last_and_all_values_and_keeps_blank_fields():
    form = parse_form("a=1&a=2&b=&c=x%20y", content_type="application/x-www-form-urlencoded; charset=UTF-8")
    assert form.get("a") == "2" and form.getlist("a") == ["1", "2"]
    assert form.get("b") == "" and form.get("c") == "x y" and form.get("d") is None and "b" in form
    encoded = base64.b64encode(b"csrf_token=abc").decode()
    assert parse_form(encoded, base64_encoded=True).get("csrf_token") == "abc"


@pytest.mark.parametrize(("body", "options", "reason"), [
    ("a=1", {"content_type": "application/json"}, "application/x-www-form-urlencoded"),
    ("a=%ff", {}, "could not be read"),
    ("a=" + "x" * 70_000, {}, "too large"),
    ("&".join(f"f{i}=1" for i in range(300)), {}, "could not be read"),
    ("not base64!", {"base64_encoded": True}, "not readable"),
])
def test_a_form_that_cannot_be_read_is_refused_with_the_reason(body, options, reason):
    with pytest.raises(FormError, match=reason):
        parse_form(body, **options)


def test_the_session_cookie_is_found_among_others():
    cookies = ["theme=dark", f"{SESSION_COOKIE}=abc", "other=1"]
    assert session_id_from(cookies) == "abc"
    assert session_id_from(["rr_session=abc"]) is None and session_id_from(None) is None


def test_the_session_cookie_is_host_only_secure_http_only_and_lax():
    text = session_cookie("abc").__str__()
    assert text.startswith(f"{SESSION_COOKIE}=abc;")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=28800"):
        assert attribute in text
    assert "Domain" not in text


def test_the_csrf_token_is_the_sessions_own():
    mine, theirs = session("a" * 43), session("b" * 43)
    assert mine.csrf_token != theirs.csrf_token and "a" * 43 not in mine.csrf_token
    check_csrf(parse_form(f"csrf_token={mine.csrf_token}"), mine)
    for body in ("", "csrf_token=", "csrf_token=wrong", f"csrf_token={theirs.csrf_token}"):
        with pytest.raises(CsrfError):
            check_csrf(parse_form(body), mine)


def test_times_read_as_dates_with_how_far_they_are():
    now = 1_700_000_000
    assert settings_page.when(now + 20, now) == "2023-11-14 22:13 UTC (just now)"
    assert settings_page.when(now + 3 * 86400, now).endswith("(in 3 days)")
    assert settings_page.when(now - 5 * 3600, now).endswith("(5 hours ago)")
    assert settings_page.when(None, now, "not yet") == "not yet"


def test_an_empty_cap_means_no_cap():
    form = parse_form("zendesk_status=off&ooo_app=off&reassign=off&open_cap=&daily_cap=none&counted_statuses=new"
                      "&waiting_alert_minutes=30&status_map=")
    given = settings_page.parse_switches(form)
    assert given["open_cap"] is None and given["daily_cap"] is None and given["status_map"]["online"] == "available"


def test_a_replayed_state_knows_whether_it_was_a_sign_in():
    from round_robin.connect.states import CONNECT, SIGN_IN, PendingAuthorization
    from round_robin.errors import StateReplayedError

    assert StateReplayedError("acme", 1.0, SIGN_IN).signs_in and not StateReplayedError("acme", 1.0).signs_in
    assert PendingAuthorization("acme", 0, 1, SIGN_IN).signs_in and not PendingAuthorization("acme", 0, 1).signs_in
    assert StateReplayedError("acme", 1.0).purpose == CONNECT
