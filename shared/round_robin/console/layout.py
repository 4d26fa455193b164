"""The console's page frame: one HTML document with the navigation, the stylesheet and the sign-out form.

The stylesheet is inline and allowed by its SHA-256 in the Content-Security-Policy (http.py), so a page needs no
second request and no inline script is ever allowed. Style elements only: a `style="..."` attribute is refused by
that policy, so pages use the classes below.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

STYLE = (
    ":root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0969da;--ok:#1a7f37;--bad:#cf222e;"
    "--warn:#9a6700}"
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:var(--fg);line-height:1.45}"
    "header{background:#24292f;color:#fff;padding:.6rem 1.5rem;display:flex;align-items:center;gap:1.5rem;"
    "flex-wrap:wrap}"
    "header .brand{font-weight:600}header .account{color:#d0d7de;font-size:.9rem}"
    "header nav{display:flex;gap:1rem;flex:1}header a{color:#fff;text-decoration:none;padding:.2rem 0}"
    "header a.active{border-bottom:2px solid #fff}"
    "header form{margin:0}header button{background:transparent;color:#fff;border:1px solid #8c959f;"
    "border-radius:6px;padding:.2rem .7rem;cursor:pointer}"
    "main{max-width:72rem;margin:1.5rem auto;padding:0 1.5rem}"
    "h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.8rem 0 .6rem}"
    "a{color:var(--accent)}"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0}"
    "th,td{padding:.4rem .7rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}"
    "th{background:var(--bg);font-weight:600}"
    "table.facts th{width:16rem;background:none;font-weight:500;color:var(--muted)}"
    ".muted{color:var(--muted)}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}"
    ".notice,.error,.warning{border-radius:6px;padding:.7rem 1rem;margin:1rem 0;border:1px solid}"
    ".notice{background:#dafbe1;border-color:#aceebb}.error{background:#ffebe9;border-color:#ffcecb}"
    ".warning{background:#fff8c5;border-color:#eac54f}"
    "form.inline{display:inline}"
    "fieldset{border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}"
    "label{display:inline-block;margin:.2rem 1rem .2rem 0}"
    "input[type=text],input[type=number],input[type=date],select{padding:.3rem .5rem;border:1px solid var(--line);"
    "border-radius:6px;font:inherit}"
    "input[type=number]{width:7rem}"
    "button,.button{display:inline-block;background:var(--accent);color:#fff;border:0;border-radius:6px;"
    "padding:.4rem .9rem;font:inherit;cursor:pointer;text-decoration:none}"
    "button.secondary,.button.secondary{background:#fff;color:var(--fg);border:1px solid var(--line)}"
    ".actions{display:flex;gap:.7rem;flex-wrap:wrap;align-items:center;margin:.6rem 0}"
    ".dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;background:var(--muted)}"
    ".dot.ok{background:var(--ok)}.dot.bad{background:var(--bad)}.dot.warn{background:var(--warn)}"
    ".pager{display:flex;gap:1rem;margin:1rem 0}"
    "footer{max-width:72rem;margin:2rem auto;padding:0 1.5rem;color:var(--muted);font-size:.85rem}"
)
# The policy's hash of the inline stylesheet (CSP Level 2 hash-source: base64 of the SHA-256 of the element's text).
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode("ascii")

NAV = (("settings", "Settings", "/admin/settings"), ("agents", "Agents", "/admin/agents"),
       ("assignments", "Assignments", "/admin/assignments"), ("health", "Health", "/admin/health"))


def esc(value: object) -> str:
    """HTML-escape any value (None is empty), quotes included, for text and attribute values alike."""
    return "" if value is None else escape(str(value), quote=True)


def page(title: str, body: str, *, account: str | None, csrf_token: str | None, active: str = "") -> str:
    """A whole console page: `body` is trusted HTML (escape what goes into it); `account` the signed-in subdomain
    (None: a page outside the console, without navigation); `active` the NAV entry to highlight."""
    header = '<header><span class=brand>Round Robin for Zendesk</span>'
    if account is not None:
        links = "".join(
            f'<a href="{href}"{" class=active" if key == active else ""}>{label}</a>' for key, label, href in NAV
        )
        header += f'<span class=account>{esc(account)}.zendesk.com</span><nav>{links}</nav>'
        if csrf_token is not None:
            header += (f'<form method=post action="/admin/signout"><input type=hidden name=csrf_token '
                       f'value="{esc(csrf_token)}"><button type=submit>Sign out</button></form>')
    header += "</header>"
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} - Round Robin for Zendesk</title><style>{STYLE}</style></head>"
        f"<body>{header}<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )
