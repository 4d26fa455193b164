"""Small HTML pieces the Agents, Assignments and Health pages share: times, tables, links, notices. Everything that
comes from Zendesk or a user goes through layout.esc (the standard library's html.escape, quotes included)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

from round_robin.console.layout import esc

__all__ = ["esc", "hidden", "href", "message", "table", "when"]


def when(epoch: float | None) -> str:
    """A time as `YYYY-MM-DD HH:MM UTC`, or "-"."""
    if not epoch:
        return "-"
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M UTC")


def href(path: str, query: Mapping[str, object]) -> str:
    """A link to `path` with the non-empty parameters of `query`, escaped for an attribute."""
    kept = {k: str(v) for k, v in query.items() if v not in (None, "")}
    return esc(f"{path}?{urlencode(kept)}" if kept else path)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "Nothing to show.") -> str:
    """A table whose cells are HTML already (escape what goes in)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def message(text: str | None, kind: str) -> str:
    """A notice ("notice") or an error ("error") above a page's content; "" when there is none."""
    if not text:
        return ""
    role = ' role="alert"' if kind == "error" else ' role="status"'
    return f'<p class="{esc(kind)}"{role}>{esc(text)}</p>'


def hidden(fields: Mapping[str, object]) -> str:
    """Hidden form inputs (the CSRF token, the agent id ...)."""
    return "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())
